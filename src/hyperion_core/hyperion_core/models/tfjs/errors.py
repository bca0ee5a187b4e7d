"""Errors of the TF.js importer; every message names the file it is about."""

from __future__ import annotations


class TfjsFormatError(ValueError):
    """A ``model.json`` or one of its weight shards cannot be read as a TF.js graph model."""


class UnsupportedOpError(TfjsFormatError):
    """The graph uses an op (or an op variant) that the importer does not translate."""

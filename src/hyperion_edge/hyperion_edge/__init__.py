"""Hyperion edge nodes."""

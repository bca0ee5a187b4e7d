"""Hyperion cloud node."""

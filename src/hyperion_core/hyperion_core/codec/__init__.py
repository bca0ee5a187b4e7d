"""codec stage of hyperion_core."""

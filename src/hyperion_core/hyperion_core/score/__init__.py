"""score stage of hyperion_core."""

"""models stage of hyperion_core."""

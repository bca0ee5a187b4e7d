"""link stage of hyperion_core."""

"""metrics stage of hyperion_core."""

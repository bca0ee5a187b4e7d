"""schedule stage of hyperion_core."""

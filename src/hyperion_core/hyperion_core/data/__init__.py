"""data stage of hyperion_core."""

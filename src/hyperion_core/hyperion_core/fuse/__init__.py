"""fuse stage of hyperion_core."""

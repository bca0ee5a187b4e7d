"""Hyperion edge nodes (the node runtime they share with the cloud: hyperion_runtime)."""

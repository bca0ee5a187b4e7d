"""Hyperion bringup: the `hyperion` command and the graph description shared with launch."""

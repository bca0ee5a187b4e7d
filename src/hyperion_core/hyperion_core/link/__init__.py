"""link stage of hyperion_core: traces, shaping (token bucket, netns) and the zenoh link.

Submodules are imported on demand so that trace/shaper users do not need zenoh installed.
"""

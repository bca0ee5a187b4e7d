"""ROS-free Hyperion: every per-frame decision, testable and benchmarkable without a graph.

Sub-packages follow the data flow: ``data`` (frames) -> ``score`` (importance, classes)
-> ``schedule`` (profilers, bandwidth, knapsack) -> ``codec`` (patch JPEG) -> ``link``
(traces, shaping) -> ``models`` (detectors) -> ``fuse`` (ensembling) -> ``metrics``.
"""

"""Offline evaluation of Hyperion and its baselines (``hyperion eval``, ``hyperion profile``).

Trace-driven simulation: accuracy comes from the real detectors on the actually encoded and
decoded frames (cached on disk by frame and configuration), network time from a bandwidth
trace, compute time from a device profile. See :mod:`.cli` and :mod:`.profile_cli`.
"""

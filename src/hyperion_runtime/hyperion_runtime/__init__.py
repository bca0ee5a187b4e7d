"""The node runtime shared by Hyperion's edge and cloud nodes.

Lifecycle base class and ``main`` (:mod:`~hyperion_runtime.node`), parameter tables
(:mod:`~hyperion_runtime.params`, :mod:`~hyperion_runtime.model_params`,
:mod:`~hyperion_runtime.link_params`), topic names and QoS (:mod:`~hyperion_runtime.qos`),
checks on inputs (:mod:`~hyperion_runtime.validation`), bounded workers
(:mod:`~hyperion_runtime.worker`), diagnostics (:mod:`~hyperion_runtime.diagnostics`) and
the message bridges (:mod:`~hyperion_runtime.image_bridge`,
:mod:`~hyperion_runtime.detection_bridge`). An edge host and a cloud host each install this
package; neither needs the other's nodes.
"""

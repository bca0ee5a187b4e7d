"""pool_worker: a cloud detector worker of the shared pool (``hyperion run cloud --workers N``).

Not a ROS node: it joins no ROS graph. It attaches to the pool's zenoh router
(:class:`hyperion_core.link.pool_worker.PoolWorker`) and answers each job as cloud_detector
answers a frame: the payload is a serialized ``EncodedFrame`` (what edge_link sends),
checked and decoded by :func:`hyperion_runtime.validation.decode_encoded_frame`, run
through the same registry "cloud" model with the same parameters (the ``cloud_detector``
section of ``config/cloud.yaml``, checked against its ranges), and answered with a
serialized ``CloudDetections`` whose stamps are this host's clock. A frame that fails its
checks gets no answer; its deadline passes at the pool and its edge answers alone.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from rclpy.serialization import deserialize_message, serialize_message

from hyperion_cloud.cloud_detector_node import PARAMS
from hyperion_core.link.pool_router import without_ros_args
from hyperion_core.link.pool_service import DEFAULT_ROOT
from hyperion_core.link.pool_worker import (
    Handler,
    PoolWorker,
    add_lease_argument,
    serve_until_signal,
    worker_config,
)
from hyperion_msgs.msg import CloudDetections, EncodedFrame
from hyperion_runtime.detection_bridge import to_detection_array
from hyperion_runtime.model_params import (
    DetectorForClasses,
    cloud_detector_spec,
    frame_classes,
)
from hyperion_runtime.node import ns_to_stamp
from hyperion_runtime.params import ParameterError
from hyperion_runtime.validation import CODEC, decode_encoded_frame


def detector_params(params_file: Path | None, overrides: list[str]) -> dict[str, Any]:
    """cloud_detector's parameters: defaults, then the params file's section, then
    ``name:=value`` overrides; each checked against its declared range.

    Raises:
        ParameterError: an unknown name or a value out of range (the message names both).
    """
    specs = {spec.name: spec for spec in PARAMS}
    values: dict[str, Any] = {name: spec.default for name, spec in specs.items()}
    if params_file is not None:
        document = yaml.safe_load(params_file.read_text()) or {}
        values.update(document.get("cloud_detector", {}).get("ros__parameters", {}))
    for item in overrides:
        name, sep, text = item.partition(":=")
        if not sep:
            raise ParameterError(f"override {item!r} is not NAME:=VALUE")
        values[name] = yaml.safe_load(text)
    for name, value in values.items():
        if name not in specs:
            raise ParameterError(f"unknown cloud_detector parameter {name!r}")
        specs[name].check(value)
    return values


def detect_handler(params: dict[str, Any]) -> Handler:
    """The job handler: serialized EncodedFrame in, serialized CloudDetections out."""
    models = DetectorForClasses(cloud_detector_spec(params))

    def handle(payload: bytes) -> bytes:
        received = ns_to_stamp(time.time_ns())
        msg = deserialize_message(payload, EncodedFrame)
        frame = decode_encoded_frame(msg, codec=CODEC,
                                     max_payload_bytes=params["max_payload_bytes"])
        # The edge's classes, as cloud_detector takes them: those this model knows.
        classes, _ = frame_classes(msg, params["classes"], models.known)
        if not classes:
            raise ValueError(f"frame {msg.sequence} asks for {list(msg.object_classes)}, "
                             "none of which this model knows")
        detector = models.detector(classes)
        decoded = ns_to_stamp(time.time_ns())
        if frame.shape[2] == 1:
            frame = frame.repeat(3, axis=2)
        found = detector.predict(frame)
        answer = CloudDetections(header=msg.header, sequence=msg.sequence,
                                 received_bytes=len(msg.payload),
                                 encoded_stamp=msg.encoded_stamp, received_stamp=received,
                                 decoded_stamp=decoded, inferred_stamp=ns_to_stamp(time.time_ns()))
        answer.detections = to_detection_array(header=msg.header, boxes=found.boxes,
                                               scores=found.scores, class_names=found.labels())
        return serialize_message(answer)

    return handle


def main(argv: list[str] | None = None) -> int:
    """Console entry: ``pool_worker --connect tls/router:7447 [--id ID] [-p name:=value]``."""
    ap = argparse.ArgumentParser(prog="pool_worker", description=__doc__.splitlines()[0])
    ap.add_argument("--connect", action="append", required=True, help="router endpoint")
    ap.add_argument("--id", default=f"{socket.gethostname()}-0",
                    help="worker id, unique in the pool (default <host>-0)")
    ap.add_argument("--root", default=DEFAULT_ROOT, help="pool key prefix")
    ap.add_argument("--params-file", type=Path, default=None,
                    help="ROS params file whose cloud_detector section applies")
    ap.add_argument("-p", "--param", action="append", default=[], metavar="NAME:=VALUE",
                    help="cloud_detector parameter override")
    ap.add_argument("--tls-ca", default=None, help="CA certificate, PEM path")
    ap.add_argument("--tls-cert", default=None, help="own certificate, PEM path")
    ap.add_argument("--tls-key", default=None, help="own private key, PEM path")
    add_lease_argument(ap)
    args = ap.parse_args(without_ros_args(sys.argv[1:] if argv is None else argv))
    try:
        params = detector_params(args.params_file, args.param)
        config = worker_config(args)
        handler = detect_handler(params)  # load the model before announcing the worker
    except (ParameterError, ValueError, OSError) as err:
        print(f"pool_worker: {err}", file=sys.stderr)
        return 2
    return serve_until_signal(lambda: PoolWorker(config=config, worker_id=args.id,
                                                 handler=handler, root=args.root))


if __name__ == "__main__":
    sys.exit(main())

"""Transport time of Hyperion's messages between two processes on this host.

One process publishes, another (started here, the same Python) receives; the time is
receive − publish on the shared clock, for each message kind the edge graph moves per
frame: a 3840x2160 bgr8 ``sensor_msgs/Image`` (what every image subscriber gets), an
``EncodedFrame`` of a typical offload payload, and a ``Detection2DArray`` of 800 boxes
(the cloud's answer for a 4K crowd). Each runs with the shared-memory profile the graphs
use (``config/fastdds_shm.xml``) and with Fast DDS's built-in transports, so the profile's
effect is measured in the same run. Reports medians and p90 in JSON.

    python benchmarks/transport.py --json reports/transport.json
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray

from hyperion.graph import graph_env
from hyperion.session import SpinningNode
from hyperion_msgs.msg import EncodedFrame
from hyperion_runtime import qos
from hyperion_runtime.detection_bridge import to_detection_array
from hyperion_runtime.image_bridge import array_to_image
from hyperion_runtime.node import ns_to_stamp

#: Message kinds: (ROS type, topic, the QoS of the real topic).
KINDS = {
    "image_4k": (Image, qos.IMAGE, qos.image_qos()),
    "encoded_800kB": (EncodedFrame, qos.ENCODED, qos.result_qos()),
    "detections_800": (Detection2DArray, qos.DETECTIONS, qos.resent_result_qos()),
}

#: The receiving process: prints one "latency_ns" line per message it takes.
RECEIVER = """
import sys, time, rclpy, rclpy.executors
from rclpy.node import Node
from hyperion_runtime.node import stamp_ns
from benchmarks.transport import KINDS
kind = sys.argv[1]
msg_type, topic, profile = KINDS[kind]
rclpy.init()
node = Node("transport_receiver")
def on_msg(msg):
    print(time.time_ns() - stamp_ns(msg.header.stamp), flush=True)
node.create_subscription(msg_type, topic, on_msg, profile)
try:
    rclpy.spin(node)
except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
    pass
"""


def make_message(kind: str) -> object:
    """One message of ``kind`` with real content sizes (stamp set at publishing)."""
    rng = np.random.default_rng(0)
    if kind == "image_4k":
        frame = rng.integers(0, 255, (2160, 3840, 3), np.uint8)
        return array_to_image(frame, header=Header(), encoding="bgr8")
    if kind == "encoded_800kB":
        msg = EncodedFrame()
        msg.payload = rng.integers(0, 255, 800_000, np.uint8).tobytes()
        return msg
    xy = rng.uniform(0, 3000, (800, 2))
    return to_detection_array(header=Header(), boxes=np.c_[xy, xy + 60],
                              scores=rng.uniform(0, 1, 800), class_names=["person"] * 800)


def measure(kind: str, *, count: int, domain: int) -> dict[str, float]:
    """Publish ``count`` messages of ``kind`` to a receiver process; latency statistics.

    Both ends use this process' Fast DDS profile (Fast DDS reads it once per process).
    """
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain)}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                         env.get("PYTHONPATH", "")])
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, kind], env=env,
                                stdout=subprocess.PIPE, text=True)
    msg_type, topic, profile = KINDS[kind]
    sender = SpinningNode("transport_sender", domain=domain)
    try:
        publisher = sender.node.create_publisher(msg_type, topic, profile)
        deadline = time.monotonic() + 60
        while publisher.get_subscription_count() < 1:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{kind}: the receiver never subscribed")
            time.sleep(0.05)
        time.sleep(1.0)  # let the receiver's side of the match complete too
        msg = make_message(kind)
        serialize_ms = timed_ms(lambda: serialize_message(msg))
        latencies = []
        for _ in range(count):
            msg.header.stamp = ns_to_stamp(time.time_ns())
            publisher.publish(msg)
            line = receiver.stdout.readline()
            if not line:
                raise RuntimeError(f"{kind}: the receiver exited")
            latencies.append(int(line) / 1e6)
            time.sleep(0.2)  # one message in flight at a time, as at the graph's rate
    finally:
        sender.close()
        receiver.send_signal(signal.SIGINT)
        receiver.wait(10)
    ordered = sorted(latencies)
    return {"median_ms": statistics.median(ordered),
            "p90_ms": ordered[int(0.9 * (len(ordered) - 1))],
            "serialize_ms": serialize_ms, "bytes": len(serialize_message(msg)),
            "messages": len(ordered)}


def timed_ms(call: object, runs: int = 5) -> float:
    """Median wall time of ``call()`` in ms."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def run_transport(shm: bool, *, count: int, domain: int) -> dict[str, dict[str, float]]:
    """Every kind measured in a child process whose environment selects the transports."""
    env = graph_env()
    if not shm:
        env.pop("FASTDDS_DEFAULT_PROFILES_FILE")
    out = subprocess.run([sys.executable, __file__, "--child", "--count", str(count),
                          "--domain", str(domain)], env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="messages per kind and transport")
    parser.add_argument("--domain", type=int, default=97, help="ROS domain id to use")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps({kind: measure(kind, count=args.count, domain=args.domain)
                          for kind in KINDS}))
        return 0
    results: dict[str, dict[str, dict[str, float]]] = {}
    for shm in (True, False):
        label = "shared_memory_profile" if shm else "builtin_transports"
        for kind, stats in run_transport(shm, count=args.count, domain=args.domain).items():
            results.setdefault(kind, {})[label] = stats
            print(f"{kind:16s} {label:22s} median {stats['median_ms']:8.2f} ms  "
                  f"p90 {stats['p90_ms']:8.2f} ms  serialise {stats['serialize_ms']:7.2f} ms  "
                  f"{stats['bytes'] / 1e6:6.2f} MB", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"count": args.count, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A user's ONNX detector through the real nodes: YOLO-layout graphs (v8, v5 with
objectness, NMS in the graph) in edge_detector, a DETR-layout graph (RT-DETR style: boxes +
logits) in cloud_detector, each started as a
process with ``backend:=onnx`` and ``model_path``, their boxes exactly the decoding's; and
mismatched files stopping each node at start-up with exit 2, naming the parameter, the
file, what was expected and what was found.

The graphs (``test/hyperion_core/models/onnx_graphs.py``) answer constant outputs, so the
frame's pixels do not matter and the expected boxes are known in closed form: a 128x64
frame letterboxed into the 64x64 input (scale 0.5, 16 px padding above and below).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

from hyperion.graph import executable, graph_env
from hyperion.session import SpinningNode
from hyperion_msgs.msg import CloudDetections, EncodedFrame
from hyperion_runtime import qos
from hyperion_runtime.image_bridge import array_to_image
from hyperion_runtime.node import ns_to_stamp

from .harness import domain_pair, wait_until

pytestmark = pytest.mark.ros

_ROOT = Path(__file__).resolve().parents[1]
_SPEC = importlib.util.spec_from_file_location(
    "onnx_graphs", _ROOT / "hyperion_core" / "models" / "onnx_graphs.py")
graphs = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(graphs)
_SPEC = importlib.util.spec_from_file_location(
    "hyperion_test_validation", _ROOT / "reliability" / "test_validation.py")
validation = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(validation)

NAMES = ["person", "car", "dog"]
#: Boxes 0 and 2 of the graphs, mapped from the 64x64 input back to the 128x64 frame
#: (and clipped to it).
EXPECTED = np.clip((graphs.BOXES[[0, 2]] - [0, 16, 0, 16]) * 2, 0, [128, 64, 128, 64])


class Probe(SpinningNode):
    """Publishes one frame to a detector and keeps what it answers."""

    def __init__(self, domain: int) -> None:
        super().__init__("onnx_probe", domain=domain)
        self.images = self.node.create_publisher(Image, qos.IMAGE, qos.image_qos())
        self.encoded = self.node.create_publisher(EncodedFrame, qos.CLOUD_ENCODED,
                                                  qos.result_qos())
        self.found: list[Detection2DArray] = []
        self.node.create_subscription(Detection2DArray, qos.EDGE_DETECTIONS,
                                      self.found.append, qos.resent_result_qos())
        self.node.create_subscription(CloudDetections, qos.CLOUD_ANSWERS,
                                      lambda m: self.found.append(m.detections),
                                      qos.result_qos())
        self.start()


def start(tmp_path: Path, package: str, node: str, domain: int, params: list[str]
          ) -> subprocess.Popen:
    log = (tmp_path / f"{node}.log").open("w")
    return subprocess.Popen(
        [str(executable(package, node)), "--ros-args", *[a for p in params for a in ("-p", p)]],
        env={**graph_env(), "ROS_DOMAIN_ID": str(domain)}, stdout=log,
        stderr=subprocess.STDOUT)


def boxes_of(array: Detection2DArray) -> tuple[np.ndarray, list[float], list[str]]:
    rows, scores, labels = [], [], []
    for d in array.detections:
        c, w, h = d.bbox.center.position, d.bbox.size_x, d.bbox.size_y
        rows.append([c.x - w / 2, c.y - h / 2, c.x + w / 2, c.y + h / 2])
        scores.append(d.results[0].hypothesis.score)
        labels.append(d.results[0].hypothesis.class_id)
    return np.array(rows).reshape(-1, 4), scores, labels


def run_detector(tmp_path: Path, package: str, node: str, params: list[str],
                 send: str) -> Detection2DArray:
    """Start ``node``, send it one 128x64 frame (``send``: image or encoded), return its
    answer."""
    domain, _ = domain_pair()
    proc = start(tmp_path, package, node, domain, params)
    probe = Probe(domain)
    frame = np.full((64, 128, 3), 90, np.uint8)
    try:
        publisher = probe.images if send == "image" else probe.encoded
        wait_until(lambda: publisher.get_subscription_count() >= 1 or proc.poll() is not None,
                   120, f"{node}\n{(tmp_path / f'{node}.log').read_text()}")
        assert proc.poll() is None, (tmp_path / f"{node}.log").read_text()
        stamp = ns_to_stamp(time.time_ns())
        if send == "image":
            header = Image().header
            header.stamp = stamp
            probe.images.publish(array_to_image(frame, header=header))
        else:
            msg = validation.encoded(128, 64)
            msg.header.stamp, msg.sequence = stamp, 1
            probe.encoded.publish(msg)
        wait_until(lambda: probe.found, 60,
                   f"an answer\n{(tmp_path / f'{node}.log').read_text()}")
    finally:
        probe.close()
        proc.terminate()
        proc.wait(10)
    return probe.found[0]


@pytest.mark.parametrize("make", [graphs.yolo_outputs, graphs.yolo_objectness_outputs,
                                  graphs.yolo_nms_outputs])
def test_yolo_layout_models_run_in_the_edge_detector(tmp_path, make):
    model = graphs.save_graph(tmp_path / "yolo.onnx", make())
    answer = run_detector(tmp_path, "hyperion_edge", "edge_detector", [
        "backend:=onnx", f"model_path:={model}", f"class_names:={NAMES}",
        "input_width:=64", "input_height:=64", "classes:=[person, dog]",
        "tile_columns:=1", "tile_rows:=1", "tile_scale:=1.0", "tile_overlap:=0.0",
        "score_threshold:=0.25"], send="image")
    boxes, scores, labels = boxes_of(answer)
    np.testing.assert_allclose(boxes, EXPECTED, atol=1e-3)
    np.testing.assert_allclose(scores, graphs.SCORES[[0, 2]], rtol=1e-6)
    assert labels == ["person", "dog"]


def test_detr_layout_model_with_a_names_file_runs_in_the_cloud_detector(tmp_path):
    model = graphs.save_graph(tmp_path / "rtdetr.onnx", graphs.detr_outputs())
    names = tmp_path / "names.txt"
    names.write_text("\n".join(NAMES) + "\n")
    answer = run_detector(tmp_path, "hyperion_cloud", "cloud_detector", [
        "backend:=onnx", f"model_path:={model}", f"class_names:=[{names}]",
        "input_width:=64", "input_height:=64", "classes:=[person, dog]",
        "full_frame_pass:=false", "score_threshold:=0.25"], send="encoded")
    boxes, scores, labels = boxes_of(answer)
    # SAHI's merge (NMS at 0.5) removes the set prediction's near-duplicate of box 0.
    np.testing.assert_allclose(boxes, EXPECTED, atol=1e-3)
    np.testing.assert_allclose(scores, graphs.SCORES[[0, 2]], rtol=1e-5)
    assert labels == ["person", "dog"]


@pytest.mark.parametrize(("node", "extra", "parameter", "words"), [
    ("edge_detector", ["class_names:=[person, car]"], "class_names",
     ["expected 2 classes", "found 3 classes"]),
    ("edge_detector", ["input_width:=320"], "input_width/input_height",
     ["expected input 320x64", "found input 64x64"]),
    ("cloud_detector", ["layout:=yolo-nms"], "layout",
     ["expected layout yolo-nms: one output [1, N, 6]", "found output0 [1, 7, 100]"]),
    ("cloud_detector", ["classes:=[bus]"], "classes", ["['bus']"]),
])
def test_a_mismatched_model_stops_the_node_at_start_up(tmp_path, node, extra, parameter,
                                                       words):
    model = graphs.save_graph(tmp_path / "yolo.onnx", graphs.yolo_outputs())
    package = "hyperion_edge" if node == "edge_detector" else "hyperion_cloud"
    domain, _ = domain_pair()
    params = ["backend:=onnx", f"model_path:={model}", f"class_names:={NAMES}",
              "input_width:=64", "input_height:=64", "classes:=[person]", *extra]
    result = subprocess.run(
        [str(executable(package, node)), "--ros-args", *[a for p in params for a in ("-p", p)]],
        env={**graph_env(), "ROS_DOMAIN_ID": str(domain)}, capture_output=True, text=True,
        timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    message = result.stderr
    assert f"parameter {parameter}" in message and str(model) in message, message[-2000:]
    for word in words:
        assert word in message, message[-2000:]


def test_backend_onnx_without_a_model_path_is_refused():
    domain, _ = domain_pair()
    result = subprocess.run(
        [str(executable("hyperion_edge", "edge_detector")), "--ros-args", "-p",
         "backend:=onnx"], env={**os.environ, **graph_env(), "ROS_DOMAIN_ID": str(domain)},
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "parameter model_path is empty" in result.stderr, \
        result.stderr[-2000:]

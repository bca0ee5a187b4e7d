"""The built vision_msgs matches the published vision_msgs 4.x (ROS 2 Humble and later).

The expected table is written from the public interface definitions; rosidl's
introspection of the built types is compared against it, so a renamed or retyped field,
a missing message, or an extra field all fail.
"""

import importlib

import pytest

pytest.importorskip("rclpy")

# message -> ordered {field: rosidl type string}, per vision_msgs 4.x.
VISION_MSGS_4 = {
    "Point2D": {"x": "double", "y": "double"},
    "Pose2D": {"position": "vision_msgs/Point2D", "theta": "double"},
    "BoundingBox2D": {"center": "vision_msgs/Pose2D", "size_x": "double", "size_y": "double"},
    "BoundingBox2DArray": {
        "header": "std_msgs/Header",
        "boxes": "sequence<vision_msgs/BoundingBox2D>",
    },
    "ObjectHypothesis": {"class_id": "string", "score": "double"},
    "ObjectHypothesisWithPose": {
        "hypothesis": "vision_msgs/ObjectHypothesis",
        "pose": "geometry_msgs/PoseWithCovariance",
    },
    "Detection2D": {
        "header": "std_msgs/Header",
        "results": "sequence<vision_msgs/ObjectHypothesisWithPose>",
        "bbox": "vision_msgs/BoundingBox2D",
        "id": "string",
    },
    "Detection2DArray": {
        "header": "std_msgs/Header",
        "detections": "sequence<vision_msgs/Detection2D>",
    },
    "Classification": {
        "header": "std_msgs/Header",
        "results": "sequence<vision_msgs/ObjectHypothesis>",
    },
    "VisionClass": {"class_id": "uint16", "class_name": "string"},
    "LabelInfo": {
        "header": "std_msgs/Header",
        "class_map": "sequence<vision_msgs/VisionClass>",
        "threshold": "float",
    },
    "VisionInfo": {
        "header": "std_msgs/Header",
        "method": "string",
        "database_location": "string",
        "database_version": "int32",
    },
}


@pytest.mark.parametrize("name", sorted(VISION_MSGS_4))
def test_fields_match_published_interface(name):
    module = importlib.import_module("vision_msgs.msg")
    message_type = getattr(module, name)
    assert message_type.get_fields_and_field_types() == VISION_MSGS_4[name]
    # The fields' order is part of the wire format, so compare it too.
    assert list(message_type.get_fields_and_field_types()) == list(VISION_MSGS_4[name])


def test_serialized_layout_round_trips():
    from rclpy.serialization import deserialize_message, serialize_message
    from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

    detection = Detection2D(id="track-7")
    detection.bbox.center.position.x = 1919.5
    detection.bbox.center.theta = 0.25
    detection.bbox.size_x, detection.bbox.size_y = 12.0, 30.0
    hypothesis = ObjectHypothesisWithPose()
    hypothesis.hypothesis.class_id = "person"
    hypothesis.hypothesis.score = 0.875
    detection.results.append(hypothesis)
    array = Detection2DArray(detections=[detection])
    array.header.frame_id = "array_camera"
    assert deserialize_message(serialize_message(array), Detection2DArray) == array

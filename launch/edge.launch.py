"""Edge graph of Hyperion: ``ros2 launch hyperion edge.launch.py``.

Declares the nodes of ``hyperion.graph.GRAPHS["edge"]`` (the one description shared with
``hyperion run edge``) with the installed ``config/edge.yaml`` and the shared-memory Fast
DDS profile. Arguments:

- ``params_file``: parameters of every node (default: the installed edge.yaml);
- ``image_topic``: camera topic the graph consumes (default ``/hyperion/image``);
- ``use_camera``: start the built-in camera node (false when ``image_topic`` is an
  existing driver's topic);
- ``compressed_input``: start the decompressor, which decodes JPEG/PNG
  ``sensor_msgs/CompressedImage`` frames from ``compressed_topic`` onto ``image_topic``.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from hyperion.graph import FASTDDS_PROFILE, GRAPHS, SWITCHES

GRAPH = GRAPHS["edge"]
IMAGE_TOPIC = "/hyperion/image"
COMPRESSED_TOPIC = "/hyperion/image/compressed"


def generate_launch_description():
    share = FindPackageShare("hyperion")
    arguments = [
        DeclareLaunchArgument(
            "params_file", default_value=PathJoinSubstitution([share, "config", "edge.yaml"]),
            description="ROS 2 params file with every edge node's parameters"),
        DeclareLaunchArgument(
            "image_topic", default_value=IMAGE_TOPIC,
            description="sensor_msgs/Image topic of the camera (bgr8/rgb8/mono8/bgra8/rgba8)"),
        DeclareLaunchArgument(
            "compressed_topic", default_value=COMPRESSED_TOPIC,
            description="sensor_msgs/CompressedImage topic (JPEG/PNG) the decompressor reads"),
        DeclareLaunchArgument(
            "use_camera", default_value=str(SWITCHES["use_camera"]).lower(),
            choices=["true", "false"],
            description="start the built-in camera node (false: use image_topic's driver)"),
        DeclareLaunchArgument(
            "compressed_input", default_value=str(SWITCHES["compressed_input"]).lower(),
            choices=["true", "false"],
            description="start the decompressor (a camera publishing CompressedImage)"),
    ]
    profile = PathJoinSubstitution([share, "config", FASTDDS_PROFILE])
    nodes = [
        Node(
            package=spec.package, executable=spec.executable, name=spec.name,
            parameters=[LaunchConfiguration("params_file")],
            remappings=[*spec.remappings, (IMAGE_TOPIC, LaunchConfiguration("image_topic")),
                        (COMPRESSED_TOPIC, LaunchConfiguration("compressed_topic"))],
            additional_env={"FASTDDS_DEFAULT_PROFILES_FILE": profile, **spec.env},
            condition=IfCondition(LaunchConfiguration(spec.start_if)) if spec.start_if else None,
            output="screen",
        )
        for spec in GRAPH.nodes
    ]
    return LaunchDescription(arguments + nodes)

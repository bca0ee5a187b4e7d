"""Cloud graph of Hyperion: ``ros2 launch hyperion cloud.launch.py``.

Declares the nodes of ``hyperion.graph.GRAPHS["cloud"]`` (shared with ``hyperion run
cloud``). Run it in a ROS domain of its own (``ROS_DOMAIN_ID``): the only path between the
edge and the cloud graphs is the zenoh link. With rmw_zenoh or zenoh-bridge-ros2dds the
link nodes can be replaced by the bridge and remappings (configuration only; see README).
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from hyperion.graph import FASTDDS_PROFILE, GRAPHS

GRAPH = GRAPHS["cloud"]


def generate_launch_description():
    share = FindPackageShare("hyperion")
    arguments = [
        DeclareLaunchArgument(
            "params_file", default_value=PathJoinSubstitution([share, "config", "cloud.yaml"]),
            description="ROS 2 params file with every cloud node's parameters"),
    ]
    profile = PathJoinSubstitution([share, "config", FASTDDS_PROFILE])
    nodes = [
        Node(
            package=spec.package, executable=spec.executable, name=spec.name,
            parameters=[LaunchConfiguration("params_file")],
            remappings=list(spec.remappings),
            additional_env={"FASTDDS_DEFAULT_PROFILES_FILE": profile, **spec.env},
            output="screen",
        )
        for spec in GRAPH.nodes
    ]
    return LaunchDescription(arguments + nodes)

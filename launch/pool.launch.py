"""Shared detector pool of Hyperion: ``ros2 launch hyperion pool.launch.py workers:=2``.

The cloud side of "many cameras, one cloud" (README): the zenoh router with the pool on its
session (``pool_router``, settings ``router_config``) and ``workers`` detector workers
(``pool_worker``, the ``cloud_detector`` section of ``params_file``) attached to it. Neither
is a ROS node (they join no ROS graph); they are declared here as the executables of
hyperion_cloud, as ``hyperion run router`` and ``hyperion run cloud --workers N`` start
them. Edges connect their edge_link to ``router`` (mode client, key prefix
``hyperion/pool/edge/<name>``). For TLS and per-edge access control, set the ``tls_*`` and
``edges`` entries of the router's settings file. With two routers (README: two hosts), each
host launches this file with its own ``listen`` and ``router``, and edges list both.
"""

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

MAX_WORKERS = 8


def _workers(context: LaunchContext, *_args: object, **_kwargs: object) -> list[Node]:
    """One pool_worker per requested worker (the count is a launch argument)."""
    count = int(LaunchConfiguration("workers").perform(context))
    prefix = LaunchConfiguration("worker_id").perform(context)
    return [
        Node(package="hyperion_cloud", executable="pool_worker", name=f"pool_worker_{index}",
             arguments=["--connect", LaunchConfiguration("router"), "--id", f"{prefix}-{index}",
                        "--params-file", LaunchConfiguration("params_file"),
                        "--lease-s", LaunchConfiguration("lease_s")],
             output="screen")
        for index in range(count)
    ]


def generate_launch_description():
    share = FindPackageShare("hyperion")
    arguments = [
        DeclareLaunchArgument(
            "router_config",
            default_value=PathJoinSubstitution([share, "config", "router.yaml"]),
            description="settings of the router and the pool (listen endpoints, TLS, edges)"),
        DeclareLaunchArgument(
            "listen", default_value="",
            description="router endpoints, comma-separated; empty: router_config's"),
        DeclareLaunchArgument(
            "params_file", default_value=PathJoinSubstitution([share, "config", "cloud.yaml"]),
            description="ROS 2 params file whose cloud_detector section the workers use"),
        DeclareLaunchArgument(
            "workers", default_value="1", choices=[str(n) for n in range(MAX_WORKERS + 1)],
            description="detector workers started on this host (0: the router only)"),
        DeclareLaunchArgument(
            "router", default_value="tcp/127.0.0.1:7447",
            description="endpoint the workers connect to (the router's listen endpoint)"),
        DeclareLaunchArgument(
            "lease_s", default_value="10.0",
            description="each worker's zenoh lease [s, 0.5-3600]: the pool gives a frozen "
                        "worker's frames to the others this long after it stops"),
        DeclareLaunchArgument(
            "worker_id", default_value="pool",
            description="worker ids are <worker_id>-<i>; unique across the pool's hosts"),
    ]
    router = Node(package="hyperion_cloud", executable="pool_router", name="pool_router",
                  arguments=["--config", LaunchConfiguration("router_config"),
                             "--listen", LaunchConfiguration("listen")], output="screen")
    return LaunchDescription([*arguments, router, OpaqueFunction(function=_workers)])

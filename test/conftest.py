"""Session-wide environment for tests that start ROS 2 processes.

Discovery stays on loopback and in a domain private to this test run, so parallel runs and
other graphs on the machine never see each other. Set before any test imports rclpy.
"""

import os
import signal
from pathlib import Path

WORKSPACE = Path(__file__).resolve().parents[1]

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
# Domain ids 0-101 are portable; derive one from the pid so concurrent runs differ.
os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
os.environ.setdefault(
    "FASTDDS_DEFAULT_PROFILES_FILE", str(WORKSPACE / "config" / "fastdds_shm.xml")
)
# A test run started in the background (`make test &`, some CI runners) ignores SIGINT, and
# an ignored signal stays ignored in every process it starts: `ros2 launch` would never stop
# on the Ctrl-C the tests send it. A handled signal is reset to the default on exec instead.
signal.signal(signal.SIGINT, signal.default_int_handler)


"""`hyperion view`: serve the running graph to Foxglove / Lichtblick over WebSocket.

    hyperion view [--host ADDR] [--port N] [--max-width PX] [--jpeg-quality Q]
                  [--rate HZ] [--no-annotated] [--ros-args ...]

Open ws://ADDR:N in Foxglove (or Lichtblick) with "Foxglove WebSocket". Options are
shortcuts for the FoxgloveView node's parameters; anything after --ros-args goes to rclpy.
"""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hyperion view", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="TCP port (default 8765, 0: any free)")
    parser.add_argument("--max-width", type=int, help="served frame width, px (default 1280)")
    parser.add_argument("--jpeg-quality", type=int, help="1-100 (default 75)")
    parser.add_argument("--rate", type=float, help="most frames served per second (default 10)")
    parser.add_argument("--no-annotated", action="store_true",
                        help="do not publish /hyperion/annotated for rviz2")
    return parser


def parameter_overrides(args: argparse.Namespace) -> list:
    """ROS parameters for the options given on the command line (others keep defaults)."""
    from rclpy.parameter import Parameter

    chosen = {"host": args.host, "port": args.port, "image_max_width": args.max_width,
              "jpeg_quality": args.jpeg_quality,
              "max_image_rate_hz": None if args.rate is None else float(args.rate),
              "publish_annotated": False if args.no_annotated else None}
    return [Parameter(name, value=value) for name, value in chosen.items() if value is not None]


def main(argv: list[str] | None = None) -> int:
    """Run the view until Ctrl-C; returns the exit code."""
    import rclpy
    from rclpy.executors import ExternalShutdownException

    argv = sys.argv[1:] if argv is None else list(argv)
    split = argv.index("--ros-args") if "--ros-args" in argv else len(argv)
    args = build_parser().parse_args(argv[:split])
    from hyperion_edge.viz.foxglove_view_node import FoxgloveView

    rclpy.init(args=["hyperion_view", *argv[split:]])
    node = None
    try:
        node = FoxgloveView(parameter_overrides=parameter_overrides(args))
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception as exc:  # e.g. port in use, out-of-range parameter
        print(f"hyperion view: {exc}", file=sys.stderr)
        return 1
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

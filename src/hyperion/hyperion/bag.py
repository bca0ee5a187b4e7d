"""`hyperion bag`: record, replay and import rosbag2 bags without a ROS install.

    hyperion bag record [TOPIC ...] [-o DIR] [--all] [--storage mcap|sqlite3]
                        [--max-messages N] [--duration S] [--discovery-timeout S]
    hyperion bag play BAG [--rate F] [--loop] [--start-offset S] [--topics T ...]
                        [--remap FROM:=TO ...] [--wait-for-subscribers S]
    hyperion bag import-video SOURCE OUT [--frames N] [--fps F] [--topic T]
                        [--frame-id ID] [--storage mcap|sqlite3] [--start-stamp S]

Bags are rosbag2 folders (``metadata.yaml`` + ``.mcap`` or ``.db3``) written with the
``rosbags`` library, readable by ``ros2 bag``, Foxglove and ``mcap-ros2-support``. The
message definitions of ``vision_msgs`` and ``hyperion_msgs`` are embedded from the
installed ``.msg`` files. SOURCE ``array-camera`` selects the embedded 4K array camera.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

STORAGES = ("mcap", "sqlite3")


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _remap(text: str) -> tuple[str, str]:
    source, sep, target = text.partition(":=")
    if not sep or not source or not target:
        raise argparse.ArgumentTypeError(f"expected FROM:=TO, got {text!r}")
    return source, target


def build_parser() -> argparse.ArgumentParser:
    from hyperion.bag_record import DEFAULT_TOPICS

    parser = argparse.ArgumentParser(prog="hyperion bag", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    record = commands.add_parser("record", help="record topics into a new bag")
    record.add_argument("topics", nargs="*", default=list(DEFAULT_TOPICS),
                        help=f"topics to record (default: {' '.join(DEFAULT_TOPICS)})")
    record.add_argument("-o", "--output", type=Path, help="bag folder (default: bag_<time>)")
    record.add_argument("--all", action="store_true", help="record every topic that appears")
    record.add_argument("--storage", choices=STORAGES, default="mcap")
    record.add_argument("--max-messages", type=int, default=0,
                        help="stop after N messages in total (0: no limit)")
    record.add_argument("--duration", type=_non_negative, default=0.0,
                        help="stop after S seconds (0: until Ctrl-C)")
    record.add_argument("--discovery-timeout", type=_non_negative, default=0.0,
                        help="fail if a requested topic has not appeared after S seconds (0: wait)")
    record.add_argument("--queue", type=int, default=32,
                        help="messages buffered for the disk writer before dropping (default 32)")

    play = commands.add_parser("play", help="publish a bag's messages at recorded timing")
    play.add_argument("bag", type=Path, help="bag folder or .mcap/.db3 file")
    play.add_argument("--rate", type=_positive, default=1.0, help="speed factor (default 1)")
    play.add_argument("--loop", action="store_true", help="replay until interrupted")
    play.add_argument("--start-offset", type=_non_negative, default=0.0,
                      help="skip the first S seconds of the bag")
    play.add_argument("--topics", nargs="+", help="only these bag topics (error if absent)")
    play.add_argument("--remap", type=_remap, action="append", default=[],
                      metavar="FROM:=TO", help="publish bag topic FROM on TO (repeatable)")
    play.add_argument("--wait-for-subscribers", type=_non_negative, default=0.0, metavar="S",
                      help="before playing, wait up to S s for subscribers on every topic")
    play.add_argument("--subscribers", type=int, default=1, metavar="N",
                      help="with --wait-for-subscribers: how many per topic (default 1)")
    play.add_argument("--discovery-settle", type=_non_negative, default=1.0, metavar="S",
                      help="with --wait-for-subscribers: wait S s more once they are there, "
                           "so every reader has matched the player too (default 1)")
    play.add_argument("--flush-timeout", type=_non_negative, default=10.0, metavar="S",
                      help="after the last message, wait up to S s for reliable subscribers "
                           "to acknowledge everything (default 10)")

    video = commands.add_parser("import-video", help="write video frames as Images to a bag")
    video.add_argument("source", help="video file, or 'array-camera' for embedded 4K frames")
    video.add_argument("--frames", type=int, help="frames at most (array-camera default 10)")
    video.add_argument("--fps", type=_positive, help="stamp spacing (default: the video's)")
    _add_import_options(video, topic="/hyperion/image", frame_id="array_camera")
    images = commands.add_parser(
        "import-images", help="write a folder of JPEG/PNG frames (e.g. a PANDA sequence) as "
                              "CompressedImages to a bag, bytes unchanged")
    images.add_argument("folder", type=Path, help="folder of .jpg/.jpeg/.png frames")
    images.add_argument("--fps", type=_positive, required=True, help="stamp spacing")
    images.add_argument("--frames", type=int, help="frames at most (default: all)")
    _add_import_options(images, topic="/hyperion/image/compressed", frame_id="camera")
    return parser


def _add_import_options(parser: argparse.ArgumentParser, *, topic: str, frame_id: str) -> None:
    """Options both import commands share: where the frames go and how they are stamped."""
    parser.add_argument("output", type=Path, help="bag folder to create")
    parser.add_argument("--topic", default=topic)
    parser.add_argument("--frame-id", default=frame_id)
    parser.add_argument("--storage", choices=STORAGES, default="mcap")
    parser.add_argument("--start-stamp", type=_non_negative,
                        help="stamp of the first frame, s since the epoch (default: now)")


def _install_stop(stop: threading.Event) -> None:
    """Make SIGINT/SIGTERM set ``stop`` so the bag is always closed properly."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())


def record(args: argparse.Namespace) -> int:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    from hyperion.bag_record import BagRecorder
    from hyperion.bag_types import hyperion_typestore

    output = args.output or Path(time.strftime("bag_%Y%m%d_%H%M%S"))
    if output.exists():
        print(f"hyperion bag record: {output} already exists", file=sys.stderr)
        return 2
    stop = threading.Event()
    _install_stop(stop)
    rclpy.init(args=[], signal_handler_options=SignalHandlerOptions.NO)
    recorder = BagRecorder(output=output, topics=None if args.all else args.topics,
                           store=hyperion_typestore(), storage=args.storage,
                           max_messages=args.max_messages, queue_size=args.queue)
    executor = SingleThreadedExecutor()
    executor.add_node(recorder)
    status = 0
    try:
        while not (stop.is_set() or recorder.done.is_set()):
            executor.spin_once(timeout_sec=0.1)
            elapsed = time.monotonic() - recorder.started
            if args.duration and elapsed >= args.duration:
                break
            missing = recorder.missing_topics()
            if args.discovery_timeout and missing and elapsed >= args.discovery_timeout:
                print(f"hyperion bag record: no publisher of {', '.join(missing)} after "
                      f"{args.discovery_timeout:g} s", file=sys.stderr)
                status = 1
                break
    finally:
        recorder.close()
        elapsed = time.monotonic() - recorder.started
        executor.shutdown()
        recorder.destroy_node()
        rclpy.try_shutdown()
    total = sum(t.bytes for t in recorder.tally.values())
    print(f"wrote {output} ({args.storage}): {recorder.received} messages, "
          f"{total / 1e6:.1f} MB in {elapsed:.1f} s")
    for topic, tally in recorder.tally.items():
        print(f"  {topic} [{tally.msgtype}]: {tally.messages} messages, "
              f"{tally.bytes / 1e6:.1f} MB, {tally.dropped} dropped")
    return status


def play(args: argparse.Namespace) -> int:
    import rclpy
    from rclpy.signals import SignalHandlerOptions

    from hyperion.bag_play import BagPlayer, MissingTopicError

    if not args.bag.exists():
        print(f"hyperion bag play: no bag at {args.bag}", file=sys.stderr)
        return 2
    stop = threading.Event()
    _install_stop(stop)
    rclpy.init(args=[], signal_handler_options=SignalHandlerOptions.NO)
    try:
        player = BagPlayer(bag=args.bag, topics=args.topics, remap=dict(args.remap),
                           rate=args.rate, start_offset_s=args.start_offset, loop=args.loop)
    except MissingTopicError as exc:
        print(f"hyperion bag play: {exc}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    try:
        if args.wait_for_subscribers and not player.wait_for_subscribers(
                args.wait_for_subscribers, count=args.subscribers,
                settle_s=args.discovery_settle):
            print(f"hyperion bag play: fewer than {args.subscribers} subscriber(s) on some "
                  f"topics after {args.wait_for_subscribers:g} s, playing anyway", file=sys.stderr)
        report = player.play(stop)
        if not stop.is_set() and not player.flush(args.flush_timeout):
            print("hyperion bag play: some messages were not acknowledged within "
                  f"{args.flush_timeout:g} s", file=sys.stderr)
    finally:
        player.close()
        player.destroy_node()
        rclpy.try_shutdown()
    count = sum(report.published.values())
    print(f"published {count} messages, {report.bytes / 1e6:.1f} MB in {report.duration_s:.2f} s")
    for topic, n in report.published.items():
        print(f"  {topic}: {n}")
    for topic, msgtype in report.skipped_types.items():
        print(f"  skipped {topic}: type {msgtype} not installed")
    if report.skipped_messages:
        print(f"skipped {report.skipped_messages} messages of unknown types")
    return 0


def import_video_command(args: argparse.Namespace) -> int:
    from hyperion.bag_video import ARRAY_CAMERA, import_video

    if args.source != ARRAY_CAMERA and not Path(args.source).is_file():
        print(f"hyperion bag import-video: no video at {args.source}", file=sys.stderr)
        return 2
    if args.output.exists():
        print(f"hyperion bag import-video: {args.output} already exists", file=sys.stderr)
        return 2
    start_ns = None if args.start_stamp is None else int(args.start_stamp * 1e9)
    try:
        count, seconds = import_video(
            args.source, args.output, frames=args.frames, fps=args.fps, topic=args.topic,
            frame_id=args.frame_id, storage=args.storage, start_ns=start_ns,
        )
    except (OSError, FileNotFoundError) as exc:
        print(f"hyperion bag import-video: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}: {count} frames on {args.topic} in {seconds:.1f} s")
    return 0 if count else 1


def import_images_command(args: argparse.Namespace) -> int:
    from hyperion.bag_images import import_images

    if args.output.exists():
        print(f"hyperion bag import-images: {args.output} already exists", file=sys.stderr)
        return 2
    start_ns = None if args.start_stamp is None else int(args.start_stamp * 1e9)
    try:
        count, skipped, seconds = import_images(
            args.folder, args.output, fps=args.fps, frames=args.frames, topic=args.topic,
            frame_id=args.frame_id, storage=args.storage, start_ns=start_ns)
    except FileNotFoundError as exc:
        print(f"hyperion bag import-images: {exc}", file=sys.stderr)
        return 2
    for path in skipped:
        print(f"skipped {path}: neither JPEG nor PNG", file=sys.stderr)
    print(f"wrote {args.output}: {count} frames on {args.topic} in {seconds:.1f} s")
    return 0 if count else 1


def main(argv: list[str] | None = None) -> int:
    """Run ``hyperion bag`` with ``argv`` (without the program name); returns the exit code."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    handlers = {"record": record, "play": play, "import-video": import_video_command,
                "import-images": import_images_command}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())

"""A simulated camera edge for the detector pool: sends frames, checks every answer.

For tests and ``benchmarks/pool_scale.py``: a real process with a real
:class:`hyperion_core.link.zenoh_link.EdgeLink` (client mode, ``key_prefix``
``<root>/edge/<name>``), sending ``--frames`` frames of ``--bytes`` bytes at ``--fps``, each
with a deadline ``--budget-s`` after it is sent. A frame's first 8 bytes name the edge
(CRC-32 of its name) and the frame (its index), and the pool's simulated workers echo them,
so the edge checks that each answer is its own and for the frame it claims.

It decides as the edge graph does: a frame is offloaded while the link is up (a pool
subscribes to its uplink), and answered by the edge alone at once while it is down (the
scheduler's "link down" plan); an offloaded frame the pool has not answered by its deadline
is answered by the edge then, and a pool answer after that is discarded. So every frame has
exactly one answer by its deadline, and the report says whose.

Protocol on stdio: prints ``READY`` once the pool subscribes to its uplink, waits for a
line on stdin (so a test starts every edge together), sends, waits until every frame is
answered or past its deadline, then ``--linger-s`` more (to catch a second answer), and
prints one JSON line: ``sent`` (frames), ``offloaded`` (indices sent to the pool; the
others were answered alone at once), ``answers`` (index → times the pool answered it),
``late`` (indices the pool answered after their deadline), ``foreign`` (answers not for a
frame of this edge or for one never offloaded), ``latency_s`` (send → answer of each
answered frame), ``queue_delay_s`` (the last delay the pool published), ``elapsed_s``
(first send → last answer), ``sent_at_s`` (each frame's send or edge-only decision) and
``answered_at_s`` (index → the pool's first answer), both ``time.monotonic()``: one clock
for every process of a host, so a test can set them against the moment it killed a router.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import threading
import time
import zlib

from hyperion_core.link.pool_service import DEFAULT_ROOT
from hyperion_core.link.zenoh_link import EdgeLink, LinkConfig

FRAME_ID = struct.Struct(">II")


class _Ledger:
    """What came back, per frame index (zenoh's thread writes, the main thread reads)."""

    def __init__(self, edge_crc: int) -> None:
        self.edge_crc = edge_crc
        self.cond = threading.Condition()
        self.sent_at: dict[int, float] = {}
        self.deadline: dict[int, float] = {}
        self.answers: dict[int, int] = {}
        self.late: list[int] = []
        self.foreign = 0
        self.latency: dict[int, float] = {}
        self.answered_at: dict[int, float] = {}
        self.offloaded: set[int] = set()
        self.last_answer_s = 0.0
        self.queue_delay_s = 0.0

    def on_reply(self, _seq: int, payload: bytes) -> None:
        now = time.monotonic()
        if len(payload) < FRAME_ID.size:
            self.foreign += 1
            return
        crc, index = FRAME_ID.unpack(payload[:FRAME_ID.size])
        with self.cond:
            if crc != self.edge_crc or index not in self.offloaded:
                self.foreign += 1
                return
            self.answers[index] = self.answers.get(index, 0) + 1
            if self.answers[index] == 1:
                self.latency[index] = now - self.sent_at[index]
                self.answered_at[index] = now
                if now > self.deadline[index]:
                    self.late.append(index)
            self.last_answer_s = now
            self.cond.notify_all()

    def on_delay(self, delay_s: float) -> None:
        self.queue_delay_s = delay_s

    def settled(self) -> bool:
        """Every frame offloaded is answered or past its deadline (call with cond held)."""
        now = time.monotonic()
        return all(i in self.answers or now > self.deadline[i] for i in self.offloaded)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="pool_edge", description=__doc__.splitlines()[0])
    ap.add_argument("--connect", action="append", required=True, help="router endpoint")
    ap.add_argument("--name", required=True, help="edge name: key segment, certificate CN")
    ap.add_argument("--root", default=DEFAULT_ROOT, help="pool key prefix")
    ap.add_argument("--frames", type=int, default=20, help="frames to send (>= 1)")
    ap.add_argument("--fps", type=float, default=5.0, help="send rate, frames/s (> 0)")
    ap.add_argument("--bytes", type=int, default=20_000, help="frame size, bytes (>= 8)")
    ap.add_argument("--budget-s", type=float, default=10.0, help="deadline after send, s (> 0)")
    ap.add_argument("--phase-s", type=float, default=0.0,
                    help="wait this long after the go line before the first frame, s "
                         "(cameras are not in step with each other; >= 0)")
    ap.add_argument("--linger-s", type=float, default=1.0,
                    help="wait this long after the last answer for duplicates, s (>= 0)")
    ap.add_argument("--tls-ca", default=None, help="CA certificate, PEM path")
    ap.add_argument("--tls-cert", default=None, help="own certificate, PEM path")
    ap.add_argument("--tls-key", default=None, help="own private key, PEM path")
    args = ap.parse_args(argv)
    checks = {"--frames": (args.frames >= 1, ">= 1"), "--fps": (args.fps > 0, "> 0"),
              "--bytes": (args.bytes >= FRAME_ID.size, f">= {FRAME_ID.size}"),
              "--budget-s": (args.budget_s > 0, "> 0"),
              "--linger-s": (args.linger_s >= 0, ">= 0"),
              "--phase-s": (args.phase_s >= 0, ">= 0")}
    for flag, (ok, allowed) in checks.items():
        if not ok:
            ap.error(f"{flag} must be {allowed}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Console entry: connect, wait for the go line, send, report one JSON line."""
    args = _parse(argv)
    ledger = _Ledger(zlib.crc32(args.name.encode()))
    config = LinkConfig(mode="client", connect=tuple(args.connect),
                        key_prefix=f"{args.root}/edge/{args.name}", tls_ca=args.tls_ca,
                        tls_cert=args.tls_cert, tls_key=args.tls_key,
                        tls_mutual=bool(args.tls_cert))
    with EdgeLink(config=config, on_reply=ledger.on_reply,
                  on_queue_delay=ledger.on_delay) as link:
        if not link.wait_connected(30.0):
            print(json.dumps({"error": "no pool subscribed to this edge's uplink"}), flush=True)
            return 1
        print("READY", flush=True)
        sys.stdin.readline()
        filler = bytes(args.bytes - FRAME_ID.size)
        start = time.monotonic() + args.phase_s
        for index in range(args.frames):
            # Keep the rate from the start, not from each send, so slow sends catch up.
            time.sleep(max(0.0, start + index / args.fps - time.monotonic()))
            now = time.monotonic()
            up = link.wait_connected(0.0)
            with ledger.cond:
                ledger.sent_at[index] = now
                ledger.deadline[index] = now + args.budget_s
                if up:
                    ledger.offloaded.add(index)
            if up:
                link.send(FRAME_ID.pack(ledger.edge_crc, index) + filler,
                          deadline_in_s=args.budget_s)
        with ledger.cond:
            ledger.cond.wait_for(ledger.settled, timeout=args.budget_s + 1.0)
        time.sleep(args.linger_s)
        with ledger.cond:
            report = {
                "name": args.name, "sent": args.frames, "offloaded": sorted(ledger.offloaded),
                "answers": {str(i): n for i, n in sorted(ledger.answers.items())},
                "late": sorted(ledger.late), "foreign": ledger.foreign,
                "latency_s": [ledger.latency[i] for i in sorted(ledger.latency)],
                "queue_delay_s": ledger.queue_delay_s,
                "elapsed_s": max(ledger.last_answer_s - start, 0.0),
                "sent_at_s": [ledger.sent_at[i] for i in range(args.frames)],
                "answered_at_s": {str(i): t for i, t in sorted(ledger.answered_at.items())}}
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

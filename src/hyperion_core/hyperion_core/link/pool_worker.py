"""A detector worker of the pool: takes jobs from the router, answers each one.

A worker connects (client mode) to the pool's router, subscribes to
``<root>/worker/<id>/job`` and only then declares its liveliness token ``<root>/worker/<id>``:
both declarations travel in order over one connection, so the pool never sends a job to a
worker that cannot receive it yet. Jobs run one at a time on the worker's own thread (the
zenoh callback only queues them); each answer goes to ``<root>/worker/<id>/done`` with the
job's id, and a job the handler could not answer (it raised: a frame the detector refuses)
is reported on ``<root>/worker/<id>/failed``, so the pool frees this worker at once.

What a job computes is a *handler*, ``bytes -> bytes``: the real cloud detector for
serialized ``EncodedFrame``s (``pool_worker`` of hyperion_cloud, what ``hyperion run cloud
--workers N`` starts), or here, for tests and benchmarks without a GPU,
:func:`simulated_gpu`: it holds each frame a fixed service time without using the CPU, as
a host does while its GPU computes, and answers with a small payload.

Command line (the simulated worker): ``python -m hyperion_core.link.pool_worker --connect
tcp/127.0.0.1:7447 --id w1 --service-s 0.04``; prints ``READY`` once its token is declared
and serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
import time
from collections.abc import Callable

import zenoh

from hyperion_core.link.pool_router import stop_on_signal
from hyperion_core.link.pool_service import DEFAULT_ROOT, JOB
from hyperion_core.link.zenoh_link import DEFAULT_LEASE_S, LinkConfig, reliable_publisher

Handler = Callable[[bytes], bytes]


def simulated_gpu(service_s: float, answer_bytes: int = 256, burn_cpu: bool = False
                  ) -> Handler:
    """A handler that takes ``service_s`` per frame without using the CPU (a GPU's time).

    Args:
        service_s: time per frame [s, >= 0].
        answer_bytes: size of each answer [bytes, >= 8]; the answer starts with the first
            8 bytes of the frame, so a test can tell which frame it answers.
        burn_cpu: spin on the CPU for the service time instead of sleeping (a CPU
            detector: workers then compete for the host's cores).
    """
    if service_s < 0 or answer_bytes < 8:
        raise ValueError(f"service_s must be >= 0 and answer_bytes >= 8, got {service_s}, "
                         f"{answer_bytes}")

    def handle(payload: bytes) -> bytes:
        if burn_cpu:
            # Thread CPU time, so a worker descheduled by a busy host still does the work.
            end = time.thread_time() + service_s
            while time.thread_time() < end:
                pass
        else:
            time.sleep(service_s)
        return payload[:8] + bytes(answer_bytes - 8)

    return handle


class PoolWorker:
    """One worker process's connection to the pool (see module doc)."""

    def __init__(self, *, config: LinkConfig, worker_id: str, handler: Handler,
                 root: str = DEFAULT_ROOT, announce_jobs: bool = False) -> None:
        """Args:
            config: session settings: ``mode`` client, ``connect`` the router, TLS.
            worker_id: unique among the pool's workers; one key segment (no ``/``, ``*``).
            handler: computes a job's answer from its payload.
            root: the pool's key prefix.
            announce_jobs: print ``START <job id>`` on stdout as each job starts (tests
                use it to kill a worker while it holds a frame).
        """
        self._announce = announce_jobs
        if not worker_id or any(c in worker_id for c in "/*$?#"):
            raise ValueError(f"worker_id must be one plain key segment, got {worker_id!r}")
        self._handler = handler
        self._jobs: queue.Queue[tuple[int, bytes] | None] = queue.Queue()
        self.errors = 0
        self.done = 0
        self._session = zenoh.open(config.to_zenoh())
        key = f"{root}/worker/{worker_id}"
        self._done = reliable_publisher(self._session, f"{key}/done")
        self._failed = reliable_publisher(self._session, f"{key}/failed")
        self._sub = self._session.declare_subscriber(f"{key}/job", self._on_job)
        self._thread = threading.Thread(target=self._serve, name=f"worker-{worker_id}",
                                        daemon=True)
        self._thread.start()
        self._token = self._session.liveliness().declare_token(key)

    def _on_job(self, sample: zenoh.Sample) -> None:
        attachment = sample.attachment
        if attachment is None or len(attachment.to_bytes()) != JOB.size:
            return
        (job_id,) = JOB.unpack(attachment.to_bytes())
        self._jobs.put((job_id, sample.payload.to_bytes()))

    def _serve(self) -> None:
        while (item := self._jobs.get()) is not None:
            job_id, payload = item
            if self._announce:
                print(f"START {job_id}", flush=True)
            try:
                answer = self._handler(payload)
            except Exception as err:  # a bad frame must not stop the worker
                self.errors += 1
                print(f"pool worker: job {job_id} failed: {err}", file=sys.stderr, flush=True)
                # The pool gives the frame up (its edge answers alone) and sends the next.
                self._failed.put(b"", attachment=JOB.pack(job_id))
                continue
            self._done.put(answer, attachment=JOB.pack(job_id))
            self.done += 1

    def close(self) -> None:
        """Withdraw the token first, then stop.

        The pool then hands the frame this worker holds to another worker (or gives it up
        when its deadline is too near); an answer this worker still sends is dropped as
        stale, so the frame is answered once either way.
        """
        self._token.undeclare()
        self._jobs.put(None)
        self._thread.join(timeout=10.0)
        self._session.close()


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="pool_worker", description=__doc__.splitlines()[0])
    ap.add_argument("--connect", action="append", required=True, help="router endpoint")
    ap.add_argument("--id", required=True, help="worker id, unique in the pool")
    ap.add_argument("--root", default=DEFAULT_ROOT, help="pool key prefix")
    ap.add_argument("--service-s", type=float, default=0.04,
                    help="simulated GPU time per frame, s (>= 0)")
    ap.add_argument("--burn-cpu", action="store_true",
                    help="spend the service time computing on the CPU instead of sleeping")
    ap.add_argument("--announce-jobs", action="store_true",
                    help="print START <job id> as each job starts")
    ap.add_argument("--tls-ca", default=None, help="CA certificate, PEM path")
    ap.add_argument("--tls-cert", default=None, help="own certificate, PEM path")
    ap.add_argument("--tls-key", default=None, help="own private key, PEM path")
    add_lease_argument(ap)
    return ap.parse_args(argv)


def add_lease_argument(ap: argparse.ArgumentParser) -> None:
    """``--lease-s``, a worker's zenoh lease (both worker executables take it)."""
    ap.add_argument("--lease-s", type=float, default=DEFAULT_LEASE_S,
                    help="zenoh lease, s: a frozen worker's token is gone (and the frames it "
                         "holds go back to the queue) this long after it stops")


def worker_config(args: argparse.Namespace) -> LinkConfig:
    """The client session settings of a worker's ``--connect``/``--tls-*``/``--lease-s``.

    Raises:
        ValueError: a lease out of range or an incomplete TLS setting (names it).
    """
    return LinkConfig(mode="client", connect=tuple(args.connect), key_prefix=args.root,
                      tls_ca=args.tls_ca, tls_cert=args.tls_cert, tls_key=args.tls_key,
                      tls_mutual=bool(args.tls_cert), lease_s=args.lease_s)


def serve_until_signal(make: Callable[[], PoolWorker]) -> int:
    """Start a worker, print READY, serve until SIGINT/SIGTERM, close; exit status."""
    stop = stop_on_signal()
    worker = make()
    print("READY", flush=True)
    stop.wait()
    worker.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console entry of the simulated-GPU worker."""
    args = _parse(argv)
    if args.service_s < 0:
        print(f"pool_worker: --service-s must be >= 0 s, got {args.service_s}",
              file=sys.stderr)
        return 2
    try:
        config = worker_config(args)
    except ValueError as err:
        print(f"pool_worker: {err}", file=sys.stderr)
        return 2
    return serve_until_signal(lambda: PoolWorker(
        config=config, worker_id=args.id, root=args.root,
        handler=simulated_gpu(args.service_s, burn_cpu=args.burn_cpu),
        announce_jobs=args.announce_jobs))


if __name__ == "__main__":
    sys.exit(main())

"""Importance inside the attention computation vs reading full attention maps (SPEC step 2).

Times, for one global-attention layer of ViTDet-B at a 1024-px input (64x64 = 4096 tokens,
12 heads, head dim 64), (a) materialising the full softmax and summing its columns, and
(b) ``hyperion_core.models.vitdet.attention_column_sums`` with queries in chunks, and
reports peak memory on CUDA. Runs on CUDA when present (the GPU machine), else on the CPU
at the same size. Writes JSON: ``python benchmarks/attention_column_sums.py --json F``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch

from hyperion_core.models.vitdet import attention_column_sums


def timed(
    call: Callable[[], torch.Tensor], device: str, runs: int
) -> tuple[float, float, torch.Tensor]:
    """Median milliseconds, peak MB (CUDA only, else NaN) and the last result."""
    result = call()  # warm-up
    times = []
    peak_mb = float("nan")
    for _ in range(runs):
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        result = call()
        if device == "cuda":
            torch.cuda.synchronize()
            peak_mb = torch.cuda.max_memory_allocated() / 2**20
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), peak_mb, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write results here")
    parser.add_argument("--tokens", type=int, default=4096)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--chunk", type=int, default=512, help="queries per chunk")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    gen = torch.Generator(device=device).manual_seed(0)
    shape = (args.heads, args.tokens, args.dim)
    q = torch.randn(shape, generator=gen, device=device)
    k = torch.randn(shape, generator=gen, device=device)
    scale = args.dim**-0.5

    def full() -> torch.Tensor:
        with torch.no_grad():
            return ((q * scale) @ k.transpose(-2, -1)).softmax(-1).sum(dim=(0, 1)).double()

    def chunked() -> torch.Tensor:
        return attention_column_sums(q, k, scale=scale, chunk=args.chunk)

    full_ms, full_mb, reference = timed(full, device, args.runs)
    chunk_ms, chunk_mb, got = timed(chunked, device, args.runs)
    error = (got - reference).abs().max().item() / reference.abs().max().item()
    report = {
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "torch": torch.__version__,
        "tokens": args.tokens, "heads": args.heads, "dim": args.dim, "chunk": args.chunk,
        "full_softmax": {"median_ms": full_ms, "peak_mb": full_mb},
        "chunked_column_sums": {"median_ms": chunk_ms, "peak_mb": chunk_mb},
        "max_relative_difference": error,
    }
    print(json.dumps(report, indent=2))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

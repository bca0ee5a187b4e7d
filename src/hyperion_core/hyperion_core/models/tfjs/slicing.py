"""TF ``StridedSlice`` as a plan: an ONNX ``Slice``, then squeezes, then new axes.

The slice spec ``begin/end/strides`` has one entry per *spec* dimension, and five bit
masks (bit i is spec entry i) say how to read each entry:

- ``begin_mask``/``end_mask``: ignore ``begin[i]``/``end[i]`` and take the widest range;
- ``ellipsis_mask``: this entry stands for as many full input dims as the spec leaves over;
- ``new_axis_mask``: insert a dim of size 1 into the output (no input dim consumed);
- ``shrink_axis_mask``: take the single index ``begin[i]`` and drop the dim.

Input dims after the last spec entry are kept whole. The same plan drives the ONNX
translation and the numpy fold, whose clamping rules agree (Python slicing clamps
out-of-range bounds exactly as ONNX ``Slice`` does).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


@dataclass
class SlicePlan:
    """Steps equivalent to one StridedSlice on an input of known rank.

    Args:
        starts, ends, axes, steps: an ONNX ``Slice`` over input axes (empty: no slice).
        squeeze: input axes removed by ``shrink_axis_mask`` (after the slice).
        unsqueeze: output positions of ``new_axis_mask`` dims (after squeezing).
    """

    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    axes: list[int] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    squeeze: list[int] = field(default_factory=list)
    unsqueeze: list[int] = field(default_factory=list)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Run the plan in numpy (the constant-folding path)."""
        index = [slice(None)] * x.ndim
        bounds = zip(self.starts, self.ends, self.axes, self.steps, strict=True)
        for start, end, axis, step in bounds:
            index[axis] = slice(start, end, step)
        out = x[tuple(index)]
        if self.squeeze:
            if any(out.shape[a] != 1 for a in self.squeeze):
                raise ValueError(f"shrink index out of range for shape {x.shape}")
            out = np.squeeze(out, axis=tuple(self.squeeze))
        for position in self.unsqueeze:
            out = np.expand_dims(out, position)
        return out


def plan_strided_slice(
    rank: int,
    begin: list[int],
    end: list[int],
    strides: list[int],
    *,
    begin_mask: int = 0,
    end_mask: int = 0,
    ellipsis_mask: int = 0,
    new_axis_mask: int = 0,
    shrink_axis_mask: int = 0,
) -> SlicePlan:
    """Plan a StridedSlice of an input with ``rank`` dims.

    Args:
        rank: number of input dims.
        begin, end, strides: the spec (equal lengths; strides non-zero).
        begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask: TF masks.

    Raises:
        ValueError: inconsistent spec (lengths, zero stride, too many dims, two ellipses).
    """
    spec = len(begin)
    if not len(end) == len(strides) == spec:
        raise ValueError(f"begin/end/strides lengths differ: {spec}, {len(end)}, {len(strides)}")
    if ellipsis_mask & (ellipsis_mask - 1):
        raise ValueError("more than one ellipsis in the slice spec")

    def bit(mask: int, i: int) -> bool:
        return bool(mask >> i & 1)

    consumed = sum(
        1 for i in range(spec) if not bit(new_axis_mask, i) and not bit(ellipsis_mask, i)
    )
    if consumed > rank:
        raise ValueError(f"slice spec covers {consumed} dims of a rank-{rank} input")
    plan = SlicePlan()
    dim = 0  # next input dim
    out_rank = 0  # output dims produced so far
    for i in range(spec):
        if bit(ellipsis_mask, i):
            covered = rank - consumed
            dim += covered
            out_rank += covered
            continue
        if bit(new_axis_mask, i):
            plan.unsqueeze.append(out_rank)
            out_rank += 1
            continue
        step = int(strides[i])
        if step == 0:
            raise ValueError("stride 0 in the slice spec")
        if bit(shrink_axis_mask, i):
            start = int(begin[i])
            _add(plan, dim, start, INT64_MAX if start == -1 else start + 1, 1)
            plan.squeeze.append(dim)
        else:
            widest_start, widest_end = (0, INT64_MAX) if step > 0 else (INT64_MAX, INT64_MIN)
            start = widest_start if bit(begin_mask, i) else int(begin[i])
            stop = widest_end if bit(end_mask, i) else int(end[i])
            if not (step == 1 and start == 0 and stop == INT64_MAX):
                _add(plan, dim, start, stop, step)
            out_rank += 1
        dim += 1
    return plan


def _add(plan: SlicePlan, axis: int, start: int, end: int, step: int) -> None:
    plan.starts.append(start)
    plan.ends.append(end)
    plan.axes.append(axis)
    plan.steps.append(step)

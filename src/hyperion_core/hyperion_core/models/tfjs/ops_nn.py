"""Convolutions, pooling and bilinear resizing (NHWC in TF, NCHW in ONNX).

Each NHWC op becomes ``Transpose(NCHW) → op → Transpose(NHWC)``, a faithful one-for-one
translation; onnxruntime's graph optimiser removes the transpose pairs that cancel.

TF ``SAME`` padding: output size ``ceil(in / stride)``, total padding
``max((out - 1) * stride + (k - 1) * dilation + 1 - in, 0)``, of which ``total // 2`` goes
before and the rest after (so stride 2 on an even input pads only at the end).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hyperion_core.models.tfjs.context import NCHW_TO_NHWC, NHWC_TO_NCHW, OpContext, OpSpec
from hyperion_core.models.tfjs.graph import Value
from hyperion_core.models.tfjs.ops_math import activation


def same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TF SAME padding of one spatial dim: (before, after) in pixels."""
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


@dataclass(frozen=True)
class _Window:
    """Spatial parameters of a conv/pool in ONNX terms (H, W order)."""

    strides: list[int]
    dilations: list[int]
    pads: list[int] | None  # [top, left, bottom, right]; None → auto_pad SAME_UPPER
    channels_last: bool


def _window(ctx: OpContext, x: Value, kernel: tuple[int, int]) -> _Window:
    layout = ctx.node.get_str("data_format", "NHWC")
    if layout not in ("NHWC", "NCHW"):
        raise ctx.unsupported(f"data_format {layout}")
    channels_last = layout == "NHWC"
    hw = slice(1, 3) if channels_last else slice(2, 4)
    strides = ctx.node.get_ints("strides", [1, 1, 1, 1])[hw]
    dilations = ctx.node.get_ints("dilations", [1, 1, 1, 1])[hw]
    padding = ctx.node.get_str("padding", "VALID")
    if padding == "VALID":
        pads: list[int] | None = [0, 0, 0, 0]
    elif padding == "SAME":
        sizes = None if x.shape is None else list(x.shape)[hw]
        if sizes is None or None in sizes:
            pads = None  # ONNX SAME_UPPER is the same rule, applied at run time
        else:
            (top, bottom), (left, right) = (
                same_pads(size, k, s, d)
                for size, k, s, d in zip(sizes, kernel, strides, dilations, strict=True)
            )
            pads = [top, left, bottom, right]
    elif padding == "EXPLICIT":
        pairs = np.array(ctx.node.get_ints("explicit_paddings"), np.int64).reshape(-1, 2)[hw]
        pads = [int(pairs[0, 0]), int(pairs[1, 0]), int(pairs[0, 1]), int(pairs[1, 1])]
    else:
        raise ctx.unsupported(f"padding {padding}")
    return _Window(strides, dilations, pads, channels_last)


def _spatial_op(
    ctx: OpContext,
    x: Value,
    window: _Window,
    op_type: str,
    extra: list[Value | None],
    **attrs: object,
) -> Value:
    """Run an NCHW ONNX op on ``x`` in its TF layout (transposing around it for NHWC)."""
    if window.pads is None:
        attrs["auto_pad"] = "SAME_UPPER"
    else:
        attrs["pads"] = window.pads
    inner = ctx.transpose(x, NHWC_TO_NCHW) if window.channels_last else x
    out = ctx.emit1(op_type, [inner, *extra], strides=window.strides, **attrs)
    return ctx.transpose(out, NCHW_TO_NHWC) if window.channels_last else out


def _channels(x: Value, window: _Window) -> int | None:
    if x.shape is None:
        return None
    return x.shape[3 if window.channels_last else 1]


def _conv(
    ctx: OpContext, x: Value, filters: Value, *, depthwise: bool, bias: Value | None = None
) -> Value:
    kernel = ctx.constant(filters, "filter")
    if kernel.ndim != 4:
        raise ctx.unsupported(f"filter of rank {kernel.ndim}")
    kh, kw, cin, cout = kernel.shape
    window = _window(ctx, x, (kh, kw))
    if depthwise:
        # (kh, kw, C, M) → (C·M, 1, kh, kw): output channel c·M + m reads input channel c.
        weights = kernel.transpose(2, 3, 0, 1).reshape(cin * cout, 1, kh, kw)
        group = cin
    else:
        weights = kernel.transpose(3, 2, 0, 1)  # (O, I/group, kh, kw)
        channels = _channels(x, window)
        group = 1 if channels is None else channels // cin
        if channels is not None and channels != group * cin:
            raise ctx.unsupported(f"{channels} input channels for a filter with {cin}")
    extra: list[Value | None] = [Value.of(np.ascontiguousarray(weights), filters.label)]
    if bias is not None:
        values = ctx.constant(bias, "bias")
        extra.append(Value.of(np.asarray(values, weights.dtype).reshape(-1), bias.label))
    x = ctx.as_dtype(x, weights.dtype)
    return _spatial_op(
        ctx,
        x,
        window,
        "Conv",
        extra,
        dilations=window.dilations,
        group=group,
        kernel_shape=[kh, kw],
    )


def _conv2d(ctx: OpContext, inputs: list[Value]) -> list[Value]:
    return [_conv(ctx, inputs[0], inputs[1], depthwise=False)]


def _depthwise(ctx: OpContext, inputs: list[Value]) -> list[Value]:
    return [_conv(ctx, inputs[0], inputs[1], depthwise=True)]


def _fused(depthwise: bool) -> OpSpec:
    """``_FusedConv2D``/``FusedDepthwiseConv2dNative``: conv, BiasAdd, optional activation.

    Inputs are ``x, filter, *args``: the bias, then (for ``Prelu``) the slopes.
    """

    def translate(ctx: OpContext, inputs: list[Value]) -> list[Value]:
        fused = ctx.node.get_strs("fused_ops", [])
        args = inputs[2:]
        if not fused or fused[0] != "BiasAdd" or len(fused) > 2 or not args:
            raise ctx.unsupported(f"fused_ops {fused}")
        out = _conv(ctx, inputs[0], inputs[1], depthwise=depthwise, bias=args[0])
        if len(fused) == 2:
            slope = args[1] if len(args) > 1 else None
            out = activation(ctx, fused[1], out, slope)
        return [out]

    return OpSpec(translate)


def _max_pool(ctx: OpContext, inputs: list[Value]) -> list[Value]:
    x = inputs[0]
    layout = ctx.node.get_str("data_format", "NHWC")
    ksize = ctx.node.get_ints("ksize")
    hw = slice(1, 3) if layout == "NHWC" else slice(2, 4)
    kernel = tuple(ksize[hw])
    if int(np.prod(ksize)) != int(np.prod(kernel)):
        raise ctx.unsupported(f"pooling over batch or channels (ksize {ksize})")
    window = _window(ctx, x, kernel)
    return [_spatial_op(ctx, x, window, "MaxPool", [], kernel_shape=list(kernel))]


def _resize_bilinear(ctx: OpContext, inputs: list[Value]) -> list[Value]:
    x, size = inputs
    align = ctx.node.get_bool("align_corners", False)
    half = ctx.node.get_bool("half_pixel_centers", False)
    if align and half:
        raise ctx.unsupported("align_corners and half_pixel_centers together")
    # TF maps output pixel o to input coordinate o·in/out (asymmetric), (o + ½)·in/out − ½
    # (half_pixel; ONNX pytorch_half_pixel differs when out == 1), or o·(in−1)/(out−1).
    mode = "align_corners" if align else "half_pixel" if half else "asymmetric"
    height, width = (int(v) for v in np.asarray(ctx.constant(size, "size")).reshape(-1))
    if x.rank != 4 or x.shape[0] is None or x.shape[3] is None:
        raise ctx.unsupported(f"input needs a static batch and channel count, got {x.shape}")
    n, c = x.shape[0], x.shape[3]
    x = ctx.as_dtype(x, np.dtype(np.float32))
    sizes = Value.of(np.array([n, c, height, width], np.int64), "sizes")
    inner = ctx.transpose(x, NHWC_TO_NCHW)
    out = ctx.emit1(
        "Resize", [inner, None, None, sizes], mode="linear", coordinate_transformation_mode=mode
    )
    return [ctx.transpose(out, NCHW_TO_NHWC)]


OPS: dict[str, OpSpec] = {
    "Conv2D": OpSpec(_conv2d),
    "DepthwiseConv2dNative": OpSpec(_depthwise),
    "_FusedConv2D": _fused(depthwise=False),
    "FusedDepthwiseConv2dNative": _fused(depthwise=True),
    "MaxPool": OpSpec(_max_pool),
    "ResizeBilinear": OpSpec(_resize_bilinear),
}

"""Convolutions, pooling and bilinear resizing against numpy references written here from
TF's definitions (NHWC, SAME/VALID, strides, dilations, depthwise channel multipliers,
fp16-quantised kernels, the three ResizeBilinear coordinate modes)."""

import math

import numpy as np
import pytest

from hyperion_core.models.tfjs.converter import convert_graph_model

from .tinymodel import assert_close, convert_and_run, run_onnx

# --- references -------------------------------------------------------------------------


def _pad_amounts(size, kernel, stride, dilation, padding):
    """TF: SAME keeps ceil(size / stride) outputs, the odd pixel of padding goes last."""
    span = (kernel - 1) * dilation + 1
    if padding == "VALID":
        return (size - span) // stride + 1, 0, 0
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + span - size, 0)
    return out, total // 2, total - total // 2


def ref_windows(x, kernel, stride, dilation, padding, fill):
    """Yield (i, j, patch) with patch (N, OH, OW, C): the input under kernel tap (i, j)."""
    _, h, w, _ = x.shape
    oh, top, bottom = _pad_amounts(h, kernel[0], stride[0], dilation[0], padding)
    ow, left, right = _pad_amounts(w, kernel[1], stride[1], dilation[1], padding)
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=fill)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            r0, c0 = i * dilation[0], j * dilation[1]
            yield (
                i,
                j,
                xp[
                    :,
                    r0 : r0 + (oh - 1) * stride[0] + 1 : stride[0],
                    c0 : c0 + (ow - 1) * stride[1] + 1 : stride[1],
                    :,
                ],
            )


def ref_conv2d(x, w, stride, padding, dilation=(1, 1)):
    """x (N, H, W, C) float64, w (kh, kw, C, O)."""
    out = 0.0
    for i, j, patch in ref_windows(x, w.shape[:2], stride, dilation, padding, 0.0):
        out = out + patch @ w[i, j]
    return out


def ref_depthwise(x, w, stride, padding, dilation=(1, 1)):
    """w (kh, kw, C, M); output channel c * M + m = sum of x[..., c] * w[..., c, m]."""
    c, m = w.shape[2:]
    out = 0.0
    for i, j, patch in ref_windows(x, w.shape[:2], stride, dilation, padding, 0.0):
        out = out + (patch[..., :, None] * w[i, j][None, None, None]).reshape(
            *patch.shape[:3], c * m
        )
    return out


def ref_max_pool(x, kernel, stride, padding):
    windows = [p for _, _, p in ref_windows(x, kernel, stride, (1, 1), padding, -np.inf)]
    return np.max(np.stack(windows), axis=0)


def ref_resize_bilinear(x, out_h, out_w, align_corners, half_pixel):
    """TF's legacy bilinear resize of x (N, H, W, C) to (out_h, out_w)."""

    def taps(out_size, in_size):
        o = np.arange(out_size, dtype=np.float64)
        if align_corners and out_size > 1:
            src = o * (in_size - 1) / (out_size - 1)
        elif half_pixel:
            src = (o + 0.5) * (in_size / out_size) - 0.5
        else:
            src = o * (in_size / out_size)
        low = np.floor(src)
        lerp = src - low
        return (
            np.maximum(low, 0).astype(int),
            np.minimum(np.ceil(src), in_size - 1).astype(int),
            lerp,
        )

    top, bottom, dy = taps(out_h, x.shape[1])
    left, right, dx = taps(out_w, x.shape[2])
    dy, dx = dy[None, :, None, None], dx[None, None, :, None]
    tl, tr = x[:, top][:, :, left], x[:, top][:, :, right]
    bl, br = x[:, bottom][:, :, left], x[:, bottom][:, :, right]
    upper = tl + (tr - tl) * dx
    lower = bl + (br - bl) * dx
    return upper + (lower - upper) * dy


def fp16(array):
    """What an fp16-quantised weight decodes to."""
    return array.astype(np.float16).astype(np.float64)


# --- conv2d ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding", "dilation"),
    [
        ((7, 7), (3, 3), 1, "SAME", 1),
        ((8, 8), (3, 3), 2, "SAME", 1),  # asymmetric: the padding pixel goes after
        ((7, 9), (3, 3), 2, "SAME", 1),
        ((6, 6), (5, 5), 2, "SAME", 1),
        ((8, 7), (2, 2), 2, "SAME", 1),
        ((9, 8), (3, 2), 1, "VALID", 1),
        ((8, 8), (3, 3), 2, "VALID", 1),
        ((9, 9), (3, 3), 1, "SAME", 2),
        ((6, 5), (1, 1), 1, "SAME", 1),
    ],
)
def test_conv2d(tiny, rng, size, kernel, stride, padding, dilation):
    x = rng.standard_normal((1, *size, 3)).astype(np.float32)
    w = rng.standard_normal((*kernel, 3, 4)).astype(np.float32)
    tiny.placeholder("x", x.shape)
    tiny.const("w", w, quantize="float16")
    tiny.op(
        "Conv2D",
        "y",
        ["x", "w"],
        T="DT_FLOAT",
        data_format="NHWC",
        padding=padding,
        strides=[1, stride, stride, 1],
        dilations=[1, dilation, dilation, 1],
    )
    tiny.output("y")
    out, _ = convert_and_run(tiny, {"x:0": x})
    expected = ref_conv2d(
        x.astype(np.float64), fp16(w), (stride, stride), padding, (dilation, dilation)
    )
    assert_close(out["y:0"], expected)


def test_conv2d_same_stride2_pads_after(tiny):
    """Hand-checked: 4x4 ramp, 3x3 ones, stride 2: TF pads one row/column *after*, so the
    first output sums rows/cols 0..2 and the last sees the zero padding."""
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    tiny.placeholder("x", x.shape)
    tiny.const("w", np.ones((3, 3, 1, 1), np.float32))
    tiny.op("Conv2D", "y", ["x", "w"], padding="SAME", strides=[1, 2, 2, 1])
    tiny.output("y")
    out, _ = convert_and_run(tiny, {"x:0": x})
    # 45 = x[0:3, 0:3].sum(), 66 = x[2:4, 0:3].sum(); padding before would give 10 first.
    expected = np.array([[45, 39], [66, 50]], np.float32)
    np.testing.assert_array_equal(out["y:0"][0, :, :, 0], expected)


def test_conv2d_nchw_data_format(tiny, rng):
    x = rng.standard_normal((1, 3, 6, 5)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 2)).astype(np.float32)
    tiny.placeholder("x", x.shape)
    tiny.const("w", w)
    tiny.op("Conv2D", "y", ["x", "w"], data_format="NCHW", padding="SAME", strides=[1, 1, 2, 2])
    tiny.output("y")
    out, _ = convert_and_run(tiny, {"x:0": x})
    expected = ref_conv2d(x.transpose(0, 2, 3, 1).astype(np.float64), w, (2, 2), "SAME")
    assert_close(out["y:0"], expected.transpose(0, 3, 1, 2))


# --- depthwise -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("multiplier", "stride", "padding", "size"),
    [
        (1, 1, "SAME", (7, 7)),
        (1, 2, "SAME", (8, 8)),
        (2, 1, "SAME", (6, 7)),
        (2, 2, "VALID", (9, 8)),
        (3, 2, "SAME", (5, 6)),
    ],
)
def test_depthwise(tiny, rng, multiplier, stride, padding, size):
    x = rng.standard_normal((1, *size, 4)).astype(np.float32)
    w = rng.standard_normal((3, 3, 4, multiplier)).astype(np.float32)
    tiny.placeholder("x", x.shape)
    tiny.const("w", w, quantize="float16")
    tiny.op(
        "DepthwiseConv2dNative",
        "y",
        ["x", "w"],
        T="DT_FLOAT",
        data_format="NHWC",
        padding=padding,
        strides=[1, stride, stride, 1],
        dilations=[1, 1, 1, 1],
    )
    tiny.output("y")
    out, _ = convert_and_run(tiny, {"x:0": x})
    expected = ref_depthwise(x.astype(np.float64), fp16(w), (stride, stride), padding)
    assert_close(out["y:0"], expected)


# --- fused convolutions ---------------------------------------------------------------------

_ACTIVATIONS = {
    None: lambda v, a: v,
    "Relu": lambda v, a: np.maximum(v, 0),
    "Relu6": lambda v, a: np.clip(v, 0, 6),
    "LeakyRelu": lambda v, a: np.where(v > 0, v, 0.3 * v),
    "Elu": lambda v, a: np.where(v > 0, v, np.exp(v) - 1),
    "Sigmoid": lambda v, a: 1 / (1 + np.exp(-v)),
    "Prelu": lambda v, a: np.where(v > 0, v, a * v),
}


@pytest.mark.parametrize("depthwise", [False, True])
@pytest.mark.parametrize("act", list(_ACTIVATIONS))
def test_fused_conv(tiny, rng, depthwise, act):
    x = 3 * rng.standard_normal((1, 7, 6, 4)).astype(np.float32)
    w = rng.standard_normal((3, 3, 4, 1 if depthwise else 5)).astype(np.float32)
    channels = 4 if depthwise else 5
    bias = rng.standard_normal(channels).astype(np.float32)
    slope = rng.uniform(0.1, 0.5, channels).astype(np.float32)
    tiny.placeholder("x", x.shape)
    tiny.const("w", w, quantize="float16")
    tiny.const("b", bias, quantize="float16")
    inputs = ["x", "w", "b"]
    fused = ["BiasAdd"] + ([act] if act else [])
    if act == "Prelu":
        inputs.append(tiny.const("alpha", slope))
    op = "FusedDepthwiseConv2dNative" if depthwise else "_FusedConv2D"
    tiny.op(
        op,
        "y",
        inputs,
        T="DT_FLOAT",
        data_format="NHWC",
        padding="SAME",
        strides=[1, 2, 2, 1],
        dilations=[1, 1, 1, 1],
        fused_ops=fused,
        num_args=len(inputs) - 2,
        epsilon=0.0,
        leakyrelu_alpha=0.3,
    )
    tiny.output("y")
    out, _ = convert_and_run(tiny, {"x:0": x})
    conv = ref_depthwise if depthwise else ref_conv2d
    expected = conv(x.astype(np.float64), fp16(w), (2, 2), "SAME") + fp16(bias)
    assert_close(out["y:0"], _ACTIVATIONS[act](expected, slope.astype(np.float64)))


# --- pooling --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "size"),
    [
        (3, 1, "SAME", (7, 7)),
        (3, 2, "SAME", (8, 8)),
        (3, 2, "VALID", (9, 8)),
        (2, 2, "SAME", (7, 5)),
        (3, 2, "SAME", (5, 6)),
    ],
)
def test_max_pool(tiny, rng, kernel, stride, padding, size):
    x = rng.standard_normal((1, *size, 3)).astype(np.float32) - 5  # all negative: padding
    tiny.placeholder("x", x.shape)  # must not win the max
    tiny.op(
        "MaxPool",
        "y",
        ["x"],
        T="DT_FLOAT",
        data_format="NHWC",
        padding=padding,
        ksize=[1, kernel, kernel, 1],
        strides=[1, stride, stride, 1],
    )
    tiny.output("y")
    out, _ = convert_and_run(tiny, {"x:0": x})
    assert_close(out["y:0"], ref_max_pool(x, (kernel, kernel), (stride, stride), padding))


# --- resize ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("align_corners", "half_pixel"), [(False, False), (False, True), (True, False)]
)
@pytest.mark.parametrize(
    ("size", "out_size"), [((4, 5), (8, 10)), ((6, 7), (3, 4)), ((4, 4), (1, 3)), ((5, 3), (7, 7))]
)
def test_resize_bilinear(tiny, rng, align_corners, half_pixel, size, out_size):
    x = rng.standard_normal((1, *size, 2)).astype(np.float32)
    tiny.placeholder("x", x.shape)
    tiny.const("size", np.array(out_size, np.int32))
    tiny.op(
        "ResizeBilinear",
        "y",
        ["x", "size"],
        T="DT_FLOAT",
        align_corners=align_corners,
        half_pixel_centers=half_pixel,
    )
    tiny.output("y")
    out, _ = convert_and_run(tiny, {"x:0": x})
    expected = ref_resize_bilinear(x.astype(np.float64), *out_size, align_corners, half_pixel)
    assert_close(out["y:0"], expected)


def test_resize_half_pixel_single_output_row_reads_the_middle(tiny):
    """TF half_pixel_centers (ONNX "half_pixel") maps the only output row of 4 → 1 to
    input row 1.5; ONNX "pytorch_half_pixel" would read row 0."""
    x = np.arange(4, dtype=np.float32).reshape(1, 4, 1, 1) * 10
    tiny.placeholder("x", x.shape)
    tiny.const("size", np.array([1, 1], np.int32))
    tiny.op("ResizeBilinear", "y", ["x", "size"], half_pixel_centers=True)
    tiny.output("y")
    out, _ = convert_and_run(tiny, {"x:0": x})
    assert out["y:0"].item() == pytest.approx(15.0)


def test_conv2d_same_with_unknown_spatial_size(tiny, rng):
    """Without static H/W the SAME rule is left to ONNX's SAME_UPPER (the same rule)."""
    w = rng.standard_normal((3, 3, 2, 3)).astype(np.float32)
    tiny.placeholder("x", (1, -1, -1, 2))
    tiny.const("w", w)
    tiny.op("Conv2D", "y", ["x", "w"], padding="SAME", strides=[1, 2, 2, 1])
    tiny.output("y")
    model = convert_graph_model(tiny.write())
    for size in ((8, 8), (7, 9)):
        x = rng.standard_normal((1, *size, 2)).astype(np.float32)
        out = run_onnx(model, {"x:0": x})["y:0"]
        assert_close(out, ref_conv2d(x.astype(np.float64), w, (2, 2), "SAME"))

"""Patch codec: every 16-px patch at its class's JPEG quality, class 0 optionally downsampled.

JPEG is libjpeg-turbo through ``simplejpeg`` (its wheel bundles libjpeg-turbo 3, so it does
not depend on the distribution's library version; encode/decode speed measured equal to
PyTurboJPEG and OpenCV on a 4K frame).

Layout: for each class, its patches (raster order, so neighbours in the mosaic are often
neighbours in the frame) are gathered into a mosaic ``cols`` patches wide and encoded as
one baseline JPEG (4:2:0 colour or grayscale). Patches sit on the 16x16 MCU grid, so every
DCT block of a full-resolution class belongs to exactly one patch. A class downsampled by
``d`` is area-averaged to ``16/d``-px tiles first (its chroma blocks then span neighbouring
tiles: acceptable for the least important class). Decoding scatters the patches back;
downsampled mosaics are upsampled bilinearly as a whole (see :func:`_upsample` for the
small blending at tile borders that this trades for speed).

Bitstream (little-endian)::

    header  "<4sBHHBBHHB"  magic b"HYPC", version 1, height, width, channels (1|3),
                           patch size, rows, cols, classes K
    K x     "<BBI"         quality, downsample factor, JPEG segment length (0 = empty)
    "<I"                   zlib-compressed class map length, then that many bytes
                           (rows*cols uint8, row-major)
    K JPEG segments, class 0 first.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import cv2
import numpy as np
import simplejpeg

MAGIC = b"HYPC"
VERSION = 1
_HEADER = struct.Struct("<4sBHHBBHHB")
_CLASS = struct.Struct("<BBI")
_LENGTH = struct.Struct("<I")


#: Largest frame a payload may declare (a 16K x 8K array camera, with room to spare); a
#: corrupted or hostile header must not make the decoder allocate gigabytes.
MAX_PIXELS = 16384 * 8192


class CodecError(ValueError):
    """A payload that is not a valid, complete patch-codec bitstream."""


@dataclass(frozen=True, kw_only=True)
class ClassEncoding:
    """Encoding of one class: JPEG ``quality`` (1..100), ``downsample`` factor (1, 2 or 4)."""

    quality: int
    downsample: int = 1


def _strips(frame: np.ndarray, patch: int) -> tuple[np.ndarray, tuple[int, int]]:
    """``(patch, rows, cols, patch*ch)`` view of the frame (edge-padded copy if needed).

    Indexing ``view[:, r, c]`` with ``(W,)`` index arrays yields ``(patch, W, patch*ch)``:
    one mosaic row of patches already in image layout, so gathering and scattering move
    each pixel once instead of going through a patch-major copy of the 4K frame.
    """
    height, width, channels = frame.shape
    rows, cols = -(-height // patch), -(-width // patch)
    if (rows * patch, cols * patch) != (height, width):
        pad = ((0, rows * patch - height), (0, cols * patch - width), (0, 0))
        frame = np.pad(frame, pad, mode="edge")
    view = frame.reshape(rows, patch, cols, patch * channels).transpose(1, 0, 2, 3)
    return view, (rows, cols)


def _mosaic_indices(members: np.ndarray, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame ``(row, col)`` of each mosaic slot, ``(mosaic_rows, cols)``; padding reads (0, 0)."""
    slots = -(-members.size // cols) * cols
    padded = np.zeros(slots, np.int64)
    padded[: members.size] = members
    return (padded // cols).reshape(-1, cols), (padded % cols).reshape(-1, cols)


def _upsample(image: np.ndarray, factor: int) -> np.ndarray:
    """Bilinear upsampling of a whole decoded mosaic ``(h, w, ch)`` by ``factor``.

    One ``cv2.resize`` over the mosaic (a per-tile, edge-clamped version measured 60-250 ms
    on a 4K class 0, far over budget). Only the outer ``factor/2`` pixels of each tile
    blend with their mosaic neighbour, which horizontally is usually the frame neighbour.
    """
    size = (image.shape[1] * factor, image.shape[0] * factor)
    out = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    return out.reshape(size[1], size[0], image.shape[2])


def _colorspace(channels: int) -> str:
    return "GRAY" if channels == 1 else "BGR"


def encode_frame(
    frame: np.ndarray,
    classes: np.ndarray,
    encodings: tuple[ClassEncoding, ...],
    *,
    patch_size: int = 16,
) -> bytes:
    """Encode a frame patch by patch; the frame is not mutated.

    Args:
        frame: ``(H, W)`` or ``(H, W, 1)`` grayscale or ``(H, W, 3)`` BGR uint8, any size.
        classes: ``(ceil(H/p), ceil(W/p))`` integer class per patch, ``0 <= c < K``.
        encodings: ``K`` per-class quality and downsampling.
        patch_size: patch side in pixels, a multiple of 16 (the 4:2:0 MCU).
    """
    image = np.asarray(frame)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (1, 3):
        raise ValueError(f"frame must be uint8 (H, W[, 1|3]), got {image.dtype} {image.shape}")
    if patch_size <= 0 or patch_size % 16:
        raise ValueError(f"patch_size must be a positive multiple of 16, got {patch_size}")
    strips, grid = _strips(image, patch_size)
    class_map = np.asarray(classes)
    if class_map.shape != grid:
        raise ValueError(f"class map {class_map.shape} does not match patch grid {grid}")
    k = len(encodings)
    if k == 0 or k > 255 or class_map.min() < 0 or class_map.max() >= k:
        raise ValueError(f"classes must lie in [0, {k}) with 1..255 encodings")
    flat = class_map.reshape(-1).astype(np.uint8)
    segments: list[bytes] = []
    for c, enc in enumerate(encodings):
        if not 1 <= enc.quality <= 100 or enc.downsample not in (1, 2, 4):
            raise ValueError(f"class {c}: invalid {enc}")
        members = np.flatnonzero(flat == c)
        if members.size == 0:
            segments.append(b"")
            continue
        src_rows, src_cols = _mosaic_indices(members, grid[1])
        mosaic = np.empty((src_rows.shape[0], patch_size, grid[1], strips.shape[3]), np.uint8)
        for row in range(src_rows.shape[0]):
            np.copyto(mosaic[row], strips[:, src_rows[row], src_cols[row]])
        # Constant padding costs a few bits per block; copies of patch (0, 0) would not.
        mosaic[-1, :, members.size - (src_rows.shape[0] - 1) * grid[1] :] = 0
        mosaic = mosaic.reshape(-1, grid[1] * patch_size, image.shape[2])
        if enc.downsample > 1:
            # INTER_AREA with an integer factor averages d x d blocks, never across tiles.
            shape = (mosaic.shape[1] // enc.downsample, mosaic.shape[0] // enc.downsample)
            small = cv2.resize(mosaic, shape, interpolation=cv2.INTER_AREA)
            mosaic = small.reshape(shape[1], shape[0], image.shape[2])
        segments.append(
            simplejpeg.encode_jpeg(
                mosaic,
                quality=enc.quality,
                colorspace=_colorspace(image.shape[2]),
                colorsubsampling="Gray" if image.shape[2] == 1 else "420",
            )
        )
    packed_map = zlib.compress(flat.tobytes(), 6)
    parts = [
        _HEADER.pack(
            MAGIC,
            VERSION,
            image.shape[0],
            image.shape[1],
            image.shape[2],
            patch_size,
            grid[0],
            grid[1],
            k,
        )
    ]
    parts += [
        _CLASS.pack(e.quality, e.downsample, len(s))
        for e, s in zip(encodings, segments, strict=False)
    ]
    parts += [_LENGTH.pack(len(packed_map)), packed_map, *segments]
    return b"".join(parts)


def _parse(payload: bytes) -> tuple[tuple[int, ...], list[ClassEncoding], np.ndarray, list[bytes]]:
    view = memoryview(payload)
    try:
        magic, version, height, width, channels, patch, rows, cols, k = _HEADER.unpack_from(view)
        if magic != MAGIC or version != VERSION:
            raise CodecError(f"not a patch-codec v{VERSION} payload (magic {bytes(magic)!r})")
        if channels not in (1, 3) or patch == 0 or patch % 16 or k == 0:
            raise CodecError("corrupted header")
        if (rows, cols) != (-(-height // patch), -(-width // patch)):
            raise CodecError("corrupted header: grid does not match frame size")
        if height * width > MAX_PIXELS:
            raise CodecError(f"frame {width}x{height} exceeds the {MAX_PIXELS}-pixel limit")
        offset = _HEADER.size
        encodings, lengths = [], []
        for _ in range(k):
            quality, factor, length = _CLASS.unpack_from(view, offset)
            if not 1 <= quality <= 100 or factor not in (1, 2, 4):
                raise CodecError("corrupted class table")
            encodings.append(ClassEncoding(quality=quality, downsample=factor))
            lengths.append(length)
            offset += _CLASS.size
        (map_length,) = _LENGTH.unpack_from(view, offset)
        offset += _LENGTH.size
        packed = bytes(view[offset : offset + map_length])
        offset += map_length
        flat = np.frombuffer(zlib.decompress(packed), np.uint8)
    except (struct.error, zlib.error) as exc:
        raise CodecError(f"truncated or corrupted payload: {exc}") from exc
    if flat.size != rows * cols or (flat.size and flat.max() >= k):
        raise CodecError("corrupted class map")
    if offset + sum(lengths) != len(payload):
        raise CodecError(f"payload is {len(payload)} bytes, header says {offset + sum(lengths)}")
    segments = []
    for length in lengths:
        segments.append(bytes(view[offset : offset + length]))
        offset += length
    return (height, width, channels, patch, rows, cols), encodings, flat, segments


def decode_frame(payload: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Rebuild the full-resolution frame and the class map from :func:`encode_frame` output.

    Returns:
        ``(frame, classes)``: ``(H, W, ch)`` uint8 (``ch`` 1 or 3, BGR) and the
        ``(rows, cols)`` uint8 class map, both new arrays.

    Raises:
        CodecError: magic/version mismatch, truncation, or a corrupted JPEG segment.
    """
    (height, width, channels, patch, rows, cols), encodings, flat, segments = _parse(payload)
    frame = np.empty((rows * patch, cols * patch, channels), np.uint8)
    strips = frame.reshape(rows, patch, cols, patch * channels).transpose(1, 0, 2, 3)
    for c, (enc, segment) in enumerate(zip(encodings, segments, strict=False)):
        members = np.flatnonzero(flat == c)
        if members.size == 0:
            continue
        side = patch // enc.downsample
        expected = (-(-members.size // cols) * side, cols * side)
        try:
            image = simplejpeg.decode_jpeg(segment, colorspace=_colorspace(channels))
        except ValueError as exc:
            raise CodecError(f"class {c}: corrupted JPEG segment: {exc}") from exc
        if image.shape[:2] != expected:
            raise CodecError(f"class {c}: mosaic {image.shape[:2]}, expected {expected}")
        image = image.reshape(*expected, channels)
        if enc.downsample > 1:
            image = _upsample(image, enc.downsample)
        mosaic = image.reshape(-1, patch, cols, patch * channels)
        src_rows, src_cols = _mosaic_indices(members, cols)
        for row in range(src_rows.shape[0]):
            used = min(cols, members.size - row * cols)
            strips[:, src_rows[row, :used], src_cols[row, :used]] = mosaic[row, :, :used]
    classes = flat.reshape(rows, cols).copy()
    return frame[:height, :width], classes

"""Patch codec: every 16-px patch at its class's JPEG quality, class 0 optionally downsampled.

JPEG is libjpeg-turbo through ``simplejpeg`` (its wheel bundles libjpeg-turbo 3, so it does
not depend on the distribution's library version; encode/decode speed measured equal to
PyTurboJPEG and OpenCV on a 4K frame).

Layout: for each class, its patches (raster order, so neighbours in the mosaic are often
neighbours in the frame) are gathered into a mosaic ``cols`` patches wide and encoded as
one baseline JPEG (4:2:0 colour or grayscale). Patches sit on the 16x16 MCU grid, so every
DCT block of a full-resolution class belongs to exactly one patch. A class downsampled by
``d`` is area-averaged to ``16/d``-px tiles first (its chroma blocks then span neighbouring
tiles: acceptable for the least important class). Decoding gathers the patches back;
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
#: Downsampling factors a class may use. 8 leaves 2-px tiles: only for class 0 on links
#: too slow for anything finer (a 4K class 0 at q10 shrinks from ~31 kB at 4x to ~11 kB).
DOWNSAMPLE_FACTORS = (1, 2, 4, 8)
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
    """Encoding of one class: JPEG ``quality`` (1..100), ``downsample`` factor (one of
    :data:`DOWNSAMPLE_FACTORS`)."""

    quality: int
    downsample: int = 1


def _pixel_rows(frame: np.ndarray, patch: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The frame (edge-padded to whole patches) as a flat array of patch pixel rows.

    Item ``(r * patch + y) * cols + c`` is pixel row ``y`` of patch ``(r, c)``: ``patch *
    channels`` contiguous bytes, one numpy ``void`` element. Gathering such items moves
    whole rows with one copy each, where indexing a transposed ``uint8`` view moved single
    bytes (the codec's former layout cost 25-40 ms per 4K frame in those loops alone).
    """
    height, width = frame.shape[:2]
    rows, cols = -(-height // patch), -(-width // patch)
    if (rows * patch, cols * patch) != (height, width):
        pad = ((0, rows * patch - height), (0, cols * patch - width), (0, 0))
        frame = np.pad(frame, pad, mode="edge")
    return _as_rows(np.ascontiguousarray(frame), patch), (rows, cols)


def _as_rows(image: np.ndarray, patch: int) -> np.ndarray:
    return image.reshape(-1).view(f"V{patch * image.shape[2]}")


def _row_index(patch_index: np.ndarray, cols: int, patch: int) -> np.ndarray:
    """``(*patch_index.shape[:-1], patch, cols)`` row items of patches laid out ``cols`` wide.

    Args:
        patch_index: ``(n, cols)`` flat patch numbers ``r * cols + c`` of a frame or mosaic
            whose rows are ``cols`` patches wide.
    """
    rows, columns = np.divmod(patch_index, cols)
    first = (rows * patch * cols + columns)[:, None, :]
    return first + (np.arange(patch) * cols)[None, :, None]


def _mosaic_slots(members: np.ndarray, cols: int) -> np.ndarray:
    """``(mosaic_rows, cols)`` frame patch of each mosaic slot; padding slots read patch 0."""
    slots = np.zeros(-(-members.size // cols) * cols, np.int64)
    slots[: members.size] = members
    return slots.reshape(-1, cols)


def _upsample(image: np.ndarray, factor: int, out: np.ndarray) -> None:
    """Bilinear upsampling of a whole decoded mosaic ``(h, w, ch)`` by ``factor`` into ``out``.

    One ``cv2.resize`` over the mosaic (a per-tile, edge-clamped version measured 60-250 ms
    on a 4K class 0, far over budget). Only the outer ``factor/2`` pixels of each tile
    blend with their mosaic neighbour, which horizontally is usually the frame neighbour.
    """
    size = (image.shape[1] * factor, image.shape[0] * factor)
    resized = out.reshape(size[1], size[0], *(() if image.shape[2] == 1 else (image.shape[2],)))
    cv2.resize(image, size, dst=resized, interpolation=cv2.INTER_LINEAR)


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
    pixel_rows, grid = _pixel_rows(image, patch_size)
    class_map = np.asarray(classes)
    if class_map.shape != grid:
        raise ValueError(f"class map {class_map.shape} does not match patch grid {grid}")
    k = len(encodings)
    if k == 0 or k > 255 or class_map.min() < 0 or class_map.max() >= k:
        raise ValueError(f"classes must lie in [0, {k}) with 1..255 encodings")
    flat = class_map.reshape(-1).astype(np.uint8)
    segments: list[bytes] = []
    for c, enc in enumerate(encodings):
        if not 1 <= enc.quality <= 100 or enc.downsample not in DOWNSAMPLE_FACTORS:
            raise ValueError(f"class {c}: invalid {enc}")
        members = np.flatnonzero(flat == c)
        if members.size == 0:
            segments.append(b"")
            continue
        slots = _mosaic_slots(members, grid[1])
        mosaic = pixel_rows[_row_index(slots, grid[1], patch_size)]
        mosaic = mosaic.view(np.uint8).reshape(-1, grid[1] * patch_size, image.shape[2])
        # Constant padding costs a few bits per block; copies of patch (0, 0) would not.
        mosaic[-patch_size:, (members.size - (slots.shape[0] - 1) * grid[1]) * patch_size :] = 0
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


def class_segment_bytes(payload: bytes) -> tuple[int, ...]:
    """Bytes of each class's JPEG segment, read from the header alone (no decoding).

    This is what each class cost on the wire, the measurement the scheduler's size
    correction learns from.

    Raises:
        CodecError: not a complete patch-codec header.
    """
    view = memoryview(payload)
    try:
        magic, version, *_, k = _HEADER.unpack_from(view)
        if magic != MAGIC or version != VERSION:
            raise CodecError(f"not a patch-codec v{VERSION} payload (magic {bytes(magic)!r})")
        return tuple(_CLASS.unpack_from(view, _HEADER.size + i * _CLASS.size)[2]
                     for i in range(k))
    except struct.error as exc:
        raise CodecError(f"truncated header: {exc}") from exc


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
            if not 1 <= quality <= 100 or factor not in DOWNSAMPLE_FACTORS:
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

    Every class mosaic is decoded straight into one stacked buffer (upsampled in place when
    downsampled), then the frame is gathered from it in one pass of patch pixel rows
    (see :func:`_pixel_rows`).

    Returns:
        ``(frame, classes)``: ``(H, W, ch)`` uint8 (``ch`` 1 or 3, BGR) and the
        ``(rows, cols)`` uint8 class map, both new arrays.

    Raises:
        CodecError: magic/version mismatch, truncation, or a corrupted JPEG segment.
    """
    (height, width, channels, patch, rows, cols), encodings, flat, segments = _parse(payload)
    counts = np.bincount(flat, minlength=len(encodings))
    first_row = np.concatenate([[0], np.cumsum(-(-counts // cols))])
    stack = np.empty((int(first_row[-1]) * patch, cols * patch, channels), np.uint8)
    slot = np.empty(flat.size, np.int64)  # each patch's index among all mosaic slots
    for c, (enc, segment) in enumerate(zip(encodings, segments, strict=False)):
        if counts[c] == 0:
            continue
        _decode_mosaic(segment, enc, stack[first_row[c] * patch : first_row[c + 1] * patch], c)
        members = np.flatnonzero(flat == c)
        slot[members] = first_row[c] * cols + np.arange(members.size)
    # Row y of frame patch (r, c) is row y of that patch's mosaic slot.
    source = _row_index(slot.reshape(rows, cols), cols, patch)
    frame = _as_rows(stack, patch)[source].view(np.uint8)
    frame = frame.reshape(rows * patch, cols * patch, channels)
    classes = flat.reshape(rows, cols).copy()
    return frame[:height, :width], classes


def _decode_mosaic(segment: bytes, enc: ClassEncoding, out: np.ndarray, c: int) -> None:
    """Decode one class's JPEG into ``out`` (its full-resolution mosaic rows), in place.

    The header's size is checked before any pixel is written; a full-resolution mosaic is
    decoded straight into ``out``, a downsampled one into a new array, then upsampled.
    """
    channels = out.shape[2]
    expected = (out.shape[0] // enc.downsample, out.shape[1] // enc.downsample)
    image = None
    try:
        shape = simplejpeg.decode_jpeg_header(segment)[:2]
        if shape == expected:
            image = simplejpeg.decode_jpeg(segment, colorspace=_colorspace(channels),
                                           buffer=out if enc.downsample == 1 else None)
    except ValueError as exc:
        raise CodecError(f"class {c}: corrupted JPEG segment: {exc}") from exc
    if image is None:
        raise CodecError(f"class {c}: mosaic {shape}, expected {expected}")
    if enc.downsample > 1:
        _upsample(image.reshape(*expected, channels), enc.downsample, out)

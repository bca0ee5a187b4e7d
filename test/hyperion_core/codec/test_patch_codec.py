import zlib

import cv2
import numpy as np
import pytest

from hyperion_core.codec.patch_codec import ClassEncoding, CodecError, decode_frame, encode_frame


def _psnr(a, b):
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255**2 / mse)


@pytest.fixture(scope="module")
def real_crop():
    from hyperion_core.data.array_camera import array_camera_frames

    try:
        frame = next(array_camera_frames(1))
    except FileNotFoundError as exc:
        pytest.skip(f"vtest clip missing: {exc}")
    return np.ascontiguousarray(frame[600 : 600 + 203, 900 : 900 + 331])  # odd size: padded edges


def _classes(shape, rng, k=3):
    rows, cols = -(-shape[0] // 16), -(-shape[1] // 16)
    return rng.integers(0, k, (rows, cols)).astype(np.uint8)


@pytest.mark.parametrize("gray", [False, True])
def test_patches_match_stock_decoder(real_crop, gray):
    rng = np.random.default_rng(8)
    frame = cv2.cvtColor(real_crop, cv2.COLOR_BGR2GRAY) if gray else real_crop
    classes = _classes(frame.shape, rng)
    qualities = (20, 50, 90)
    payload = encode_frame(frame, classes, tuple(ClassEncoding(quality=q) for q in qualities))
    decoded, class_map = decode_frame(payload)
    assert decoded.shape[:2] == frame.shape[:2] and decoded.shape[2] == (1 if gray else 3)
    np.testing.assert_array_equal(class_map, classes)
    ref = frame[:, :, None] if gray else frame
    for r, c in [(0, 0), (5, 7), (12, 20), (3, 15), (12, 0)]:  # includes padded edge patches
        tile = np.ascontiguousarray(ref[r * 16 : (r + 1) * 16, c * 16 : (c + 1) * 16])
        quality = qualities[classes[r, c]]
        _, buf = cv2.imencode(".jpg", tile, [cv2.IMWRITE_JPEG_QUALITY, quality])
        stock = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED).reshape(tile.shape)
        ours = decoded[r * 16 : (r + 1) * 16, c * 16 : (c + 1) * 16]
        # Same quantisation, different block neighbours (DC prediction only): close to stock.
        assert _psnr(ours, stock) > 30
        assert abs(_psnr(ours, tile) - _psnr(stock, tile)) < 3


def test_quality_orders_fidelity(real_crop):
    rng = np.random.default_rng(9)
    classes = _classes(real_crop.shape, rng)
    psnr = []
    for q in (10, 50, 95):
        decoded, _ = decode_frame(encode_frame(real_crop, classes, (ClassEncoding(quality=q),) * 3))
        psnr.append(_psnr(decoded, real_crop))
    assert psnr[0] < psnr[1] < psnr[2]


def test_downsampled_class0(real_crop):
    rng = np.random.default_rng(10)
    classes = _classes(real_crop.shape, rng, k=2)
    full = encode_frame(real_crop, classes, (ClassEncoding(quality=80), ClassEncoding(quality=80)))
    small = encode_frame(
        real_crop, classes, (ClassEncoding(quality=80, downsample=4), ClassEncoding(quality=80))
    )
    assert len(small) < len(full)
    decoded, _ = decode_frame(small)
    mask = np.kron(classes == 0, np.ones((16, 16), bool))[
        : real_crop.shape[0], : real_crop.shape[1]
    ]
    reference = cv2.resize(
        cv2.resize(real_crop, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA),
        real_crop.shape[1::-1],
    )
    assert _psnr(decoded[mask], reference[mask]) > 18  # blurred, but the same picture
    assert _psnr(decoded[~mask], real_crop[~mask]) > 30  # class 1 untouched


def test_synthetic_shapes_and_empty_class():
    rng = np.random.default_rng(11)
    frame = rng.integers(0, 255, (17, 33, 3), dtype=np.uint8)
    classes = np.zeros((2, 3), np.uint8)  # classes 1, 2 empty
    decoded, _ = decode_frame(encode_frame(frame, classes, (ClassEncoding(quality=90),) * 3))
    assert decoded.shape == frame.shape
    with pytest.raises(ValueError):
        encode_frame(frame, np.zeros((1, 1), np.uint8), (ClassEncoding(quality=90),))
    with pytest.raises(ValueError):
        encode_frame(frame, classes + 3, (ClassEncoding(quality=90),) * 3)
    with pytest.raises(ValueError):
        encode_frame(frame.astype(np.float32), classes, (ClassEncoding(quality=90),))


def test_corrupted_and_truncated_payloads():
    rng = np.random.default_rng(12)
    frame = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    payload = encode_frame(frame, _classes(frame.shape, rng), (ClassEncoding(quality=60),) * 3)
    for bad in (payload[:10], payload[:-50], b"XXXX" + payload[4:], payload + b"\0", b""):
        with pytest.raises(CodecError):
            decode_frame(bad)
    corrupted = bytearray(payload)
    jpeg_at = payload.index(b"\xff\xd8")
    corrupted[jpeg_at + 2 : jpeg_at + 60] = bytes(58)  # wipe the JPEG's tables
    with pytest.raises(CodecError):
        decode_frame(bytes(corrupted))
    bad_map = bytearray(payload)
    start = payload.index(zlib.compress(b"", 6)[:2])  # zlib header of the class map
    bad_map[start + 2 : start + 6] = b"\xff\xff\xff\xff"
    with pytest.raises(CodecError):
        decode_frame(bytes(bad_map))
    assert issubclass(CodecError, ValueError)


def _reference_decode(payload: bytes, frame_shape: tuple[int, ...]) -> np.ndarray:
    """Patch-by-patch rebuild with OpenCV's decoder, read from the documented bitstream."""
    import struct

    _, _, height, width, channels, patch, rows, cols, k = struct.unpack_from("<4sBHHBBHHB", payload)
    offset = struct.calcsize("<4sBHHBBHHB")
    table = [struct.unpack_from("<BBI", payload, offset + 6 * i) for i in range(k)]
    offset += 6 * k
    (map_length,) = struct.unpack_from("<I", payload, offset)
    offset += 4
    flat = np.frombuffer(zlib.decompress(payload[offset : offset + map_length]), np.uint8)
    offset += map_length
    out = np.zeros((rows * patch, cols * patch, channels), np.uint8)
    for c, (_, factor, length) in enumerate(table):
        segment = np.frombuffer(payload[offset : offset + length], np.uint8)
        offset += length
        members = np.flatnonzero(flat == c)
        if members.size == 0:
            continue
        mosaic = cv2.imdecode(segment, cv2.IMREAD_UNCHANGED)
        if factor > 1:
            size = (mosaic.shape[1] * factor, mosaic.shape[0] * factor)
            mosaic = cv2.resize(mosaic, size, interpolation=cv2.INTER_LINEAR)
        mosaic = mosaic.reshape(mosaic.shape[0], mosaic.shape[1], channels)
        for slot, patch_index in enumerate(members):
            r, col = divmod(int(patch_index), cols)
            mr, mc = divmod(slot, cols)
            out[r * patch : (r + 1) * patch, col * patch : (col + 1) * patch] = mosaic[
                mr * patch : (mr + 1) * patch, mc * patch : (mc + 1) * patch
            ]
    return out[:height, :width]


@pytest.mark.parametrize("gray", [False, True])
@pytest.mark.parametrize("factor", [1, 2, 4, 8])
def test_decode_equals_patchwise_reference(real_crop, gray, factor):
    rng = np.random.default_rng(13)
    frame = cv2.cvtColor(real_crop, cv2.COLOR_BGR2GRAY) if gray else real_crop
    classes = _classes(frame.shape, rng)
    encodings = (
        ClassEncoding(quality=30, downsample=factor),
        ClassEncoding(quality=60),
        ClassEncoding(quality=90),
    )
    payload = encode_frame(frame, classes, encodings)
    decoded, _ = decode_frame(payload)
    reference = _reference_decode(payload, frame.shape)
    np.testing.assert_array_equal(decoded, reference.reshape(decoded.shape))


@pytest.mark.parametrize("factor", [1, 2])
def test_mosaic_of_the_wrong_size_is_refused(factor):
    """A class's JPEG must hold exactly its patches: here class 1's map has 1 mosaic row,
    its segment (from another frame's encoding) 2."""
    import struct

    rng = np.random.default_rng(14)
    frame = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    encodings = (ClassEncoding(quality=50, downsample=factor), ClassEncoding(quality=50))
    one_row, two_rows = np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8)
    one_row[0], two_rows[:2] = 1, 1

    def split(payload: bytes) -> tuple[bytes, list, bytes, list[bytes]]:
        offset = struct.calcsize("<4sBHHBBHHB")
        table = [struct.unpack_from("<BBI", payload, offset + 6 * i) for i in range(2)]
        offset += 12
        (map_length,) = struct.unpack_from("<I", payload, offset)
        class_map = payload[offset + 4 : offset + 4 + map_length]
        offset += 4 + map_length
        segments = []
        for *_, length in table:
            segments.append(payload[offset : offset + length])
            offset += length
        return payload[: struct.calcsize("<4sBHHBBHHB")], table, class_map, segments

    head, table, class_map, _ = split(encode_frame(frame, one_row, encodings))
    *_, segments = split(encode_frame(frame, two_rows, encodings))
    swapped = head + b"".join(struct.pack("<BBI", q, d, len(s))
                              for (q, d, _), s in zip(table, segments, strict=True))
    swapped += struct.pack("<I", len(class_map)) + class_map + b"".join(segments)
    with pytest.raises(CodecError, match="mosaic"):
        decode_frame(swapped)

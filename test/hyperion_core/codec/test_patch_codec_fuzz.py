"""Property-based fuzzing of the patch decoder: any byte string either decodes to a frame
consistent with its header or raises CodecError — never another exception, never a
frame of the wrong size."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hyperion_core.codec.patch_codec import (
    _HEADER,
    MAGIC,
    ClassEncoding,
    CodecError,
    decode_frame,
    encode_frame,
)


def _valid_payload() -> bytes:
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (40, 72, 3), np.uint8)
    classes = rng.integers(0, 3, (3, 5))
    encodings = (ClassEncoding(quality=20, downsample=4), ClassEncoding(quality=50),
                 ClassEncoding(quality=90))
    return encode_frame(frame, classes, encodings)


VALID = _valid_payload()


def _decode_or_codec_error(payload: bytes) -> None:
    try:
        frame, classes = decode_frame(payload)
    except CodecError:
        return
    height, width = _HEADER.unpack_from(payload)[2:4]
    assert frame.shape[:2] == (height, width)
    assert classes.shape == (-(-height // 16), -(-width // 16))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_never_crash(data):
    _decode_or_codec_error(data)
    _decode_or_codec_error(MAGIC + data)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)),
                min_size=1, max_size=8))
def test_mutated_valid_payload_never_crashes(mutations):
    payload = bytearray(VALID)
    for position, value in mutations:
        payload[position] = value
    _decode_or_codec_error(bytes(payload))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, len(VALID) - 1))
def test_truncated_payload_raises(cut):
    with pytest.raises(CodecError):
        decode_frame(VALID[:cut])


def test_oversized_frame_header_is_refused_before_allocating():
    header = bytearray(VALID)
    # Claim a 65535 x 65535 frame with a consistent grid: it must be refused, not allocated.
    fields = list(_HEADER.unpack_from(header))
    fields[2], fields[3], fields[6], fields[7] = 65535, 65535, 4096, 4096
    header[: _HEADER.size] = _HEADER.pack(*fields)
    with pytest.raises(CodecError, match="limit"):
        decode_frame(bytes(header))

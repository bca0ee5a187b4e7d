"""The SAHI adapter and the tiling detector, driven by a fake detector (no model weights)."""

import numpy as np
import pytest

from hyperion_core.models.base import Detections, Detector
from hyperion_core.models.tiled import TiledConfig, TiledDetector

pytest.importorskip("sahi", reason="sahi is the cloud backend's dependency")

from hyperion_core.models.sahi_backend import SahiConfig, SahiDetector


class BrightSpotDetector(Detector):
    """Reports the bounding box of pure-white pixels in the image it is given."""

    def __init__(self):
        self.calls = []

    @property
    def class_names(self):
        return ("spot",)

    def predict(self, image):
        self.calls.append(image.shape)
        ys, xs = np.nonzero((image == 255).all(axis=2))
        if len(xs) == 0:
            return Detections.empty(self.class_names)
        box = [[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]]
        return Detections(box, [0.9], [0], self.class_names)


@pytest.fixture
def frame():
    image = np.zeros((1080, 1920, 3), np.uint8)
    image[700:760, 1500:1530] = 255  # one "object" away from the origin
    return image


def test_sahi_detector_returns_full_frame_pixels(frame):
    inner = BrightSpotDetector()
    detector = SahiDetector(inner=inner, config=SahiConfig(slice_size=640, overlap=0.25))
    found = detector.predict(frame)
    assert len(inner.calls) > 1 and all(s[0] <= 640 and s[1] <= 640 for s in inner.calls)
    assert len(found) == 1, found.boxes  # overlapping slices merged by NMS
    np.testing.assert_allclose(found.boxes[0], [1500, 700, 1530, 760], atol=1)
    assert found.labels() == ["spot"]


def test_sahi_detector_empty_frame():
    detector = SahiDetector(inner=BrightSpotDetector(), config=SahiConfig(slice_size=640))
    found = detector.predict(np.zeros((700, 700, 3), np.uint8))
    assert len(found) == 0 and found.class_names == ("spot",)


def test_sahi_config_validation():
    with pytest.raises(ValueError):
        SahiConfig(overlap=1.0)


def test_tiled_detector_maps_back_through_scale_and_offset(frame):
    inner = BrightSpotDetector()
    detector = TiledDetector(inner=inner, config=TiledConfig(scale=0.5, columns=4, rows=2))
    found = detector.predict(frame)
    assert len(inner.calls) == 8
    assert len(found) == 1
    np.testing.assert_allclose(found.boxes[0], [1500, 700, 1530, 760], atol=3)

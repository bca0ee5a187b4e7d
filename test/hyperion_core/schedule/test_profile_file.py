import numpy as np
import pytest

from hyperion_core.schedule.accuracy_table import ShareAccuracy
from hyperion_core.schedule.profile_file import Profiles, read_profiles, write_profiles
from hyperion_core.schedule.profiles import (
    AccuracyProfile,
    FitStats,
    RelativeErrors,
    SizeProfile,
    save_profiles,
)
from hyperion_core.schedule.size_table import SizeTable

STATS = FitStats(r=0.9, r2=0.81, n=25, rmse=0.01)


def test_table_profiles_round_trip(tmp_path):
    profiles = Profiles(
        size=SizeTable(qualities=(10, 50), ratios={(0, 1): (0.01, 0.03), (0, 4): (0.002, 0.005),
                                                   (1, 1): (0.02, 0.05)}, beta=0.001,
                       relative_error=RelativeErrors(p50=0.0, p90=0.1, p95=0.12, p99=0.2,
                                                     max=0.3, n=40)),
        accuracy=ShareAccuracy(knots=(10, 50), tables={(0, 1): (0.0, 0.1), (0, 4): (-0.02, 0.05),
                                                       (1, 1): (0.0, 0.3)}, bias=0.6,
                               stats=STATS, shape="linear"),
        edge_accuracy=0.55, byte_price=0.02, provenance={"frames": [1, 2]})
    write_profiles(tmp_path / "p.yaml", profiles)
    back = read_profiles(tmp_path / "p.yaml")
    assert back == profiles
    shares = np.array([0.7, 0.3])
    assert back.size.predict_bytes(raw_bytes=1e6, shares=shares, qualities=(30, 50),
                                   downsample=(4, 1)) == pytest.approx(
        profiles.size.predict_bytes(raw_bytes=1e6, shares=shares, qualities=(30, 50),
                                    downsample=(4, 1)))


def test_first_layout_still_reads(tmp_path):
    size = SizeProfile(alpha={1: 0.001}, beta=0.01, stats=STATS)
    acc = AccuracyProfile(weights={(0, 1): 0.001, (1, 1): 0.002}, bias=0.5, stats=STATS)
    save_profiles(tmp_path / "old.yaml", size, acc)
    back = read_profiles(tmp_path / "old.yaml")
    assert back.size == size and back.accuracy.weights == acc.weights
    assert back.edge_accuracy is None and back.byte_price == 0.0


def test_bad_files_name_themselves(tmp_path):
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match=r"list\.yaml"):
        read_profiles(tmp_path / "list.yaml")
    (tmp_path / "future.yaml").write_text("format: hyperion-profiles/9\n")
    with pytest.raises(ValueError, match=r"future\.yaml.*unknown profile format"):
        read_profiles(tmp_path / "future.yaml")
    (tmp_path / "broken.yaml").write_text("format: hyperion-profiles/2\nsize: {model: table}\n")
    with pytest.raises(ValueError, match=r"broken\.yaml.*malformed"):
        read_profiles(tmp_path / "broken.yaml")

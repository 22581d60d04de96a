"""Keypoint cache: keys, atomic round trip, corrupt entries detected, concurrent writers safe."""

import hashlib
import os
import stat
import subprocess
import sys
import time
import typing
from pathlib import Path

import numpy as np
import pytest

from preprocessing.cache import CorruptEntryError, PoseSequence, cache_key, load_pose, save_pose
from preprocessing.files import atomic_output
from preprocessing.registry import EXERCISES, Exercise

REPO = Path(__file__).resolve().parents[1]


def sequence(value: float = 0.5, total_frames: int = 40) -> PoseSequence:
    rng = np.random.default_rng(int(value * 1000))
    return PoseSequence(
        landmarks=rng.uniform(0, 1, (16, 33, 4)).astype(np.float32),
        detected=rng.uniform(size=16) < 0.8,
        frame_indices=np.linspace(0, total_frames - 1, 16).astype(np.int64),
        total_frames=total_frames,
    )


def assert_same(a: PoseSequence, b: PoseSequence) -> None:
    np.testing.assert_array_equal(a.landmarks, b.landmarks)
    np.testing.assert_array_equal(a.detected, b.detected)
    np.testing.assert_array_equal(a.frame_indices, b.frame_indices)
    assert a.total_frames == b.total_frames


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"x" * 100)
    return path


def test_key_is_content_hash_and_settings_hash(video, tmp_path, monkeypatch):
    key = cache_key(video, "settings-a")
    content, settings = key.removesuffix(".npz").split("_")
    assert content == hashlib.sha1(b"x" * 100).hexdigest()
    assert len(settings) == 16
    monkeypatch.chdir(tmp_path)
    assert cache_key("clip.mp4", "settings-a") == key  # same file from another working directory
    copy = tmp_path / "elsewhere" / "renamed.mp4"
    copy.parent.mkdir()
    copy.write_bytes(video.read_bytes())
    assert cache_key(copy, "settings-a") == key  # same video listed from another folder: same entry


def test_key_changes_with_settings_kind_and_content_not_with_touch(video):
    key = cache_key(video, "settings-a")
    assert cache_key(video, "settings-a") == key
    assert cache_key(video, "settings-b") != key
    assert cache_key(video, "settings-a", "track-48") != key
    stat = video.stat()
    os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # touched: same bytes
    assert cache_key(video, "settings-a") == key
    video.write_bytes(b"y" * 100)  # rewritten in place, same size
    os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000))
    rewritten = cache_key(video, "settings-a")
    assert rewritten.split("_")[0] != key.split("_")[0] and rewritten.split("_")[1] == key.split("_")[1]


def test_key_of_missing_video_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        cache_key(tmp_path / "absent.mp4", "s")


def test_round_trip_is_exact_and_leaves_no_temp_file(tmp_path):
    entry = tmp_path / "sub" / "entry.npz"
    save_pose(entry, sequence())
    loaded = load_pose(entry)
    assert_same(loaded, sequence())
    assert loaded.landmarks.dtype == np.float32 and loaded.detected.dtype == bool
    assert loaded.frame_indices.dtype == np.int64 and isinstance(loaded.total_frames, int)
    assert os.listdir(entry.parent) == ["entry.npz"]
    assert loaded.aspect == 0.0  # unknown unless given
    track = PoseSequence(np.zeros((40, 33, 4), np.float32), np.ones(40, bool), np.arange(40), 41, aspect=16 / 9)
    save_pose(entry, track)  # a dense track: any length, with the frame's aspect
    loaded = load_pose(entry)
    assert loaded.landmarks.shape == (40, 33, 4) and loaded.aspect == pytest.approx(16 / 9)
    save_pose(entry, sequence(0.7))  # overwrite
    assert_same(load_pose(entry), sequence(0.7))


def test_save_refuses_malformed_sequence_and_writes_nothing(tmp_path):
    entry = tmp_path / "entry.npz"
    bad = sequence()
    with pytest.raises(ValueError, match="entry.npz.*detected"):
        save_pose(entry, PoseSequence(bad.landmarks[:15], bad.detected, bad.frame_indices, 40))
    with pytest.raises(ValueError, match="not increasing"):
        save_pose(entry, PoseSequence(bad.landmarks, bad.detected, bad.frame_indices[::-1], 40))
    nan = bad.landmarks.copy()
    nan[3, 4, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        save_pose(entry, PoseSequence(nan, bad.detected, bad.frame_indices, 40))
    assert os.listdir(tmp_path) == []


def test_missing_entry_is_a_miss_not_corruption(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_pose(tmp_path / "absent.npz")


def write_garbage(path: Path) -> None:
    path.write_bytes(os.urandom(3000))


def write_truncated(path: Path) -> None:
    save_pose(path, sequence())
    path.write_bytes(path.read_bytes()[:5000])


def write_empty(path: Path) -> None:
    path.write_bytes(b"")


def write_bare_npy(path: Path) -> None:
    with open(path, "wb") as handle:
        np.save(handle, sequence().landmarks)


def write_arrays(**changes):
    def write(path: Path) -> None:
        good = sequence()
        arrays: dict[str, np.ndarray | np.generic | None] = {
            "landmarks": good.landmarks,
            "detected": good.detected,
            "frame_indices": good.frame_indices,
            "total_frames": np.int64(40),
        }
        arrays.update(changes)
        with open(path, "wb") as handle:
            np.savez(handle, **{name: value for name, value in arrays.items() if value is not None})

    return write


@pytest.mark.parametrize(
    "damage, problem",
    [
        (write_garbage, "unreadable"),
        (write_truncated, "unreadable"),
        (write_empty, "unreadable"),
        (write_bare_npy, "not an .npz"),
        (write_arrays(landmarks=np.zeros((16, 33, 3), np.float32)), "landmarks"),
        (write_arrays(landmarks=np.zeros((16, 33, 4), np.float64)), "float64"),
        (write_arrays(detected=None), "arrays"),
        (write_arrays(landmarks=np.full((16, 33, 4), np.inf, np.float32)), "infinity"),
        (write_arrays(frame_indices=np.arange(30, 46)), "total_frames=40"),
    ],
    ids=["garbage", "truncated", "empty", "bare-npy", "shape", "dtype", "missing-array", "inf", "indices"],
)
def test_corrupt_entry_raises_naming_file_and_problem(tmp_path, damage, problem):
    entry = tmp_path / "entry.npz"
    damage(entry)
    with pytest.raises(CorruptEntryError) as raised:
        load_pose(entry)
    assert str(entry) in str(raised.value) and problem in str(raised.value)


def test_flipped_bytes_never_escape_as_other_errors(tmp_path):
    entry = tmp_path / "entry.npz"
    save_pose(entry, sequence())
    good = entry.read_bytes()
    rng = np.random.default_rng(0)
    corrupt = 0
    for _ in range(300):
        damaged = bytearray(good)
        for position in rng.integers(0, len(good), rng.integers(1, 4)):
            damaged[position] ^= int(rng.integers(1, 256))
        entry.write_bytes(bytes(damaged))
        try:
            load_pose(entry)  # some flips land in bytes nobody checks; the entry must still be valid
        except CorruptEntryError:
            corrupt += 1
    assert corrupt > 200


WRITER = """
import sys, time
from pathlib import Path
import numpy as np
from preprocessing.cache import PoseSequence, save_pose
entry, number, go = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
mine = PoseSequence(np.full((16, 33, 4), number, np.float32), np.ones(16, bool), np.arange(16), 100 + number)
(go.parent / f"ready{number}").touch()
while not go.exists():
    time.sleep(0.005)
end = time.monotonic() + 0.8
while time.monotonic() < end:
    save_pose(entry, mine)
"""


def test_concurrent_writers_leave_one_valid_entry_and_no_temp_files(tmp_path):
    entry, go = tmp_path / "cache" / "entry.npz", tmp_path / "go"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(entry), str(number), str(go)], cwd=REPO)
        for number in range(4)
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready*"))) < 4 and time.monotonic() < deadline:
        assert all(writer.poll() is None for writer in writers), "a writer died before starting"
        time.sleep(0.01)
    go.touch()
    reads = set()
    while any(writer.poll() is None for writer in writers):
        try:
            read = load_pose(entry)  # a reader never sees a half-written or mixed entry
        except FileNotFoundError:
            continue
        number = read.total_frames - 100
        assert (read.landmarks == number).all()
        reads.add(number)
    assert [writer.wait() for writer in writers] == [0, 0, 0, 0]
    final = load_pose(entry)
    assert (final.landmarks == final.total_frames - 100).all()
    assert os.listdir(entry.parent) == ["entry.npz"]
    assert len(reads) >= 2  # the writers really overlapped


def test_atomic_output_is_shared_and_leaves_nothing_on_failure(tmp_path: Path) -> None:
    """Outputs come out mode 0644 (not mkstemp's 0600); a failed write keeps the old file, no temp."""
    target = tmp_path / "sub" / "report.csv"
    with atomic_output(target) as temp:
        assert temp.parent == target.parent and temp.suffix == ".csv"
        temp.write_text("a\n")
    assert target.read_text() == "a\n" and stat.S_IMODE(target.stat().st_mode) == 0o644
    with pytest.raises(RuntimeError), atomic_output(target) as temp:
        temp.write_text("partial")
        raise RuntimeError("writer failed")
    assert target.read_text() == "a\n" and sorted(p.name for p in target.parent.iterdir()) == ["report.csv"]


def test_exercise_type_lists_every_exercise() -> None:
    assert set(typing.get_args(Exercise)) == set(EXERCISES)

"""Frame sampling: exact indices, right frames, wrong frame counts, short videos, clear errors."""

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from preprocessing.video import VideoError, read_sampled_frames, sample_indices

FRAMES = 40


def frame_value(index: int) -> int:
    """Grey level of synthetic frame ``index``: each frame carries its own number."""
    return 10 + 5 * index


def write_avi(path: Path, frames: int) -> Path:
    """MJPG AVI whose frame i is uniformly grey at ``frame_value(i)`` (MJPG keeps it within +-1)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25, (64, 48))
    assert writer.isOpened()
    for index in range(frames):
        writer.write(np.full((48, 64, 3), frame_value(index), np.uint8))
    writer.release()
    return path


def with_claimed_count(source: Path, target: Path, claimed: int) -> Path:
    """Copy of an AVI whose headers (avih dwTotalFrames, strh dwLength) claim ``claimed`` frames."""
    data = bytearray(source.read_bytes())
    avih, strh = data.index(b"avih"), data.index(b"strh")
    data[avih + 24 : avih + 28] = struct.pack("<I", claimed)
    data[strh + 40 : strh + 44] = struct.pack("<I", claimed)
    target.write_bytes(bytes(data))
    capture = cv2.VideoCapture(str(target))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == claimed  # the container now lies
    capture.release()
    return target


def assert_frames_match(frames: list[np.ndarray], indices: np.ndarray) -> None:
    assert len(frames) == len(indices) == 16
    for frame, index in zip(frames, indices, strict=False):
        assert frame.dtype == np.uint8 and frame.shape == (48, 64, 3)
        assert abs(frame.mean() - frame_value(index)) < 1.5, f"frame {index} has the wrong content"


@pytest.fixture(scope="module")
def avi(tmp_path_factory) -> Path:
    return write_avi(tmp_path_factory.mktemp("video") / "count.avi", FRAMES)


def test_sample_indices_match_the_original():
    assert sample_indices(120).tolist() == [0, 7, 15, 23, 31, 39, 47, 55, 63, 71, 79, 87, 95, 103, 111, 119]
    assert sample_indices(16).tolist() == list(range(16))
    assert sample_indices(5).tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 4]
    assert sample_indices(1).tolist() == [0] * 16
    assert sample_indices(10, num=4).tolist() == [0, 3, 6, 9]
    with pytest.raises(ValueError):
        sample_indices(0)


def test_reads_the_sampled_frames(avi):
    frames, indices, total = read_sampled_frames(avi)
    assert total == FRAMES
    assert indices.tolist() == sample_indices(FRAMES).tolist()
    assert_frames_match(frames, indices)


def test_rgb_order(tmp_path):
    path = tmp_path / "red.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25, (64, 48))
    for _ in range(3):
        writer.write(np.dstack([np.zeros((48, 64)), np.zeros((48, 64)), np.full((48, 64), 200)]).astype(np.uint8))
    writer.release()
    frame = read_sampled_frames(path)[0][0]
    assert frame[..., 0].mean() > 150 and frame[..., 2].mean() < 50  # BGR red came back as RGB red


@pytest.mark.parametrize("claimed", [60, 10])
def test_wrong_reported_frame_count(avi, tmp_path, claimed):
    frames, indices, total = read_sampled_frames(with_claimed_count(avi, tmp_path / "liar.avi", claimed))
    assert total == FRAMES
    assert indices.tolist() == sample_indices(FRAMES).tolist()
    assert_frames_match(frames, indices)


def test_slightly_short_video_uses_the_decodable_frames(avi, tmp_path):
    cut = tmp_path / "cut.avi"
    cut.write_bytes(avi.read_bytes()[: int(avi.stat().st_size * 0.8)])
    frames, indices, total = read_sampled_frames(cut)
    assert FRAMES // 2 <= total < FRAMES
    assert indices.tolist() == sample_indices(total).tolist()
    assert_frames_match(frames, indices)


def test_truncated_video_is_an_error(avi, tmp_path):
    """Half the bytes cut off (the header still announces 40 frames), or a header announcing 100
    frames of which 40 decode: the samples would cover only part of the movement."""
    truncated = tmp_path / "truncated.avi"
    truncated.write_bytes(avi.read_bytes()[: int(avi.stat().st_size * 0.5)])
    for path in (truncated, with_claimed_count(avi, tmp_path / "liar.avi", 100)):
        with pytest.raises(VideoError, match=r"truncated or damaged: only \d+ of the \d+ frames") as error:
            read_sampled_frames(path)
        assert str(error.value).startswith(f"{path}: ")


def test_video_shorter_than_16_frames(tmp_path):
    frames, indices, total = read_sampled_frames(write_avi(tmp_path / "short.avi", 5))
    assert total == 5
    assert indices.tolist() == sample_indices(5).tolist()
    assert_frames_match(frames, indices)


def bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n")
    empty = tmp_path / "empty.avi"
    empty.touch()
    folder = tmp_path / "folder.mp4"
    folder.mkdir()
    return {
        "no_frames": (write_avi(tmp_path / "no_frames.avi", 0), "no decodable frame"),
        "missing": (tmp_path / "missing.mp4", "no such file"),
        "text": (text, "not a readable video"),
        "empty": (empty, "empty file"),
        "folder": (folder, "not a file"),
    }


@pytest.mark.parametrize("kind", ["no_frames", "missing", "text", "empty", "folder"])
def test_bad_input_names_the_file(tmp_path, kind):
    path, problem = bad_inputs(tmp_path)[kind]
    with pytest.raises(VideoError) as error:
        read_sampled_frames(path)
    assert str(path) in str(error.value) and problem in str(error.value)

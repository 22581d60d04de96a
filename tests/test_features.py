"""Video -> pose -> features end to end: real MediaPipe, real cache entries, corrupt entries rebuilt."""

import json
import logging
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import carphone_video

from preprocessing.cache import CorruptEntryError, PoseSequence, cache_key, load_pose, save_pose
from preprocessing.constants import DEFAULT_CACHE_DIR, FEATURE_DIMS, NUM_FRAMES
from preprocessing.features import preprocessing_signature, sequence_features, video_features, video_pose, video_track
from preprocessing.pose import PoseEstimator, PoseSettings
from preprocessing.video import VideoError

SETTINGS = PoseSettings()


@pytest.fixture(scope="module")
def estimator():
    with PoseEstimator(SETTINGS) as shared:
        yield shared


@pytest.fixture
def person_video(tmp_path: Path) -> Path:
    """A private copy (the tests touch it) of a 120-frame clip in which BlazePose finds a man."""
    return Path(shutil.copy(carphone_video(), tmp_path / "carphone.mp4"))


@pytest.fixture
def empty_video(tmp_path: Path) -> Path:
    """A 10-frame clip with nobody in it, written with OpenCV."""
    path = tmp_path / "empty.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10, (64, 48))
    for index in range(10):
        writer.write(np.full((48, 64, 3), 20 * index, np.uint8))
    writer.release()
    return path


def assert_same(a: PoseSequence, b: PoseSequence) -> None:
    np.testing.assert_array_equal(a.landmarks, b.landmarks)
    np.testing.assert_array_equal(a.detected, b.detected)
    np.testing.assert_array_equal(a.frame_indices, b.frame_indices)
    assert a.total_frames == b.total_frames


def test_person_video_is_extracted_cached_and_rebuilt_when_corrupt(person_video, tmp_path, estimator, caplog):
    cache = tmp_path / "cache"
    first, from_cache = video_pose(person_video, SETTINGS, cache, estimator)
    assert not from_cache
    assert first.detected.all() and first.total_frames == 120
    assert first.frame_indices.tolist() == np.linspace(0, 119, NUM_FRAMES).astype(int).tolist()
    head = first.landmarks[:, :11]  # upper body in view: the face landmarks are visible, in the image
    assert (head[..., 3] > 0.9).all() and ((head[..., :2] > 0) & (head[..., :2] < 1)).all()
    entry = cache / cache_key(person_video, SETTINGS.token())
    assert os.listdir(cache) == [entry.name]
    assert_same(load_pose(entry), first)

    again, from_cache = video_pose(person_video, SETTINGS, cache, estimator)
    assert from_cache
    assert_same(again, first)

    entry.write_bytes(entry.read_bytes()[:1000])  # truncated, e.g. a killed writer on a non-atomic FS
    with caplog.at_level(logging.WARNING, logger="preprocessing.features"):
        rebuilt, from_cache = video_pose(person_video, SETTINGS, cache, estimator)
    assert not from_cache
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert str(entry) in caplog.records[0].getMessage() and "rebuilding" in caplog.records[0].getMessage()
    np.testing.assert_allclose(rebuilt.landmarks, first.landmarks, atol=1e-4)
    assert_same(load_pose(entry), rebuilt)

    features = video_features(person_video, SETTINGS, cache, estimator)
    assert features.shape == (NUM_FRAMES, FEATURE_DIMS) and features.dtype == np.float32
    assert (features[:, -1] == 1).all()
    np.testing.assert_array_equal(features, sequence_features(rebuilt))


def test_moved_video_hits_new_settings_and_tracks_miss_the_cache(person_video, tmp_path, estimator):
    cache = tmp_path / "cache"
    video_pose(person_video, SETTINGS, cache, estimator)
    moved = tmp_path / "another" / "layout.mp4"
    moved.parent.mkdir()
    shutil.copy(person_video, moved)
    _, from_cache = video_pose(moved, SETTINGS, cache, estimator)
    assert from_cache and len(os.listdir(cache)) == 1  # same bytes from another folder: no re-extraction
    track, from_cache = video_track(person_video, SETTINGS, cache, estimator, num=24)
    assert not from_cache and len(os.listdir(cache)) == 2
    assert track.landmarks.shape[0] == len(np.unique(track.frame_indices)) == min(24, track.total_frames)
    assert track.aspect == pytest.approx(176 / 144) and track.detected.mean() > 0.9
    image_mode = PoseSettings(running_mode="image")
    with PoseEstimator(image_mode) as other:
        sequence, from_cache = video_pose(person_video, image_mode, cache, other)
    assert not from_cache and len(os.listdir(cache)) == 3 and sequence.detected.all()
    with pytest.raises(ValueError, match="estimator built with"):
        video_pose(person_video, image_mode, cache, estimator)


def test_video_without_person_gives_zero_features_and_default_cache_dir(empty_video, tmp_path, estimator, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sequence, from_cache = video_pose(empty_video, SETTINGS, None, estimator)
    assert not from_cache and not sequence.detected.any() and sequence.total_frames == 10
    assert sequence.frame_indices.tolist() == np.linspace(0, 9, NUM_FRAMES).astype(int).tolist()
    assert (tmp_path / DEFAULT_CACHE_DIR / cache_key(empty_video, SETTINGS.token())).is_file()
    features = sequence_features(sequence)
    assert features.shape == (NUM_FRAMES, FEATURE_DIMS) and not features.any()


def test_pose_file_is_read_directly(tmp_path):
    rng = np.random.default_rng(0)
    stored = PoseSequence(
        rng.uniform(0, 1, (16, 33, 4)).astype(np.float32),
        rng.uniform(size=16) < 0.9,
        np.linspace(0, 59, 16).astype(np.int64),
        60,
    )
    path = tmp_path / "rep.pose.npz"
    save_pose(path, stored)
    cache = tmp_path / "cache"
    sequence, from_cache = video_pose(path, SETTINGS, cache)
    assert from_cache and not cache.exists()
    assert_same(sequence, stored)
    path.write_bytes(b"garbage")
    with pytest.raises(CorruptEntryError, match="rep.pose.npz"):
        video_pose(path, SETTINGS, cache)


def test_missing_or_non_video_file_raises_video_error_and_caches_nothing(tmp_path, estimator):
    cache = tmp_path / "cache"
    for absent in ("absent.mp4", "absent.pose.npz"):
        with pytest.raises(VideoError, match=f"{absent}: no such file"):
            video_pose(tmp_path / absent, SETTINGS, cache, estimator)
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    with pytest.raises(VideoError, match="fake.mp4"):
        video_pose(fake, SETTINGS, cache, estimator)
    assert not cache.exists() or os.listdir(cache) == []


def test_preprocessing_signature_is_json_and_follows_settings():
    signature = preprocessing_signature(SETTINGS)
    assert json.loads(json.dumps(signature)) == signature
    assert signature["num_frames"] == 16 and signature["feature_dims"] == 133
    assert signature["normalization"] == "original" and signature["visibility_threshold"] == 0.25
    assert signature["pose_settings"]["running_mode"] == "video"
    assert preprocessing_signature(PoseSettings(running_mode="image")) != signature

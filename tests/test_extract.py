"""Batch extractor: real BlazePose in worker processes, summary counts, resume from cache, shards."""

import multiprocessing
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import carphone_video

from preprocessing.cache import cache_key, load_pose
from preprocessing.constants import FEATURE_DIMS, NUM_FRAMES
from preprocessing.extract import extract_to_cache, main, select_shard
from preprocessing.features import extract_pose, video_features, video_pose
from preprocessing.pose import PoseEstimator, PoseSettings
from preprocessing.video import read_sampled_frames


def write_avi(path: Path, frames: list[np.ndarray]) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """Two videos of a person, one of nobody, one text file named .mp4, one missing file."""
    folder = tmp_path_factory.mktemp("clips")
    person = shutil.copy(carphone_video(), folder / "person.mp4")
    bad = folder / "bad.mp4"
    bad.write_text("not a video")
    return {
        "person": Path(person),
        "person_avi": write_avi(folder / "person_again.avi", read_sampled_frames(person)[0][::-1]),
        "nobody": write_avi(folder / "nobody.avi", [np.full((96, 128, 3), 40 * i, np.uint8) for i in range(5)]),
        "bad": bad,
        "missing": folder / "missing.mp4",
    }


def test_extract_in_workers_then_resume_from_cache(clips, tmp_path):
    cache = tmp_path / "cache"
    paths = list(clips.values())
    first = extract_to_cache(paths, cache, num_workers=2, progress=False)
    assert (first.done, first.from_cache) == (3, 0)
    assert set(first.failed) == {str(clips["bad"]), str(clips["missing"])}
    assert "not a readable video" in first.failed[str(clips["bad"])]
    assert "no such file" in first.failed[str(clips["missing"])]
    assert all(path in reason for path, reason in first.failed.items())
    assert first.frames == 3 * NUM_FRAMES
    assert first.frames_without_person == NUM_FRAMES  # the carphone frames all have a person
    assert first.videos_without_person == [str(clips["nobody"])]
    assert len(list(cache.iterdir())) == 3  # one entry per good video, no temp files left

    second = extract_to_cache(paths, cache, num_workers=2, progress=False)
    assert (second.done, second.from_cache, set(second.failed)) == (0, 3, set(first.failed))
    assert second.frames_without_person == NUM_FRAMES

    sequence, from_cache = video_pose(clips["person"], PoseSettings(), cache)
    assert from_cache and sequence.detected.all()
    features = video_features(clips["person"], PoseSettings(), cache)
    assert features.shape == (NUM_FRAMES, FEATURE_DIMS) and features.dtype == np.float32
    assert (features[:, -1] == 1).all()  # every frame valid


def test_in_process_read_ahead_matches_one_video_after_the_other(clips, tmp_path):
    settings = PoseSettings()  # video mode: BlazePose tracks the person within each video
    paths = [clips["person"], clips["person_avi"], clips["bad"], clips["nobody"], clips["missing"]]
    summary = extract_to_cache(paths, tmp_path, settings, num_workers=0, progress=False)
    assert (summary.done, summary.from_cache, summary.frames) == (3, 0, 3 * NUM_FRAMES)
    assert set(summary.failed) == {str(clips["bad"]), str(clips["missing"])}
    assert summary.failed[str(clips["bad"])].startswith(f"{clips['bad']}: not a readable video")
    assert summary.failed[str(clips["missing"])].startswith(f"{clips['missing']}: no such file")
    assert summary.videos_without_person == [str(clips["nobody"])]
    with PoseEstimator(settings) as estimator:  # the plain path: one video after the other, one estimator
        for path in [clips["person"], clips["person_avi"], clips["nobody"]]:
            plain = extract_pose(path, settings, estimator)
            cached = load_pose(tmp_path / cache_key(path, settings.token()))
            np.testing.assert_array_equal(cached.landmarks, plain.landmarks)
            np.testing.assert_array_equal(cached.detected, plain.detected)
            np.testing.assert_array_equal(cached.frame_indices, plain.frame_indices)


def test_a_killed_worker_costs_a_retry_not_the_batch(clips, tmp_path):
    paths = [clips["person"], clips["person_avi"], clips["nobody"]]
    outcome = {}
    batch = threading.Thread(
        target=lambda: outcome.update(summary=extract_to_cache(paths, tmp_path / "cache", num_workers=2, progress=False))
    )
    batch.start()
    while not multiprocessing.active_children() and batch.is_alive():
        time.sleep(0.01)
    os.kill(multiprocessing.active_children()[0].pid, signal.SIGKILL)  # as the out-of-memory killer would
    batch.join(timeout=120)
    assert not batch.is_alive(), "the batch hung after a worker died"
    summary = outcome["summary"]
    assert summary.done + summary.from_cache == 3 and not summary.failed
    assert summary.frames_without_person == NUM_FRAMES


def test_select_shard_partitions_the_sorted_list():
    paths = [Path(f"videos/{name}.mp4") for name in "qwertyuiopasd"]
    shards = [select_shard(paths, f"{index}/4") for index in range(4)]
    assert sorted(path for shard in shards for path in shard) == sorted(paths)  # complete, disjoint
    assert [len(shard) for shard in shards] == [4, 3, 3, 3]
    assert shards[1] == sorted(paths)[1::4]
    assert select_shard(list(reversed(paths)), "1/4") == shards[1]  # input order does not matter
    for bad in ["4/4", "1/0", "-1/2", "a/b", "1", "1/2/3"]:
        with pytest.raises(ValueError, match="K/N"):
            select_shard(paths, bad)


def test_cli_shards_share_one_cache(clips, tmp_path, capsys):
    folder = clips["person"].parent
    cache = tmp_path / "cache"
    args = [str(folder), "--cache_dir", str(cache), "--num_workers", "0"]
    codes = [main([*args, "--shard", f"{k}/2"]) for k in range(2)]
    printed = capsys.readouterr().out
    assert codes == [1, 0]  # sorted: bad.mp4, nobody.avi, person.mp4, person_again.avi -> bad in shard 0
    assert "2 videos" in printed and "1 failed" in printed and "bad.mp4: not a readable video" in printed
    assert len(list(cache.iterdir())) == 3
    assert main([*args, "--no_progress"]) == 1
    assert capsys.readouterr().out == ""
    assert main([str(folder), "--shard", "2/2"]) == 2
    assert "K/N" in capsys.readouterr().out
    scores = tmp_path / "scores.csv"
    scores.write_text("video,score\nperson.mp4,80\nnobody.avi,10\n")
    assert main(["--csv", str(scores), "--data_dir", str(folder), "--cache_dir", str(cache), "--num_workers", "0"]) == 0
    assert "0 done, 2 from cache, 0 failed" in capsys.readouterr().out

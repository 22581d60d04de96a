"""Batch extractor: real BlazePose in worker processes, summary counts, resume from cache, shards."""

import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import carphone_video, write_clip

from preprocessing.cache import cache_key, load_pose
from preprocessing.constants import FEATURE_DIMS, NUM_FRAMES
from preprocessing.extract import extract_to_cache, main, select_shard
from preprocessing.features import extract_pose, video_features, video_pose
from preprocessing.pose import PoseEstimator, PoseSettings
from preprocessing.video import read_sampled_frames


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """Two videos of a person, one of nobody, one text file named .mp4, one missing file."""
    folder = tmp_path_factory.mktemp("clips")
    person = shutil.copy(carphone_video(), folder / "person.mp4")
    bad = folder / "bad.mp4"
    bad.write_text("not a video")
    return {
        "person": Path(person),
        "person_avi": write_clip(folder / "person_again.avi", read_sampled_frames(person)[0][::-1]),
        "nobody": write_clip(folder / "nobody.avi", [np.full((96, 128, 3), 40 * i, np.uint8) for i in range(5)]),
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


REPO = Path(__file__).resolve().parents[1]
# Fault injection for worker processes: a sitecustomize module (found through PYTHONPATH by every new
# interpreter) that acts only in multiprocessing's spawned children and only once per marker file
# (created with O_EXCL), so exactly one worker fails, at a chosen point, with no race on timing.
FAULTS = """
import os, signal, sys, time

def _first() -> bool:
    try:
        os.close(os.open(os.environ["FAULT_MARKER"], os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False

def _die(*_args, **_kwargs):
    if _first():
        os.kill(os.getpid(), signal.SIGKILL)

def _stall(*_args, **_kwargs):
    if _first():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # like a native library that swallows SIGTERM
        time.sleep(3600)

point = os.environ.get("FAULT_POINT")
if point and "spawn_main" in " ".join(sys.orig_argv):
    if point == "import":
        _die()
    elif point in ("initializer", "mid_video", "stall"):
        import preprocessing.pose, preprocessing.video
        if point == "initializer":
            _init = preprocessing.pose.PoseEstimator.__init__
            def __init__(self, *args, **kwargs):
                _die()
                _init(self, *args, **kwargs)
            preprocessing.pose.PoseEstimator.__init__ = __init__
        elif point == "mid_video":
            _estimate = preprocessing.pose.PoseEstimator.estimate
            def estimate(self, frames):
                _die()
                return _estimate(self, frames)
            preprocessing.pose.PoseEstimator.estimate = estimate
        else:
            _grab_all = preprocessing.video.grab_all
            def grab_all(*args):
                _stall()
                return _grab_all(*args)
            preprocessing.video.grab_all = grab_all
"""


@pytest.fixture
def faults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``faults(point)``: the next spawned worker to reach ``point`` (import, initializer, mid_video:
    SIGKILL; stall: hangs in the decoder, ignoring SIGTERM) does so, once; returns the marker file
    that exists once it happened."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(FAULTS)
    marker = tmp_path / "fault.marker"

    def arm(point: str) -> Path:
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(hooks), str(REPO)]))
        monkeypatch.setenv("FAULT_POINT", point)
        monkeypatch.setenv("FAULT_MARKER", str(marker))
        return marker

    return arm


@pytest.mark.parametrize("point", ["import", "initializer", "mid_video"])
def test_a_killed_worker_costs_a_retry_not_the_batch(clips, tmp_path, faults, point):
    marker = faults(point)
    paths = [clips["person"], clips["person_avi"], clips["nobody"]]
    summary = extract_to_cache(paths, tmp_path / "cache", num_workers=2, progress=False)
    assert marker.exists(), f"no worker was killed at {point}"
    assert (summary.done, summary.from_cache, summary.failed) == (3, 0, {})
    assert summary.frames_without_person == NUM_FRAMES
    assert not multiprocessing.active_children(), "a worker outlived the batch"


@pytest.mark.slow
def test_a_stalled_video_fails_on_its_time_limit_and_the_batch_goes_on(clips, tmp_path, faults):
    marker = faults("stall")
    paths = [clips["person"], clips["person_avi"], clips["nobody"]]
    start = time.monotonic()
    summary = extract_to_cache(paths, tmp_path / "cache", num_workers=2, progress=False, time_limit=20)
    assert marker.exists()
    assert summary.done == 2 and len(summary.failed) == 1
    ((stalled, reason),) = summary.failed.items()
    assert reason.startswith(f"{stalled}: took longer than 20 s") and "worker was stopped" in reason
    assert time.monotonic() - start < 60, "the stalled worker (ignoring SIGTERM) held the batch"
    assert not multiprocessing.active_children()


def test_a_batch_that_is_all_cached_starts_no_worker(clips, tmp_path, faults):
    paths = [clips["person"], clips["nobody"]]
    first = extract_to_cache(paths, tmp_path / "cache", num_workers=0, progress=False)
    assert first.done == 2
    marker = faults("import")  # any spawned worker would now die and leave the marker
    second = extract_to_cache(paths, tmp_path / "cache", num_workers=2, progress=False)
    assert (second.done, second.from_cache, second.failed) == (0, 2, {})
    assert not marker.exists(), "a worker process was started for a batch that was all cached"


def session_processes(session: int) -> list[int]:
    """Pids of the live (not zombie) processes of a session."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[3]) == session:
            pids.append(int(stat.parent.name))
    return pids


def extract_command(*videos: Path, cache_dir: Path) -> list[str]:
    """``python cli.py extract <videos>`` with two workers and no progress bar."""
    options = ["--cache_dir", str(cache_dir), "--num_workers", "2", "--no_progress"]
    return [sys.executable, str(REPO / "cli.py"), "extract", *map(str, videos), *options]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killing_the_extract_command_leaves_no_worker(clips, tmp_path, faults, sig):
    faults("stall")  # one worker hangs in its decoder, so workers are surely alive when the parent dies
    command = extract_command(clips["person"], clips["person_avi"], cache_dir=tmp_path / "cache")
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(session_processes(process.pid)) < 3 and time.monotonic() < deadline:  # parent + 2 workers
            time.sleep(0.1)
        assert len(session_processes(process.pid)) >= 3, "the workers never started"
        while not (tmp_path / "fault.marker").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        process.send_signal(sig)
        process.wait(timeout=30)
        deadline = time.monotonic() + 15
        while session_processes(process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert session_processes(process.pid) == [], "worker processes outlived the killed command"
    finally:
        for pid in session_processes(process.pid):
            os.kill(pid, signal.SIGKILL)


def test_workers_import_neither_torch_nor_lightning(clips, tmp_path):
    """Every interpreter of ``cli.py extract`` (the command and its spawned workers) reports its
    imports (-X importtime goes to the children through PYTHONPROFILEIMPORTTIME)."""
    command = extract_command(clips["person"], clips["nobody"], cache_dir=tmp_path / "cache")
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert finished.returncode == 0, finished.stderr[-3000:]
    imported = {line.split("|")[-1].strip() for line in finished.stderr.splitlines() if "import time:" in line}
    assert any(name.startswith("mediapipe.") for name in imported), "the workers' imports were not seen"
    assert not imported & {"torch", "pytorch_lightning", "lightning", "tensorflow"}  # (mediapipe pulls in a
    # 24-microsecond `tensorflow.tools.docs` stub, not TensorFlow)


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

"""Parallel chunked pose streams (serving/stream.py): the chunk plan, exact seeking, stitching, the
chunked stream of a real BlazePose video against the sequential one, and the failure paths (a killed
worker, Ctrl-C) leaving no process behind. Real-footage checks skip without ../shared."""

import multiprocessing
import os
import signal
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO, write_astronaut_set

from preprocessing.cache import PoseSequence
from preprocessing.pose import PoseEstimator, PoseSettings
from preprocessing.video import VideoError, opened_video
from serving.reps import segment
from serving.stream import (
    Chunk,
    Chunking,
    ChunkPose,
    chunk_poses,
    extract_stream,
    frame_digest,
    stitched,
    strided_frames,
    video_stream,
)

SHARED = REPO.parent / "shared"
SMALL = Chunking(workers=2, seconds=1.0, overlap_seconds=0.4)  # 30-frame chunks at 30 fps, 12 frames of overlap


def test_the_plan_depends_on_the_video_and_the_chunk_length_only() -> None:
    chunks = SMALL.plan(100, 30.0, 2)
    assert chunks == [Chunk(0, 30, 12), Chunk(30, 60, 12), Chunk(60, 90, 12), Chunk(90, None, 12)]
    assert [(chunk.lead, chunk.handoff) for chunk in chunks] == [(0, 18), (18, 48), (48, 78), (78, None)]
    assert Chunking(workers=7, seconds=1.0, overlap_seconds=0.4).plan(100, 30.0, 2) == chunks
    assert SMALL.plan(30, 30.0, 1) == [Chunk(0, None, 12)]  # one chunk: read sequentially
    assert SMALL.plan(0, 30.0, 1) == [Chunk(0, None, 12)]  # no frame count in the header
    odd = Chunking(seconds=1.0, overlap_seconds=0.1).plan(60, 25.0, 4)  # multiples of the stride
    assert [chunk.start for chunk in odd] == [0, 24, 48] and odd[0].overlap == 4
    with pytest.raises(ValueError, match="shorter than a chunk"):
        Chunking(seconds=0.5, overlap_seconds=0.5).plan(100, 30.0, 1)
    assert SMALL.kind(2) != "stream-2" and SMALL.kind(2) != Chunking(seconds=2.0).kind(2)


def digests_by_seeking(path: Path, indices: list[int]) -> list[str]:
    """Digests of the RGB frames at ``indices``, each read right after a CAP_PROP_POS_FRAMES seek."""
    found = []
    for index in indices:
        with opened_video(path) as capture:
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            _, frame = next(strided_frames(capture, 1, path))
            assert frame is not None
            found.append(frame_digest(frame))
    return found


def sequential_digests(path: Path) -> list[str]:
    with opened_video(path) as capture:
        return [frame_digest(frame) for _, frame in strided_frames(capture, 1, path) if frame is not None]


def noise_clip(path: Path, frames: int, codec: str) -> Path:
    """Frames of random noise (every frame differs from every other one) in a ``codec`` video."""
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*codec), 30, (64, 48))
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (48, 64, 3), np.uint8))
    writer.release()
    return path


def test_seeking_lands_on_the_exact_frame(tmp_path: Path) -> None:
    videos = [noise_clip(tmp_path / "noise.avi", 40, "MJPG"), noise_clip(tmp_path / "noise.mp4", 40, "mp4v")]
    if SHARED.is_dir():
        videos += sorted((SHARED / "real_footage" / "pushups").glob("*.mp4"))[:1]
    for video in videos:
        sequential = sequential_digests(video)
        targets = [1, 13, 29, 30, 31, len(sequential) - 1]
        assert digests_by_seeking(video, targets) == [sequential[index] for index in targets], video


def chunk_pose(start: int, stop: int, decoded_to: int, lead: str | None, handoff: str | None) -> ChunkPose:
    indices = np.arange(start, stop, dtype=np.int64)
    landmarks = np.full((len(indices), 33, 4), start, np.float32)
    sequence = PoseSequence(landmarks, np.ones(len(indices), bool), indices, decoded_to, 1.5) if len(indices) else None
    return ChunkPose(sequence, decoded_to, lead, handoff)


def test_stitching_ends_where_decoding_ends_and_refuses_an_inexact_seek() -> None:
    chunks = [Chunk(0, 10, 2), Chunk(10, 20, 2), Chunk(20, None, 2)]
    poses = [chunk_pose(0, 10, 10, "a", "b"), chunk_pose(10, 20, 20, "b", "c"), chunk_pose(20, 25, 25, "c", None)]
    whole = stitched(Path("v.mp4"), chunks, poses)
    assert whole is not None
    assert whole.frame_indices.tolist() == list(range(25)) and whole.total_frames == 25 and whole.aspect == 1.5
    assert whole.landmarks[:, 0, 0].tolist() == [0] * 10 + [10] * 10 + [20] * 5
    # the header overstated the count: the second chunk ends short, the third decoded nothing
    short = [poses[0], chunk_pose(10, 14, 14, "b", None), chunk_pose(20, 20, 18, None, None)]
    cut = stitched(Path("v.mp4"), chunks, short)
    assert cut is not None and cut.frame_indices.tolist() == list(range(14)) and cut.total_frames == 14
    # the second chunk's first frame is not the one the first chunk decoded there
    assert stitched(Path("v.mp4"), chunks, [poses[0], chunk_pose(10, 20, 20, "x", "c"), poses[2]]) is None
    with pytest.raises(VideoError, match="v.mp4: no decodable frame"):
        stitched(Path("v.mp4"), chunks[2:], [chunk_pose(20, 20, 18, None, None)])


@pytest.fixture(scope="module")
def astronaut_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PoseSequence]:
    """A 6 s generated set of three 'push-ups' of a real photo, and its sequential stream at stride 2."""
    video = tmp_path_factory.mktemp("chunks") / "astronaut_set.avi"
    write_astronaut_set(video, bumps=3)
    with PoseEstimator() as estimator:
        return video, extract_stream(video, estimator, stride=2)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_chunked_stream_agrees_with_the_sequential_one(astronaut_set: tuple[Path, PoseSequence], tmp_path: Path):
    video, sequential = astronaut_set
    chunked, cached = video_stream(video, PoseSettings(), tmp_path, stride=2, chunking=SMALL)
    assert not cached and len(SMALL.plan(180, 30.0, 2)) == 6
    stream = chunked.sequence
    np.testing.assert_array_equal(stream.frame_indices, sequential.frame_indices)  # 0, 2, 4, ...
    assert (stream.total_frames, stream.aspect) == (sequential.total_frames, sequential.aspect) == (180, 1.0)
    np.testing.assert_array_equal(stream.detected, sequential.detected)
    np.testing.assert_array_equal(stream.landmarks[:15], sequential.landmarks[:15])  # the first chunk: the same pass
    # Later chunks track from another history: measured median |dx, dy| 0.003 here (BlazePose per image,
    # without tracking, differs from the sequential stream by 0.005; real 1080p push-ups: 0.0004).
    visible = sequential.landmarks[..., 3] > 0.5
    assert np.median(np.abs(stream.landmarks - sequential.landmarks)[..., :2][visible]) < 0.005
    reps, _ = segment(stream, "pushup", chunked.fps, 2)
    expected, _ = segment(sequential, "pushup", chunked.fps, 2)
    assert len(reps) == len(expected) == 3
    for rep, reference in zip(reps, expected, strict=True):
        assert abs(rep.start - reference.start) <= 6 and abs(rep.end - reference.end) <= 6
        assert abs(rep.bottom - reference.bottom) <= 6
    three = video_stream(video, PoseSettings(), tmp_path / "other", stride=2, chunking=Chunking(3, 1.0, 0.4))[0]
    for name in ("landmarks", "detected", "frame_indices"):  # the worker count changes nothing
        np.testing.assert_array_equal(getattr(three.sequence, name), getattr(stream, name))
    again, cached = video_stream(video, PoseSettings(), tmp_path, stride=2, chunking=SMALL)
    assert cached and np.array_equal(again.sequence.landmarks, stream.landmarks)
    _, cached = video_stream(video, PoseSettings(), tmp_path, stride=2)  # the sequential stream: its own entry
    assert not cached and len(list(tmp_path.glob("*.npz"))) == 2


@pytest.mark.timeout(120)
def test_a_video_of_one_chunk_is_read_as_today(astronaut_set: tuple[Path, PoseSequence], tmp_path: Path) -> None:
    video, sequential = astronaut_set
    stream, _ = video_stream(video, PoseSettings(), tmp_path / "chunked", stride=2, chunking=Chunking(seconds=10.0))
    for name in ("landmarks", "detected", "frame_indices"):
        np.testing.assert_array_equal(getattr(stream.sequence, name), getattr(sequential, name))
    plain, _ = video_stream(video, PoseSettings(), tmp_path / "plain", stride=2)
    entries = [sorted(path.name for path in (tmp_path / kind).iterdir()) for kind in ("chunked", "plain")]
    assert entries[0] == entries[1] and len(entries[0]) == 1  # the same cache entry
    np.testing.assert_array_equal(plain.sequence.landmarks, stream.sequence.landmarks)
    assert plain.sequence.total_frames == stream.sequence.total_frames


@pytest.mark.timeout(120)
def test_a_truncated_video_ends_where_its_sequential_stream_ends(astronaut_set: tuple[Path, PoseSequence], tmp_path):
    """The header announces 180 frames, fewer decode: the chunks past the cut are dropped."""
    video, _ = astronaut_set
    cut = tmp_path / "cut.avi"
    cut.write_bytes(video.read_bytes()[: int(video.stat().st_size * 0.7)])
    chunked, _ = video_stream(cut, PoseSettings(), tmp_path, stride=2, chunking=SMALL)
    sequential, _ = video_stream(cut, PoseSettings(), tmp_path, stride=2)
    assert 60 < sequential.sequence.total_frames < 150
    assert chunked.sequence.total_frames == sequential.sequence.total_frames
    np.testing.assert_array_equal(chunked.sequence.frame_indices, sequential.sequence.frame_indices)


def new_children(before: set[int]) -> list[int]:
    """Pids of this process's live multiprocessing children that were not in ``before``."""
    return [child.pid for child in multiprocessing.active_children() if child.pid not in before and child.pid]


def no_child_left(before: set[int], workers: list[int]) -> None:
    assert new_children(before) == []
    for pid in workers:  # reaped, not a zombie
        assert not Path(f"/proc/{pid}").exists()


@pytest.mark.timeout(120)
def test_a_killed_worker_is_one_error_naming_the_file(astronaut_set: tuple[Path, PoseSequence]) -> None:
    video, _ = astronaut_set
    chunks = Chunking(seconds=0.5, overlap_seconds=0.2).plan(180, 30.0, 1)  # 12 chunks
    killed: list[int] = []
    before = {child.pid for child in multiprocessing.active_children() if child.pid}

    def kill_the_workers(samples: int) -> None:  # after each finished chunk, while the next ones run
        for pid in new_children(before):
            killed.append(pid)
            os.kill(pid, signal.SIGKILL)

    with pytest.raises(VideoError, match=r"astronaut_set\.avi: a pose worker process died"):
        chunk_poses(video, PoseSettings(), chunks, 1, 2, kill_the_workers)
    assert killed
    no_child_left(before, killed)


@pytest.mark.timeout(120)
def test_ctrl_c_stops_the_pool(astronaut_set: tuple[Path, PoseSequence]) -> None:
    video, _ = astronaut_set
    chunks = Chunking(seconds=0.5, overlap_seconds=0.2).plan(180, 30.0, 1)
    workers: list[int] = []
    before = {child.pid for child in multiprocessing.active_children() if child.pid}

    def interrupt(samples: int) -> None:
        workers.extend(new_children(before))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        chunk_poses(video, PoseSettings(), chunks, 1, 2, interrupt)
    assert workers
    no_child_left(before, workers)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_chunked_reps_on_real_pushups(tmp_path: Path) -> None:
    video = SHARED / "real_footage" / "pushups" / "push-up_7.mp4"
    if not video.is_file():
        pytest.skip(f"{SHARED} is absent (team material, not part of the project)")
    chunking = Chunking(workers=2, seconds=2.0, overlap_seconds=1.0)
    chunked, _ = video_stream(video, PoseSettings(), tmp_path, stride=2, chunking=chunking)
    sequential, _ = video_stream(video, PoseSettings(), tmp_path, stride=2)
    np.testing.assert_array_equal(chunked.sequence.frame_indices, sequential.sequence.frame_indices)
    reps, _ = segment(chunked.sequence, "pushup", chunked.fps, 2)
    expected, _ = segment(sequential.sequence, "pushup", sequential.fps, 2)
    assert len(reps) == len(expected) == 2

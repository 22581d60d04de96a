"""Score exercise videos with an exported model: 0..100 per video, and frames with a person (x/16).

    python cli.py score data/squats_test/clip.mp4 [more videos or folders] [--exercise squat]
    python cli.py score clip.mp4 --model checkpoints/squat_scorer.keras --json
    python cli.py score my_set.mp4 --exercise pushup --reps [--annotate out.mp4]  # per rep
    python cli.py score --live 0 --exercise squat --show       # camera 0 (or a URL / file)
    python cli.py score --test_sets --limit 5                  # each exercise's test folder, its model

(``formscore score ...`` and ``python scripts/score_video.py ...`` are the same command.)
The model is ``checkpoints/<exercise>_scorer.onnx`` unless ``--model`` names another artifact: an
``.onnx`` file runs in ONNX Runtime, a ``.keras`` file in Keras, a folder as a TensorFlow SavedModel,
a ``.tflite`` file (float32, ``_f16`` or ``_int8``) in the TFLite interpreter.
torch is never imported; TensorFlow only for the last three. Videos go through the training
preprocessing itself (``preprocessing.features``) with the pose settings recorded in the artifact's
metadata; an artifact whose preprocessing signature differs from this code's is refused (exit status
6). A bad video (missing, not a video, truncated, shorter than NUM_FRAMES frames, no person found) is
reported on stderr, naming the file, and the others are still scored; the exit status is then 1. A
video with a person in fewer than MIN_PERSON_FRAMES of the sampled frames is scored but flagged
(``warning`` in the JSON, ``WARNING`` in the text line). The defaults (models, keypoint cache, data)
are under the repository's ``checkpoints/`` and ``data/``, whatever the working directory; a cache
folder that cannot be written is not an error: the poses are then kept in memory only.
"""

import json
import sys
from collections.abc import Sequence
from pathlib import Path

# numpy, OpenCV and project code only; mediapipe, onnxruntime, TensorFlow load when first used.
import numpy as np
from jsonargparse.typing import PositiveInt

from preprocessing.cache import CorruptEntryError, PoseSequence
from preprocessing.command import run_function
from preprocessing.constants import DEFAULT_CACHE_DIR, NUM_FRAMES
from preprocessing.dataset import EXERCISES, Exercise
from preprocessing.features import extract_pose, sequence_features, video_pose
from preprocessing.files import (
    NotWritableError,
    check_writable,
    files_in,
    find_inputs,
    is_pose_file,
    python_stderr_only,
)
from preprocessing.pose import PoseEstimator
from preprocessing.video import VideoError, decode_warning
from serving.artifact import ArtifactError, checked_artifact, feature_set_of, pose_settings_of
from serving.published import repair
from serving.runtime import backend_of, load_predictor
from serving.session import run_sets

REPO = Path(__file__).resolve().parents[1]
DEFAULT_EXERCISE = "squat"
DEFAULT_MODEL_DIR = REPO / "checkpoints"
DEFAULT_DATA_DIR = REPO / "data"
MIN_PERSON_FRAMES = NUM_FRAMES // 2  # a person in fewer sampled frames: the score is flagged unreliable


class Scorer:
    """An exported model with the pose settings it was trained on; scores videos one batch at a time."""

    def __init__(self, artifact: str | Path, threads: int = 1, trust_savedmodel: bool = False) -> None:
        self.artifact = Path(artifact)
        repair(self.artifact.parent)  # what a killed export left there, when the folder is free and writable
        self.source, self.metadata = checked_artifact(self.artifact)  # one published set, resolved once
        self.backend = backend_of(self.artifact)
        self.settings = pose_settings_of(self.metadata, self.artifact)
        self.feature_set = feature_set_of(self.metadata)
        self.predict = load_predictor(self.source, threads, trust_savedmodel)
        self._estimator: PoseEstimator | None = None

    def features(self, video: str, cache_dir: str | Path | None) -> tuple[np.ndarray, dict]:
        """Features (NUM_FRAMES, FEATURE_DIMS) of one video, as in training, and what they rest on
        (frames with a person, distinct frames, decoded frames); ``cache_dir`` None: no cache."""
        if self._estimator is None and not is_pose_file(video):
            self._estimator = PoseEstimator(self.settings)  # one detector reused for every video
        if cache_dir is not None or is_pose_file(video):
            sequence, _ = video_pose(video, self.settings, cache_dir, self._estimator)
        elif not Path(video).is_file():
            raise VideoError(f"{video}: no such file")
        else:
            sequence = extract_pose(video, self.settings, self._estimator)
        distinct = len(np.unique(sequence.frame_indices))
        if distinct < NUM_FRAMES:
            raise VideoError(
                f"{video}: too short to score: {sequence.total_frames} frame(s), fewer than the "
                f"{NUM_FRAMES} the model samples"
            )
        with_person = int(sequence.detected.sum())
        if with_person == 0:
            raise VideoError(f"{video}: no person found in any of the {NUM_FRAMES} sampled frames")
        facts: dict[str, int | str] = {
            "frames_with_person": with_person,
            "num_frames": NUM_FRAMES,
            "distinct_frames": distinct,
            "total_frames": sequence.total_frames,
        }
        warnings = [decode_warning(video, sequence.total_frames)]  # a truncated file: refused or flagged
        if with_person < MIN_PERSON_FRAMES:
            warnings.append(
                f"person in only {with_person} of {NUM_FRAMES} frames (fewer than "
                f"{MIN_PERSON_FRAMES}): the score is unreliable"
            )
        if any(warnings):
            facts["warning"] = "; ".join(warning for warning in warnings if warning)
        return sequence_features(sequence, self.feature_set), facts

    def scores(self, features: list[np.ndarray]) -> list[float]:
        """Scores 0..score_scale of a list of feature arrays, in one model call."""
        if not features:
            return []
        return [float(y) * self.metadata["score_scale"] for y in self.predict(np.stack(features))[:, 0]]

    def score_sequences(self, sequences: list[PoseSequence]) -> list[float]:
        """Scores of NUM_FRAMES pose sequences (e.g. repetitions), through the model's feature set."""
        return self.scores([sequence_features(sequence, self.feature_set) for sequence in sequences])

    def close(self) -> None:
        if self._estimator is not None:
            self._estimator.close()


def usable_cache(cache_dir: str | Path) -> Path | None:
    """``cache_dir`` when it can be written; else None, with a warning (poses are kept in memory)."""
    try:
        check_writable(cache_dir, "keypoint cache folder")
    except NotWritableError as error:
        print(f"warning: {error}; poses are kept in memory only", file=sys.stderr)
        return None
    return Path(cache_dir)


def score_videos(scorer: Scorer, videos: list[str], cache_dir: str | Path | None) -> list[dict]:
    """One result per video, in order: ``video``, ``score``, ``frames_with_person``, ``num_frames``,
    ``distinct_frames``, ``total_frames`` (and ``warning`` when flagged), or ``video``, ``error``."""
    results: list[dict] = []
    good: list[tuple[dict, np.ndarray]] = []
    for video in videos:
        try:
            features, facts = scorer.features(video, cache_dir)
        except (VideoError, CorruptEntryError) as error:
            results.append({"video": video, "error": str(error)})
            continue
        result = {"video": video, **facts}
        results.append(result)
        good.append((result, features))
    for (result, _), score in zip(good, scorer.scores([features for _, features in good]), strict=True):
        result["score"] = score
    return results


def print_results(scorer: Scorer, results: list[dict], as_json: bool) -> None:
    """Errors and warnings on stderr; the scores as one JSON document or as text lines on stdout."""
    for result in results:
        if "error" in result:
            print(f"error: {result['error']}", file=sys.stderr)
        elif "warning" in result:
            print(f"warning: {result['video']}: {result['warning']}", file=sys.stderr)
    if as_json:
        document = {
            "model": str(scorer.artifact),
            "backend": scorer.backend,
            "exercise": scorer.metadata["exercise"],
            "results": results,
        }
        print(json.dumps(document, indent=2), flush=True)
        return
    print(f"model: {scorer.artifact} ({scorer.metadata['exercise']}, {scorer.backend})")
    for result in (r for r in results if "error" not in r):
        flag = " WARNING: unreliable, see above" if "warning" in result else ""
        print(
            f"{result['video']}: score {result['score']:.1f}/100 (person in {result['frames_with_person']}/"
            f"{NUM_FRAMES} frames; {result['distinct_frames']} distinct frames of {result['total_frames']})"
            f"{flag}",
            flush=True,
        )


def score_with(
    artifact: Path,
    exercise: str | None,
    videos: list[str],
    as_json: bool,
    cache_dir: Path,
    threads: int,
    sets: dict | None = None,
    trust_savedmodel: bool = False,
) -> int:
    """Score ``videos`` with one artifact (of ``exercise`` when given): 0 when every video was
    scored, 1 otherwise. ``sets``: ``run_sets``' options, to score repetitions instead."""
    scorer = Scorer(artifact, threads, trust_savedmodel)
    if exercise and scorer.metadata["exercise"] != exercise:
        raise ArtifactError(f"{artifact}: is a {scorer.metadata['exercise']} model, not {exercise}")
    if sets is not None:
        return run_sets(scorer, videos, as_json=as_json, cache_dir=cache_dir, **sets)
    try:
        results = score_videos(scorer, videos, usable_cache(cache_dir))
    finally:
        scorer.close()
    print_results(scorer, results, as_json)
    return 1 if any("error" in result for result in results) else 0


def score_test_sets(
    exercises: list[str],
    data_dir: Path,
    model_dir: Path,
    limit: int | None,
    as_json: bool,
    cache_dir: Path,
    threads: int,
) -> int:
    """Score the test folder of each exercise with ``<model_dir>/<exercise>_scorer.onnx``, each under an
    ``== <exercise>: ...`` line; an exercise whose folder, model or videos are missing is skipped with
    a message. 0 when every video was scored, 1 otherwise."""
    status = 0
    for exercise in exercises:
        folder, model = data_dir / EXERCISES[exercise][1], model_dir / f"{exercise}_scorer.onnx"
        if not folder.is_dir():
            print(f"== {exercise}: skipped, no test folder {folder}", flush=True)
            continue
        if not model.is_file():
            print(f"== {exercise}: skipped, no model {model} (python cli.py export ...)", flush=True)
            continue
        videos = [str(path) for path in files_in(folder)[:limit]]
        if not videos:
            print(f"== {exercise}: skipped, no videos in {folder}", flush=True)
            continue
        print(f"== {exercise}: {len(videos)} video(s) from {folder} with {model}", flush=True)
        try:
            status |= score_with(model, exercise, videos, as_json, cache_dir, threads)
        except ArtifactError as error:
            print(f"error: {error}", file=sys.stderr)
            status = 1
    return status


def score(
    videos: Sequence[str] = (),
    exercise: Exercise | None = None,
    model: str | None = None,
    json: bool = False,
    cache_dir: Path = REPO / DEFAULT_CACHE_DIR,
    threads: PositiveInt = 1,
    limit: PositiveInt | None = None,
    test_sets: bool = False,
    data_dir: Path = DEFAULT_DATA_DIR,
    model_dir: Path = DEFAULT_MODEL_DIR,
    reps: bool = False,
    annotate: str | None = None,
    live: str | None = None,
    stride: PositiveInt = 1,
    show: bool = False,
    trust_savedmodel: bool = False,
    verbose: bool = False,
) -> int:
    """Score exercise videos with an exported model: 0..100 per video, and frames with a person (x/16).

    Returns 0 when every video was scored, 1 otherwise (errors on stderr), 2 for bad arguments.
    Raises ArtifactError naming the artifact when the model cannot be used.

    Args:
        videos: video files, pre-extracted *.pose.npz files, or folders of them (searched recursively)
        exercise: picks the model <model_dir>/<exercise>_scorer.onnx (default squat); with --model, the
            model must be one of this exercise; with --test_sets, only this exercise
        model: exported artifact: .onnx (default kind), .keras, .tflite, or a SavedModel folder
        json: print one JSON document (per model) instead of text lines
        cache_dir: keypoint cache (if it cannot be written, poses are kept in memory)
        threads: ONNX Runtime intra-op threads
        limit: at most this many videos of each folder (sorted by name)
        test_sets: score the test folder of each exercise under --data_dir with its model in --model_dir;
            a missing folder, model or video is skipped with a message
        data_dir: --test_sets: the data folder
        model_dir: the folder of the <exercise>_scorer.onnx models
        reps: a set: find the repetitions, score each (serving/session.py)
        annotate: OUT.mp4: with --reps (one video): write the annotated video and OUT_signal.png
        live: score repetitions live: camera index, URL or a file
        stride: --reps/--live: pose on every N-th frame
        show: --live: show the annotated frames in a window
        trust_savedmodel: load a SavedModel folder even if its graph runs ops no formscore export writes
            (loading a SavedModel runs its graph: only for folders from a source you trust)
        verbose: let native libraries' notes (MediaPipe, TensorFlow Lite) through to stderr
    """
    if test_sets:
        if videos or model or live is not None:
            print("error: --test_sets picks its videos and models: no videos, --model or --live", file=sys.stderr)
            return 2
        exercises: list[str] = [exercise] if exercise else list(EXERCISES)
        with python_stderr_only(verbose):
            return score_test_sets(exercises, data_dir, model_dir, limit, json, cache_dir, threads)
    if not videos and live is None:
        print("error: give video files or folders, --live SOURCE, or --test_sets", file=sys.stderr)
        return 2
    inputs = [str(path) for path in find_inputs([Path(video) for video in videos], limit=limit, refuse_empty=True)]
    artifact = Path(model) if model else model_dir / f"{exercise or DEFAULT_EXERCISE}_scorer.onnx"
    as_sets = reps or annotate or live is not None
    sets = {"annotate": annotate, "live": live, "stride": stride, "show": show} if as_sets else None
    with python_stderr_only(verbose):
        return score_with(artifact, exercise, inputs, json, cache_dir, threads, sets, trust_savedmodel)


def main(argv: list[str] | None = None) -> int:
    """``python cli.py score ...`` (see ``score``); bad arguments exit with status 2."""
    return run_function(score, argv, "cli.py score", positional="videos")

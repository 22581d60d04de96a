"""Score exercise videos with an exported model: 0..100 per video, and frames with a person (x/16).

    python scripts/score_video.py data/squats_test/clip.mp4 [more videos] [--exercise squat]
    python scripts/score_video.py clip.mp4 --model checkpoints/squat_scorer.keras --json
    python scripts/score_video.py my_set.mp4 --exercise pushup --reps [--annotate out.mp4]  # per rep
    python scripts/score_video.py --live 0 --exercise squat --show       # camera 0 (or a URL / file)

The model is ``checkpoints/<exercise>_scorer.onnx`` unless ``--model`` names another artifact: an
``.onnx`` file runs in ONNX Runtime, a ``.keras`` file in Keras, a folder as a TensorFlow SavedModel,
a ``.tflite`` file (float32, ``_f16`` or ``_int8``) in the TFLite interpreter.
torch is never imported; TensorFlow only for the last three. Videos go through the training
preprocessing itself (``preprocessing.features``) with the pose settings recorded in the artifact's
metadata; an artifact whose preprocessing signature differs from this code's is refused (exit status
6). A bad video (missing, not a video, truncated, shorter than NUM_FRAMES frames, no person found) is
reported on stderr, naming the file, and the others are still scored; the exit status is then 1. A
video with a person in fewer than MIN_PERSON_FRAMES of the sampled frames is scored but flagged
(``warning`` in the JSON, ``WARNING`` in the text line). The defaults (model, keypoint cache) are
under the repository's ``checkpoints/``, whatever the working directory; a cache folder that cannot
be written is not an error: the poses are then kept in memory only.
"""

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as `python scripts/score_video.py`

# Below: numpy, OpenCV and project code only; mediapipe, onnxruntime, TensorFlow load when first used.
import numpy as np  # noqa: E402

from cli import run_command  # noqa: E402
from export.metadata import ArtifactError, check_artifact, feature_set_of, pose_settings_of  # noqa: E402
from export.runtime import backend_of, load_predictor  # noqa: E402
from export.session import run_sets  # noqa: E402
from preprocessing.cache import CorruptEntryError, PoseSequence  # noqa: E402
from preprocessing.constants import DEFAULT_CACHE_DIR, NUM_FRAMES  # noqa: E402
from preprocessing.dataset import EXERCISES  # noqa: E402
from preprocessing.features import extract_pose, is_pose_file, sequence_features, video_pose  # noqa: E402
from preprocessing.files import NotWritableError, check_writable  # noqa: E402
from preprocessing.pose import PoseEstimator  # noqa: E402
from preprocessing.video import VideoError  # noqa: E402

DEFAULT_EXERCISE = "squat"
DEFAULT_MODEL_DIR = REPO / "checkpoints"
MIN_PERSON_FRAMES = NUM_FRAMES // 2  # a person in fewer sampled frames: the score is flagged unreliable


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("videos", nargs="*", help="video files (or pre-extracted *.pose.npz files)")
    parser.add_argument(
        "--exercise",
        choices=sorted(EXERCISES),
        help="picks the model checkpoints/<exercise>_scorer.onnx (default squat); with --model, "
        "the model must be one of this exercise",
    )
    parser.add_argument(
        "--model", help="exported artifact: .onnx (default kind), .keras, .tflite, or a SavedModel folder"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text lines")
    parser.add_argument(
        "--cache_dir",
        default=str(REPO / DEFAULT_CACHE_DIR),
        help=f"keypoint cache (default <repository>/{DEFAULT_CACHE_DIR}; if it cannot be written, "
        "poses are kept in memory)",
    )
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads (default 1)")
    parser.add_argument(
        "--reps", action="store_true", help="a set: find the repetitions, score each (export/session.py)"
    )
    parser.add_argument(
        "--annotate", metavar="OUT.mp4", help="with --reps (one video): write the annotated video and OUT_signal.png"
    )
    parser.add_argument("--live", metavar="SOURCE", help="score repetitions live: camera index, URL or a file")
    parser.add_argument("--stride", type=int, default=1, help="--reps/--live: pose on every N-th frame (default 1)")
    parser.add_argument("--show", action="store_true", help="--live: show the annotated frames in a window")
    args = parser.parse_args(argv)
    if not args.videos and args.live is None:
        parser.error("give video files, or --live SOURCE")
    return args


class Scorer:
    """An exported model with the pose settings it was trained on; scores videos one batch at a time."""

    def __init__(self, artifact: str | Path, threads: int = 1) -> None:
        self.artifact = Path(artifact)
        self.metadata = check_artifact(self.artifact)
        self.backend = backend_of(self.artifact)
        self.settings = pose_settings_of(self.metadata, self.artifact)
        self.feature_set = feature_set_of(self.metadata)
        self.predict = load_predictor(self.artifact, threads)
        self._estimator = None

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
        facts = {
            "frames_with_person": with_person,
            "num_frames": NUM_FRAMES,
            "distinct_frames": distinct,
            "total_frames": sequence.total_frames,
        }
        if with_person < MIN_PERSON_FRAMES:
            facts["warning"] = (
                f"person in only {with_person} of {NUM_FRAMES} frames (fewer than "
                f"{MIN_PERSON_FRAMES}): the score is unreliable"
            )
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


def main(argv: list[str] | None = None) -> int:
    """Score the videos; 0 when every video was scored, 1 otherwise (errors on stderr). Raises
    ArtifactError naming the artifact when the model cannot be used."""
    args = parse_args(argv)
    artifact = args.model or str(DEFAULT_MODEL_DIR / f"{args.exercise or DEFAULT_EXERCISE}_scorer.onnx")
    scorer = Scorer(artifact, args.threads)
    if args.exercise and scorer.metadata["exercise"] != args.exercise:
        raise ArtifactError(f"{artifact}: is a {scorer.metadata['exercise']} model, not {args.exercise}")
    if args.reps or args.annotate or args.live is not None:
        return run_sets(args, scorer)
    try:
        results = score_videos(scorer, args.videos, usable_cache(args.cache_dir))
    finally:
        scorer.close()
    for result in results:
        if "error" in result:
            print(f"error: {result['error']}", file=sys.stderr)
        elif "warning" in result:
            print(f"warning: {result['video']}: {result['warning']}", file=sys.stderr)
    if args.json:
        document = {
            "model": str(scorer.artifact),
            "backend": scorer.backend,
            "exercise": scorer.metadata["exercise"],
            "results": results,
        }
        print(json.dumps(document, indent=2))
    else:
        print(f"model: {scorer.artifact} ({scorer.metadata['exercise']}, {scorer.backend})")
        for result in (r for r in results if "error" not in r):
            flag = " WARNING: unreliable, see above" if "warning" in result else ""
            print(
                f"{result['video']}: score {result['score']:.1f}/100 (person in {result['frames_with_person']}/"
                f"{NUM_FRAMES} frames; {result['distinct_frames']} distinct frames of {result['total_frames']})"
                f"{flag}"
            )
    return 1 if any("error" in result for result in results) else 0


if __name__ == "__main__":
    sys.exit(run_command(main))

"""An exported model with the preprocessing it was trained on: scores clips (0..100) and pose samples.

``Scorer`` checks the artifact and its metadata (``serving.artifact``), loads it with its runtime
(``serving.runtime``) and turns videos into features through the training preprocessing itself
(``preprocessing.features``) with the pose settings recorded in the metadata. A bad video (missing,
not a video, truncated, shorter than NUM_FRAMES frames, no person found) is a ``ClipFailure`` naming
the file; a video with a person in fewer than MIN_PERSON_FRAMES of the sampled frames is scored but
flagged (``warning``). torch is never imported; TensorFlow only for Keras, SavedModel and TFLite.
"""

import sys
from dataclasses import replace
from pathlib import Path

# numpy, OpenCV and project code only; mediapipe, onnxruntime, TensorFlow load when first used.
import numpy as np

from preprocessing.cache import CorruptEntryError, PoseSequence
from preprocessing.constants import NUM_FRAMES
from preprocessing.features import clip_seconds, extract_pose, sequence_features, video_pose
from preprocessing.files import NotWritableError, check_writable, is_pose_file
from preprocessing.pose import PoseEstimator
from preprocessing.video import VideoError, decode_warning
from serving.artifact import ArtifactError, checked_artifact, feature_set_of, pose_settings_of
from serving.feedback import rep_form
from serving.published import repair
from serving.results import ClipFailure, ClipResult, FormCheck
from serving.runtime import backend_of, load_predictor

MIN_PERSON_FRAMES = NUM_FRAMES // 2  # a person in fewer sampled frames: the score is flagged unreliable


class Scorer:
    """An exported model with the pose settings it was trained on; scores videos one batch at a time."""

    def __init__(
        self, artifact: str | Path, threads: int = 1, trust_savedmodel: bool = False, form_ranges: dict | None = None
    ) -> None:
        self.artifact = Path(artifact)
        repair(self.artifact.parent)  # what a killed export left there, when the folder is free and writable
        self.source, self.metadata = checked_artifact(self.artifact)  # one published set, resolved once
        self.backend = backend_of(self.artifact)
        self.settings = pose_settings_of(self.metadata, self.artifact)
        self.feature_set = feature_set_of(self.metadata)
        self.exercise: str = self.metadata["exercise"]
        self.ranges = self.metadata.get("form_ranges") if form_ranges is None else form_ranges
        if form_ranges is not None and form_ranges["exercise"] != self.exercise:
            raise ArtifactError(
                f"{artifact}: is a {self.exercise} model; the form ranges given are {form_ranges['exercise']}'s"
            )
        self.predict = load_predictor(self.source, threads, trust_savedmodel)
        self._estimator: PoseEstimator | None = None

    def features(self, video: str, cache_dir: str | Path | None) -> tuple[np.ndarray, ClipResult]:
        """Features (NUM_FRAMES, FEATURE_DIMS) of one video, as in training, and what they rest on
        (frames with a person, distinct frames, decoded frames; its score not yet set);
        ``cache_dir`` None: no cache."""
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
        warnings = [decode_warning(video, sequence.total_frames)]  # a truncated file: refused or flagged
        if with_person < MIN_PERSON_FRAMES:
            warnings.append(
                f"person in only {with_person} of {NUM_FRAMES} frames (fewer than "
                f"{MIN_PERSON_FRAMES}): the score is unreliable"
            )
        warning = "; ".join(warning for warning in warnings if warning) or None
        form = self.form(sequence, clip_seconds(video, sequence))
        facts = ClipResult(
            video, with_person, NUM_FRAMES, distinct, sequence.total_frames, warning=warning, score=0.0, form=form
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

    def form(self, sequence: PoseSequence, seconds: float | None) -> FormCheck | None:
        """The form check of one rep's NUM_FRAMES samples against this model's reference ranges; None for
        a model without any (exported before them): its output stays as it was."""
        return None if self.ranges is None else rep_form(sequence, self.exercise, seconds, self.ranges)

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


def score_videos(scorer: Scorer, videos: list[str], cache_dir: str | Path | None) -> list[ClipResult | ClipFailure]:
    """One result per video, in order, the scored ones computed in one model call."""
    results: list[ClipResult | ClipFailure] = []
    good: list[tuple[int, ClipResult, np.ndarray]] = []
    for video in videos:
        try:
            features, facts = scorer.features(video, cache_dir)
        except (VideoError, CorruptEntryError) as error:
            results.append(ClipFailure(video, str(error)))
            continue
        good.append((len(results), facts, features))
        results.append(facts)
    for (position, facts, _), score in zip(good, scorer.scores([features for *_, features in good]), strict=True):
        results[position] = replace(facts, score=score)
    return results

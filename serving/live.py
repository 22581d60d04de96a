"""Live scoring: repetitions from a camera index / URL / file read as a stream, each scored as it ends.

Frames are read as they come; BlazePose tracks the person; the segmenter (the offline code) runs on
every pose sample; a finished repetition is sampled, scored and reported at once. ``LiveSession``
holds that state; ``live_session`` runs it over a source.
"""

import time
from collections.abc import Callable

import cv2
import numpy as np

from preprocessing.pose import PoseEstimator, PoseSettings
from preprocessing.video import usable_fps
from serving.render import draw, overlay_lines, set_lines
from serving.reps import Rep, RepSegmenter, frame_samples
from serving.results import RepResult, SetResult, SetSummary
from serving.sets import FormFn, ScoreFn, group_sets, rep_results, signal_spans
from serving.stream import PoseTrack, opened_source, strided_frames

RepCallback = Callable[[RepResult], None]


class LiveSession:
    """The state of one live run: pose samples so far, the segmenter, scored repetitions, latencies."""

    def __init__(
        self,
        exercise: str,
        fps: float,
        score: ScoreFn,
        stride: int = 1,
        on_rep: RepCallback | None = None,
        form: FormFn | None = None,
    ):
        self.exercise, self.fps, self.score, self.form = exercise, fps, score, form
        self.on_rep = on_rep
        self.segmenter = RepSegmenter(exercise, fps, stride)
        self.track = PoseTrack()
        self.reps: list[RepResult] = []
        self.latencies: list[float] = []
        self.frames = 0  # video frames seen (every one, posed or not)

    def push(self, index: int, frame: np.ndarray | None, found: np.ndarray | None) -> list[RepResult]:
        """Frame ``index`` (None when only grabbed, see ``strided_frames``) and its pose: the repetitions
        it closes, scored."""
        self.frames = index + 1
        if frame is None:
            return []
        landmarks = self.track.add(index, found, frame)
        sample = frame_samples(landmarks[None], np.array([found is not None]), self.track.aspect, self.exercise)[0]
        return self._scored(self.segmenter.push(index, sample))

    def finish(self) -> list[RepResult]:
        """The source ended: the repetition that its end completes, scored."""
        return self._scored(self.segmenter.finish())

    @property
    def in_rep(self) -> bool:
        tracker = self.segmenter.tracker
        return tracker is not None and tracker.bottom is not None

    def _scored(self, finished: list[Rep]) -> list[RepResult]:
        if not finished:
            return []
        began = time.perf_counter()
        sequence = self.track.sequence(self.track.indices[-1] + 1)
        new = rep_results(sequence, finished, self.fps, self.score, len(self.reps) + 1, self.form)
        self.latencies.append(time.perf_counter() - began)
        self.reps += new
        for rep in new:
            if self.on_rep is not None:
                self.on_rep(rep)
        return new

    def result(self, source: str, seconds: float) -> SetResult:
        """The set so far, as the offline result plus the measured speed over ``seconds`` of running."""
        samples = len(self.track.indices)
        return SetResult(
            video=source,
            fps=self.fps,
            frames=self.frames,
            frames_with_person=int(sum(self.track.detected)),
            frames_read=samples,
            reps=self.reps,
            summary=SetSummary.of(self.reps),
            sets=group_sets(self.reps),
            signals=signal_spans(self.segmenter),
            frames_per_second=samples / seconds if seconds > 0 else 0.0,
            video_frames_per_second=self.frames / seconds if seconds > 0 else 0.0,
            max_scoring_latency_s=max(self.latencies, default=0.0),
        )

    def shown(self, frame_rgb: np.ndarray, found: np.ndarray | None) -> bool:
        """Draw the live state in a window; False when the user pressed q."""
        frame = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR)
        lines = overlay_lines(self.reps, self.in_rep, self.segmenter.gated or found is None)
        draw(frame, found, lines + set_lines(group_sets(self.reps), len(self.reps), self.segmenter.signal.name))
        cv2.imshow("formscore", frame)
        return cv2.waitKey(1) & 0xFF != ord("q")


def live_session(
    source: str,
    exercise: str,
    score: ScoreFn,
    settings: PoseSettings,
    stride: int = 1,
    show: bool = False,
    on_rep: RepCallback | None = None,
    form: FormFn | None = None,
) -> SetResult:
    """Score the repetitions of ``source`` live (see the module docstring); ``show`` draws the
    skeleton, counter, scores and the "step into the frame" state in a window (needs a display;
    press q to stop). The result adds the measured pose and video frames/s and the scoring latency."""
    began = time.perf_counter()
    with opened_source(source) as capture, PoseEstimator(settings) as estimator:
        session = LiveSession(exercise, usable_fps(capture.get(cv2.CAP_PROP_FPS)), score, stride, on_rep, form)
        estimator.start_video()
        for index, frame in strided_frames(capture, stride, source):
            found = None if frame is None else estimator.track(frame)
            session.push(index, frame, found)
            if show and frame is not None and not session.shown(frame, found):
                break
        session.finish()
    seconds = time.perf_counter() - began
    if show:
        cv2.destroyAllWindows()
    return session.result(source, seconds)

"""MediaPipe BlazePose on sampled frames.

Two back ends, chosen by ``PoseSettings.model_path``:

- ``None`` (default): the legacy ``mediapipe.solutions.pose.Pose`` graph with ``model_complexity=1``,
  i.e. BlazePose *full*, whose two models (``pose_detection.tflite``, ``pose_landmark_full.tflite``)
  ship inside the mediapipe 0.10.21 wheel, so it runs offline.
- a ``.task`` bundle (e.g. Google's ``pose_landmarker_{lite,full,heavy}.task``): the Tasks API
  ``PoseLandmarker``.

Why the legacy graph by default (measured on a 2-core CPU, 16 sampled frames per video): tracking
mode costs 20.5 ms/frame including the per-video ``reset()`` (2 ms), while the Tasks API, which has
no reset, needs a new landmarker per video (~110 ms), giving 25.8 ms/frame; image mode is 28.8
(legacy) and 27.3 (Tasks) ms/frame. The legacy graph also lets landmark smoothing be switched off
(its filter assumes consecutive 30 fps frames, while the samples are ~n/15 frames apart), and it needs
no ``.task`` file (building one from the wheel's models with the metadata writer works but adds a
code path). Both back ends give the same landmarks in image mode (mean |dx, dy| < 0.001).

``running_mode="video"`` tracks the person across the sampled frames of one video (the region of
interest comes from the previous frame's landmarks), starting afresh for each video, so nothing
leaks between videos; ``"image"`` runs the detector on every frame.

Output per video: landmarks (n, 33, 4) float32 ``[x, y, z, visibility]`` in image coordinates as
BlazePose returns them (x, y normalised to 0..1 by the image width / height), zeros where no person
was detected, and detected (n,) bool.
"""

import hashlib
import importlib
import importlib.metadata
import importlib.util
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from preprocessing.constants import LANDMARK_DIMS, NUM_LANDMARKS
from preprocessing.files import file_sha1, native_stderr_silenced

RUNNING_MODES = ("video", "image")
BUNDLED_MODELS = ("modules/pose_detection/pose_detection.tflite", "modules/pose_landmark/pose_landmark_full.tflite")
FULL_MODEL_COMPLEXITY = 1  # mediapipe.solutions.pose: 1 = BlazePose full, the model shipped in the wheel
TASKS_FRAME_GAP_MS = 1000  # Tasks video-mode timestamps 1 s apart: its smoothing filter then barely acts


@dataclass(frozen=True)
class PoseSettings:
    """Everything about pose estimation that changes its output (part of the cache key)."""

    model_path: str | None = None  # None: the BlazePose model shipped inside the mediapipe package
    running_mode: Literal["video", "image"] = "video"  # tracking across the sampled frames, or per image
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5

    def __post_init__(self) -> None:
        if self.running_mode not in RUNNING_MODES:
            raise ValueError(f"running_mode must be one of {RUNNING_MODES}, not {self.running_mode!r}")
        if self.model_path is not None and Path(self.model_path).suffix != ".task":
            raise ValueError(
                f"{self.model_path}: model_path must be a MediaPipe .task bundle "
                "(e.g. pose_landmarker_heavy.task), or None for the model shipped with mediapipe"
            )

    def token(self) -> str:
        """A stable string identifying these settings (and the model file's identity) for cache keys."""
        return (
            f"blazepose|mediapipe={mediapipe_version()}|model={model_identity(self.model_path)}"
            f"|mode={self.running_mode}|detection={self.min_detection_confidence!r}"
            f"|tracking={self.min_tracking_confidence!r}"
        )


@lru_cache(maxsize=1)
def mediapipe_version() -> str:
    return importlib.metadata.version("mediapipe")


def mediapipe_dir() -> Path:
    """The installed mediapipe package folder (found without importing mediapipe, which takes ~1 s)."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("mediapipe is not installed")
    return Path(spec.submodule_search_locations[0])


def model_files(model_path: str | None) -> list[Path]:
    """The model file(s) a setting uses: the .task bundle, or the two models in the mediapipe wheel;
    FileNotFoundError naming a missing one."""
    paths = [Path(model_path)] if model_path is not None else [mediapipe_dir() / name for name in BUNDLED_MODELS]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: pose model file not found")
    return paths


def model_identity(model_path: str | None) -> str:
    """sha1 (16 hex digits) of the bytes of the model file(s)."""
    digest = hashlib.sha1()
    for path in model_files(model_path):
        digest.update(file_sha1(path).encode())
    return digest.hexdigest()[:16]


def import_mediapipe():
    """``import mediapipe``, without loading TensorFlow when nothing else has.

    mediapipe 0.10.21 imports TensorFlow only for a documentation decorator
    (``tasks/python/core/optional_dependencies.py``) and uses a no-op when it is missing. Hiding it
    during the import cuts a worker's start-up from ~5 s to ~1 s and its memory from ~950 MB to ~230 MB;
    TensorFlow stays importable afterwards.
    """
    if "tensorflow" in sys.modules:
        return importlib.import_module("mediapipe")
    sys.modules["tensorflow"] = None  # type: ignore[assignment]  # makes `import tensorflow` fail
    try:
        return importlib.import_module("mediapipe")
    finally:
        del sys.modules["tensorflow"]


def landmark_array(landmarks: Iterable[Any]) -> np.ndarray:
    """MediaPipe landmarks (objects with x, y, z, visibility) -> (33, 4) float32."""
    return np.array([(lm.x, lm.y, lm.z, lm.visibility) for lm in landmarks], dtype=np.float32)


class Backend(Protocol):
    def start_video(self) -> None: ...  # forget the tracking state of the previous video
    def detect(self, frame: np.ndarray) -> np.ndarray | None: ...  # RGB frame -> (33, 4), or None
    def close(self) -> None: ...


class SolutionsBackend:
    """Legacy ``mediapipe.solutions.pose.Pose`` running the BlazePose full model shipped in the wheel."""

    def __init__(self, settings: PoseSettings) -> None:
        self._pose = import_mediapipe().solutions.pose.Pose(
            static_image_mode=settings.running_mode == "image",
            model_complexity=FULL_MODEL_COMPLEXITY,
            smooth_landmarks=False,  # samples are far apart in time: a 30 fps filter would only lag
            enable_segmentation=False,
            min_detection_confidence=settings.min_detection_confidence,
            min_tracking_confidence=settings.min_tracking_confidence,
        )

    def start_video(self) -> None:
        self._pose.reset()

    def detect(self, frame: np.ndarray) -> np.ndarray | None:
        result = self._pose.process(frame)
        return None if result.pose_landmarks is None else landmark_array(result.pose_landmarks.landmark)

    def close(self) -> None:
        self._pose.close()


class TasksBackend:
    """Tasks API ``PoseLandmarker`` running a ``.task`` bundle; in video mode a new landmarker per
    video, since the Tasks API cannot reset its tracking state."""

    def __init__(self, settings: PoseSettings) -> None:
        self._mp = import_mediapipe()
        vision = self._vision = self._mp.tasks.vision
        self._video = settings.running_mode == "video"
        self._options = vision.PoseLandmarkerOptions(
            base_options=self._mp.tasks.BaseOptions(model_asset_path=str(settings.model_path)),
            running_mode=vision.RunningMode.VIDEO if self._video else vision.RunningMode.IMAGE,
            num_poses=1,
            min_pose_detection_confidence=settings.min_detection_confidence,
            min_pose_presence_confidence=settings.min_detection_confidence,
            min_tracking_confidence=settings.min_tracking_confidence,
        )
        self._landmarker = vision.PoseLandmarker.create_from_options(self._options)
        self._timestamp_ms = 0

    def start_video(self) -> None:
        if self._video and self._timestamp_ms > 0:
            self._landmarker.close()
            self._landmarker = self._vision.PoseLandmarker.create_from_options(self._options)
            self._timestamp_ms = 0

    def detect(self, frame: np.ndarray) -> np.ndarray | None:
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame))
        if self._video:
            result = self._landmarker.detect_for_video(image, self._timestamp_ms)
            self._timestamp_ms += TASKS_FRAME_GAP_MS
        else:
            result = self._landmarker.detect(image)
        return landmark_array(result.pose_landmarks[0]) if result.pose_landmarks else None

    def close(self) -> None:
        self._landmarker.close()


class PoseEstimator:
    """One reusable BlazePose detector (create once per worker process, reuse for many videos).

    The MediaPipe graph is built on the first ``estimate`` call, so a run served from the keypoint
    cache never loads mediapipe.
    """

    def __init__(self, settings: PoseSettings = PoseSettings()) -> None:
        model_files(settings.model_path)  # fail now, not in the middle of a batch, when a model is missing
        self.settings = settings
        self._backend: Backend | None = None
        self._seen_person = False

    def start_video(self) -> None:
        """Begin a new video: forget the tracking state. The backend is built on first use, with its
        native start-up lines (TFLite, absl, the first inference's notes) kept off stderr."""
        if self._backend is None:
            backend_type = SolutionsBackend if self.settings.model_path is None else TasksBackend
            import_mediapipe()  # outside the silenced window: Python's own messages (e.g. -X importtime) stay
            with native_stderr_silenced():
                self._backend = backend_type(self.settings)
        self._backend.start_video()

    def track(self, frame: np.ndarray) -> np.ndarray | None:
        """The next RGB frame of the current video (after ``start_video``) -> (33, 4) landmarks, or None.

        For streams (``serving.stream``): frames arrive one at a time, tracking continues."""
        if self._backend is None:
            raise RuntimeError("call start_video() before track()")
        return self._detect(frame)

    def _detect(self, frame: np.ndarray) -> np.ndarray | None:
        """The backend's detection; until the first person is found (the landmark model's first run
        prints its own native notes) with stderr silenced."""
        backend = self._backend
        assert backend is not None, "start_video() builds the backend"
        if self._seen_person:
            return backend.detect(frame)
        with native_stderr_silenced():
            found = backend.detect(frame)
        self._seen_person = found is not None
        return found

    def estimate(self, frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """RGB uint8 frames of one video -> landmarks (n, 33, 4) float32 and detected (n,) bool."""
        self.start_video()
        landmarks = np.zeros((len(frames), NUM_LANDMARKS, LANDMARK_DIMS), dtype=np.float32)
        detected = np.zeros(len(frames), dtype=bool)
        for index, frame in enumerate(frames):
            found = self._detect(frame)
            if found is not None:
                landmarks[index], detected[index] = found, True
        return landmarks, detected

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def __enter__(self) -> "PoseEstimator":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

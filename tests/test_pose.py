"""BlazePose really runs: a real person on video, landmarks that follow a moving person, both back ends."""

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import carphone_video
from skimage.data import astronaut

from preprocessing.pose import BUNDLED_MODELS, PoseEstimator, PoseSettings, mediapipe_dir
from preprocessing.video import read_sampled_frames

CANVAS_W, CANVAS_H = 640, 480
HEAD_AND_SHOULDERS = list(range(13))  # BlazePose landmarks 0..12: face, shoulders


@pytest.fixture(scope="module")
def carphone_frames() -> list[np.ndarray]:
    return read_sampled_frames(carphone_video())[0]


def estimate(settings: PoseSettings, frames: list[np.ndarray], runs: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    """``runs`` estimates of the same frames with one estimator."""
    with PoseEstimator(settings) as estimator:
        return [estimator.estimate(frames) for _ in range(runs)]


@pytest.fixture(scope="module")
def image_mode_carphone(carphone_frames) -> tuple[np.ndarray, np.ndarray]:
    return estimate(PoseSettings(running_mode="image"), carphone_frames)[0]


def test_detects_the_person_in_every_sampled_frame(carphone_frames, image_mode_carphone):
    (landmarks, detected), (again, _) = estimate(PoseSettings(), carphone_frames, runs=2)
    assert landmarks.shape == (16, 33, 4) and landmarks.dtype == np.float32
    assert detected.shape == (16,) and detected.all()
    np.testing.assert_array_equal(landmarks, again)  # a second video starts afresh: no tracking leak
    visibility = landmarks[..., 3]
    assert 0.0 <= visibility.min() and visibility.max() <= 1.0
    assert (visibility[:, HEAD_AND_SHOULDERS] > 0.5).mean() > 0.9  # real visibilities, not zeros
    assert (visibility[:, 23:] < 0.5).mean() > 0.9  # hips and legs are out of the picture
    face_xy = landmarks[:, HEAD_AND_SHOULDERS, :2]
    assert ((face_xy > 0.0) & (face_xy < 1.0)).all()  # normalised image coordinates
    image_landmarks, image_detected = image_mode_carphone
    assert image_detected.all()
    face_gap = np.abs(image_landmarks[:, HEAD_AND_SHOULDERS, :2] - face_xy).mean()
    assert face_gap < 0.02, f"tracking and image mode disagree by {face_gap:.3f}"


def test_no_person_gives_zeros():
    blank = [np.full((240, 320, 3), 128, np.uint8)] * 3
    ((landmarks, detected),) = estimate(PoseSettings(), blank)
    assert not detected.any() and not landmarks.any()


def write_moving_astronaut(path: Path, scales: np.ndarray, lefts: np.ndarray, tops: np.ndarray) -> None:
    """A 16-frame video of the astronaut photo scaled by ``scales`` at (``lefts``, ``tops``) on white."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10, (CANVAS_W, CANVAS_H))
    photo = astronaut()
    for scale, left, top in zip(scales, lefts, tops, strict=False):
        side = int(round(photo.shape[0] * scale))
        canvas = np.full((CANVAS_H, CANVAS_W, 3), 255, np.uint8)
        canvas[top : top + side, left : left + side] = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
        writer.write(cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    writer.release()


def test_landmarks_follow_a_moving_scaled_person(tmp_path):
    scales = np.linspace(0.55, 0.85, 16)
    lefts = np.linspace(10, CANVAS_W - 0.85 * 512 - 10, 16).astype(int)
    tops = np.linspace(30, 10, 16).astype(int)
    write_moving_astronaut(tmp_path / "astronaut.avi", scales, lefts, tops)
    ((landmarks, detected),) = estimate(PoseSettings(), read_sampled_frames(tmp_path / "astronaut.avi")[0])
    assert detected.all()
    visible = (landmarks[..., 3] > 0.5).all(axis=0)
    visible[len(HEAD_AND_SHOULDERS) :] = False
    assert visible.sum() >= 10
    # Position of each landmark in the photo's own coordinates (0..1): the same in every frame.
    sides = 512 * scales[:, None]
    in_photo_x = (landmarks[:, visible, 0] * CANVAS_W - lefts[:, None]) / sides
    in_photo_y = (landmarks[:, visible, 1] * CANVAS_H - tops[:, None]) / sides
    assert in_photo_x.std(axis=0).max() < 0.025 and in_photo_y.std(axis=0).max() < 0.04
    # The mean x of the landmarks moves as predicted from the first frame, shift and scale.
    mean_x = landmarks[:, visible, 0].mean(axis=1)
    predicted = (lefts + sides[:, 0] * in_photo_x[0].mean()) / CANVAS_W
    np.testing.assert_allclose(mean_x, predicted, atol=0.015)
    assert mean_x[-1] - mean_x[0] > 0.3


@pytest.fixture(scope="module")
def full_task_bundle(tmp_path_factory) -> Path:
    """A PoseLandmarker .task bundle built from the BlazePose full models in the mediapipe wheel
    (what a user's pose_landmarker_full.task contains), with mediapipe's own metadata writer."""
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, model_asset_bundle_utils

    def with_metadata(model: Path, mean: float, std: float, outputs: int) -> bytes:
        writer = metadata_writer.MetadataWriter.create(bytearray(model.read_bytes()))
        writer.add_general_info(model.stem).add_image_input(norm_mean=[mean], norm_std=[std])
        for _ in range(outputs):
            writer.add_feature_output()
        return bytes(writer.populate()[0])

    detector, landmarker = (mediapipe_dir() / name for name in BUNDLED_MODELS)
    path = tmp_path_factory.mktemp("model") / "pose_landmarker_full.task"
    model_asset_bundle_utils.create_model_asset_bundle(
        {
            "pose_detector.tflite": with_metadata(detector, 127.5, 127.5, outputs=2),
            "pose_landmarks_detector.tflite": with_metadata(landmarker, 0.0, 255.0, outputs=5),
        },
        str(path),
    )
    return path


def test_task_bundle_model_path(full_task_bundle, carphone_frames, image_mode_carphone):
    image = PoseSettings(model_path=str(full_task_bundle), running_mode="image")
    ((landmarks, detected),) = estimate(image, carphone_frames)
    assert detected.all()
    assert np.abs(landmarks - image_mode_carphone[0]).mean() < 0.005  # same models, same answers
    video = PoseSettings(model_path=str(full_task_bundle))
    (first, first_detected), (second, _) = estimate(video, carphone_frames, runs=2)
    assert first_detected.all()
    np.testing.assert_array_equal(first, second)  # a new landmarker per video: no tracking leak
    assert len({PoseSettings().token(), image.token(), video.token()}) == 3


def test_settings_are_validated(tmp_path):
    with pytest.raises(ValueError, match="running_mode"):
        PoseSettings(running_mode="stream")  # type: ignore[arg-type]  # an invalid mode on purpose
    with pytest.raises(ValueError, match="pose.tflite.*task bundle"):
        PoseSettings(model_path="pose.tflite")
    with pytest.raises(FileNotFoundError, match="missing.task"):
        PoseEstimator(PoseSettings(model_path=str(tmp_path / "missing.task")))


def test_token_names_the_model_file_contents(tmp_path):
    model = tmp_path / "pose_landmarker.task"
    model.write_bytes(b"one model")
    before = PoseSettings(model_path=str(model)).token()
    model.write_bytes(b"another model")
    assert PoseSettings(model_path=str(model)).token() != before
    assert PoseSettings().token() == PoseSettings().token() != PoseSettings(running_mode="image").token()
    assert PoseSettings().token() != PoseSettings(min_detection_confidence=0.6).token()


def test_mediapipe_loads_without_tensorflow():
    """Workers import mediapipe without TensorFlow (~4 s and ~700 MB less each); the block is lifted after."""
    code = (
        "import sys; from preprocessing.pose import import_mediapipe; mp = import_mediapipe(); "
        "assert mp.solutions.pose.Pose and 'tensorflow' not in sys.modules; "
        "import importlib.util; assert importlib.util.find_spec('tensorflow') is not None"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])

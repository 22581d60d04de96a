"""Camera: placement around the subject (yaw / pitch / roll, distance, framing, image shape),
perspective projection to BlazePose's image coordinates (x, y in 0..1, y down; z on x's scale relative
to the hip centre), visibility (facing away, far-side limbs, out of frame), jitter and missed detections.
"""

from dataclasses import dataclass

import numpy as np

from demo.skeleton import DISTAL, UP, Body, Joints, landmarks_3d, unit
from preprocessing.constants import NUM_FRAMES
from preprocessing.landmarks import HIP

# The spread of camera set-ups is kept moderate so that a small model learns the faults rather than
# the set-up.
VIEWS = {"front": (0.0, 12.0), "oblique": (25.0, 45.0), "side": (60.0, 75.0)}  # yaw ranges (degrees)
VIEW_PROBABILITIES = (0.35, 0.40, 0.25)
# The camera stands at the subjects' left (as in one recording room): mirrored set-ups would double
# what a model must learn, since the original normalisation does not undo a mirror image.
YAW_SIGN = 1.0
PITCH_STANDING, PITCH_LYING = (-3.0, 8.0), (5.0, 25.0)  # camera elevation (degrees)
ASPECTS = (16 / 9, 16 / 9, 4 / 3)  # image width / height
MISS_RATES = (0.0, 0.02, 0.05, 0.12)  # per-subject chance of a frame without detection
MIN_DETECTED = 8  # a clip keeps at least this many detected frames


@dataclass(frozen=True)
class Camera:
    """Where the camera looks from and how the subject is framed."""

    yaw: float  # degrees around the vertical; 0 = in front of the subject, +90 = at the subject's left
    pitch: float  # degrees of elevation (camera above the subject looks down)
    roll: float  # degrees, a tilted phone
    distance: float  # metres from the subject
    fill: float  # the person's larger extent as a fraction of the image
    centre: tuple[float, float]  # person centre in the image (x, y in 0..1)
    aspect: float  # image width / height


def sample_camera(rng: np.random.Generator, view: str, lying: bool) -> Camera:
    """A subject's preferred camera: yaw from the view's range, elevation, framing, image shape."""
    low, high = VIEWS[view]
    return Camera(
        yaw=YAW_SIGN * float(rng.uniform(low, high)),
        pitch=float(rng.uniform(*(PITCH_LYING if lying else PITCH_STANDING))),
        roll=float(rng.normal(0.0, 1.5)),
        distance=float(rng.uniform(2.5, 5.0)),
        fill=float(rng.uniform(0.45, 0.9)),
        centre=(float(rng.uniform(0.35, 0.65)), float(rng.uniform(0.4, 0.6))),
        aspect=float(rng.choice(ASPECTS)),
    )


def jitter_camera(camera: Camera, rng: np.random.Generator) -> Camera:
    """The same set-up on another day: small changes of angle, framing and position."""
    return Camera(
        yaw=camera.yaw + float(rng.normal(0.0, 3.0)),
        pitch=camera.pitch + float(rng.normal(0.0, 2.0)),
        roll=camera.roll + float(rng.normal(0.0, 0.5)),
        distance=camera.distance * float(rng.uniform(0.95, 1.05)),
        fill=float(np.clip(camera.fill * rng.uniform(0.92, 1.08), 0.35, 0.95)),
        centre=(
            camera.centre[0] + float(rng.normal(0.0, 0.03)),
            camera.centre[1] + float(rng.normal(0.0, 0.03)),
        ),
        aspect=camera.aspect,
    )


def camera_axes(camera: Camera, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Camera position (3,) and rotation (3, 3) whose rows are image right, image down, viewing direction."""
    yaw, pitch = np.radians(camera.yaw), np.radians(camera.pitch)
    offset = np.array([np.sin(yaw) * np.cos(pitch), np.sin(pitch), np.cos(yaw) * np.cos(pitch)])
    view = -offset
    right = unit(np.cross(view, UP))
    return target + camera.distance * offset, np.stack([right, np.cross(view, right), view])


def project(points: np.ndarray, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """Image x, y (T, 33, 2) in 0..1 (y down) and BlazePose-like z (T, 33) of world points.

    The whole clip is framed so the person's larger extent is ``camera.fill`` of the image, centred
    at ``camera.centre`` (kept inside the image up to a small margin). z is the depth relative to the
    hip centre, on x's scale (smaller = closer to the camera).
    """
    position, rotation = camera_axes(camera, points.reshape(-1, 3).mean(axis=0))
    local = (points - position) @ rotation.T
    plane = local[..., :2] / local[..., 2:]
    roll = np.radians(camera.roll)
    plane = plane @ np.array([[np.cos(roll), np.sin(roll)], [-np.sin(roll), np.cos(roll)]])
    low, high = plane.reshape(-1, 2).min(axis=0), plane.reshape(-1, 2).max(axis=0)
    span = (high - low) * np.array([1.0 / camera.aspect, 1.0])
    focal = camera.fill / span.max()
    scale = np.array([focal / camera.aspect, focal])
    size = span * focal
    centre = np.clip(camera.centre, size / 2 - 0.03, 1.0 - size / 2 + 0.03)
    xy = (plane - (low + high) / 2) * scale + centre
    hip_depth = local[:, list(HIP), 2].mean(axis=1, keepdims=True)
    z = (local[..., 2] - hip_depth) * scale[0] / hip_depth
    return xy, z


def visibility(
    points: np.ndarray, normals: np.ndarray, camera: Camera, xy: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """(T, 33) BlazePose-like visibility: high facing the camera, lower turned away (more so for
    far-side hands and feet), low outside the image; per-clip and per-point noise."""
    position, _ = camera_axes(camera, points.reshape(-1, 3).mean(axis=0))
    facing = np.sum(normals * unit(position - points), axis=-1)
    logit = 3.0 + 2.5 * facing + 1.5 * DISTAL * np.minimum(facing, 0.0)
    outside = np.any((xy < 0.0) | (xy > 1.0), axis=-1)
    steady = rng.normal(0.0, 0.5, size=logit.shape[1:])  # a point's confidence is stable over the clip
    logit = logit - 5.0 * outside + rng.normal(0.0, 0.4) + steady + rng.normal(0.0, 0.25, size=logit.shape)
    return 1.0 / (1.0 + np.exp(-logit))


def add_jitter(
    xy: np.ndarray, z: np.ndarray, visible: np.ndarray, camera: Camera, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Detector noise: a per-frame shift of the whole figure plus per-point jitter, larger for
    poorly visible points; z noisier than x, y."""
    sd = 0.004 * camera.fill * (1.0 + 2.0 * (1.0 - visible))
    common = rng.normal(0.0, 0.003 * camera.fill, size=(len(xy), 1, 2))
    xy = xy + common + rng.normal(size=xy.shape) * sd[..., None]
    return xy, z + rng.normal(size=z.shape) * 3.0 * sd


def observe(joints: Joints, body: Body, camera: Camera, rng: np.random.Generator) -> np.ndarray:
    """Joints -> (T, 33, 4) float32 landmarks (x, y, z, visibility) as BlazePose returns them for a
    detected person: projected, with visibility and detector noise. Missed frames are the caller's."""
    points, normals = landmarks_3d(joints, body)
    xy, z = project(points, camera)
    visible = visibility(points, normals, camera, xy, rng)
    xy, z = add_jitter(xy, z, visible, camera, rng)
    return np.concatenate([xy, z[..., None], visible[..., None]], axis=-1).astype(np.float32)


def detections(miss_rate: float, rng: np.random.Generator) -> np.ndarray:
    """(NUM_FRAMES,) bool: frames where the detector found the person (scattered misses, sometimes a
    run of several); at least MIN_DETECTED frames are kept."""
    detected = rng.random(NUM_FRAMES) >= miss_rate * rng.uniform(0.0, 2.0)
    if rng.random() < miss_rate * 2:
        start = int(rng.integers(NUM_FRAMES - 4))
        detected[start : start + int(rng.integers(2, 5))] = False
    if detected.sum() < MIN_DETECTED:
        detected[rng.permutation(np.flatnonzero(~detected))[: MIN_DETECTED - detected.sum()]] = True
    return detected

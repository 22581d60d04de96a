"""Virtual cameras: a 3D skeleton (``preprocessing.skeleton3d``) seen as BlazePose reports a video.

A pinhole ``Camera`` is placed relative to the body's facing direction (``skeleton3d.facing``, one
direction per repetition): ``yaw_deg`` 0 stands in front of the person, +90 at their left (as the demo
data's side view), -90 at their right; ``pitch_deg`` raises it (looking down); it looks at the centre
of the box the body moves in over the repetition from ``distance_m``, with a vertical field of view
``fov_deg`` and an image of ``aspect`` (width / height). ``project`` gives what BlazePose gives: x, y
as fractions of the image width and height (y down), z the depth relative to the hip midpoint on x's
scale (smaller = nearer the camera), visibility 1 where the landmark was measured and falls inside the
image, else 0. A frame is ``detected`` when at least two of the shoulders and hips are visible.

``VIEWS`` are the fixed, named views used for validation, testing and ``cv`` (figures per view):
front (yaw 0), oblique (45) and side (90), each at pitch 5, 3.5 m, 55 degrees, 16:9. A score CSV row
that lists a skeleton file stands for one row per view (``expand_views``), written
``<file>#<view>``. Training can draw a random camera per sample instead (``ViewAugmentation``).
"""

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from preprocessing.cache import PoseSequence
from preprocessing.constants import MIN_VISIBLE_LANDMARKS, NUM_FRAMES
from preprocessing.errors import DataValidationError
from preprocessing.files import VIEW_SEPARATOR, is_skeleton_file
from preprocessing.landmarks import HIP, SHOULDER
from preprocessing.skeleton3d import Skeleton3D, facing, load_skeleton

UP = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class Camera:
    """A pinhole camera relative to the person (see the module docstring)."""

    yaw_deg: float = 0.0
    pitch_deg: float = 5.0
    distance_m: float = 3.5
    fov_deg: float = 55.0
    aspect: float = 16 / 9


VIEWS: dict[str, Camera] = {"front": Camera(0.0), "oblique": Camera(45.0), "side": Camera(90.0)}
DEFAULT_VIEW = "front"  # a skeleton file named without a view


@dataclass(frozen=True)
class ViewAugmentation:
    """Training cameras drawn per sample (off by default): yaw uniform in +-``yaw_deg`` (0: off, the
    row's fixed view is used), pitch, distance and field of view uniform in their ranges, the aspect
    one of ``aspects``."""

    yaw_deg: float = 0.0
    pitch_deg: tuple[float, float] = (-5.0, 20.0)
    distance_m: tuple[float, float] = (2.5, 5.0)
    fov_deg: tuple[float, float] = (45.0, 70.0)
    aspects: tuple[float, ...] = (16 / 9, 4 / 3, 9 / 16)

    @property
    def active(self) -> bool:
        return self.yaw_deg > 0

    def draw(self, rng: np.random.Generator) -> Camera:
        return Camera(
            yaw_deg=float(rng.uniform(-self.yaw_deg, self.yaw_deg)),
            pitch_deg=float(rng.uniform(*self.pitch_deg)),
            distance_m=float(rng.uniform(*self.distance_m)),
            fov_deg=float(rng.uniform(*self.fov_deg)),
            aspect=float(rng.choice(self.aspects)),
        )


def camera_pose(skeleton: Skeleton3D, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """Camera position (3,) and rotation (3, 3) whose rows are image right, image down and the viewing
    direction, in the skeleton's world frame."""
    forward, left = facing(skeleton)
    seen = skeleton.positions[skeleton.visible]
    target = (seen.min(0) + seen.max(0)) / 2 if len(seen) else np.zeros(3)
    yaw, pitch = np.radians(camera.yaw_deg), np.radians(camera.pitch_deg)
    offset = np.cos(pitch) * (np.cos(yaw) * forward + np.sin(yaw) * left) + np.sin(pitch) * UP
    view = -offset
    right = np.cross(view, UP)
    right /= np.linalg.norm(right)
    return target + camera.distance_m * offset, np.stack([right, np.cross(view, right), view])


def project(skeleton: Skeleton3D, camera: Camera) -> np.ndarray:
    """(T, 33, 4) float32 landmarks (x, y, z, visibility) as BlazePose reports them (module docstring)."""
    position, rotation = camera_pose(skeleton, camera)
    local = (skeleton.positions.astype(np.float64) - position) @ rotation.T
    depth = np.maximum(local[..., 2], 1e-3)
    focal_y = 0.5 / np.tan(np.radians(camera.fov_deg) / 2)
    focal_x = focal_y / camera.aspect
    x = 0.5 + focal_x * local[..., 0] / depth
    y = 0.5 + focal_y * local[..., 1] / depth
    hip_depth = depth[:, list(HIP)].mean(1, keepdims=True)
    z = (depth - hip_depth) * focal_x / hip_depth
    inside = (x >= 0) & (x <= 1) & (y >= 0) & (y <= 1)
    visibility = (skeleton.visible & inside).astype(np.float64)
    return np.stack([x, y, z, visibility], axis=-1).astype(np.float32)


def render(skeleton: Skeleton3D, camera: Camera, num: int = NUM_FRAMES) -> PoseSequence:
    """``num`` frames (``linspace(0, T - 1, num)`` truncated, as for a video; distinct frames only when
    ``num`` is not NUM_FRAMES, as a dense track) of ``skeleton`` seen through ``camera``."""
    total = len(skeleton.positions)
    indices = np.linspace(0, total - 1, num).astype(np.int64)
    if num != NUM_FRAMES:
        indices = np.unique(indices)
    chosen = dataclasses.replace(skeleton, positions=skeleton.positions[indices], visible=skeleton.visible[indices])
    landmarks = project(chosen, camera)
    detected = (landmarks[:, [*SHOULDER, *HIP], 3] > 0).sum(1) >= MIN_VISIBLE_LANDMARKS
    landmarks[~detected] = 0.0
    return PoseSequence(landmarks, detected, indices, total, aspect=camera.aspect)


def split_view(path: str | Path) -> tuple[Path, str]:
    """(skeleton file, view name) of ``<file>#<view>`` (``<file>`` alone: DEFAULT_VIEW)."""
    file, _, view = str(path).partition(VIEW_SEPARATOR)
    view = view or DEFAULT_VIEW
    if view not in VIEWS:
        raise DataValidationError(f"{path}: unknown view {view!r} (choose from {', '.join(VIEWS)})")
    return Path(file), view


def skeleton_pose(path: str | Path, num: int = NUM_FRAMES) -> PoseSequence:
    """The pose sequence of ``<skeleton file>[#<view>]``: the file seen through its named view."""
    file, view = split_view(path)
    return render(load_skeleton(file), VIEWS[view], num)


def expand_views(rows: pd.DataFrame, views: list[str]) -> pd.DataFrame:
    """``rows`` (``load_scores``) with each skeleton file's row repeated once per view, its ``video``
    ``<file>#<view>``, and a ``view`` column ("" for videos and pose files); unchanged without any."""
    skeleton = rows["video"].map(is_skeleton_file)
    if not skeleton.any():
        return rows
    unknown = [view for view in views if view not in VIEWS]
    if unknown or not views:
        raise DataValidationError(f"views {views} must be some of {', '.join(VIEWS)}")
    parts = [rows[~skeleton].assign(view="")]
    for view in views:
        parts.append(rows[skeleton].assign(video=rows.loc[skeleton, "video"] + VIEW_SEPARATOR + view, view=view))
    return pd.concat(parts).sort_values(["line", "view"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class RandomView:
    """A training track drawn afresh per sample: a skeleton seen through a random camera."""

    skeleton: Skeleton3D
    views: ViewAugmentation
    num: int

    def draw(self, rng: np.random.Generator) -> PoseSequence:
        return render(self.skeleton, self.views.draw(rng), self.num)

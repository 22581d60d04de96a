"""Training-time augmentation of raw pose sequences, applied before the features are computed.

Every transform takes and returns a PoseSequence (raw BlazePose landmarks, image coordinates) and
keeps the shapes, the ``detected`` flags (except frame dropout, which clears some) and the zeros of
frames without a person. ``Augmentation`` chains them with one seeded generator; ``resample`` picks
the NUM_FRAMES frames of a training sample from a denser track (temporal jitter).
"""

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from preprocessing.cache import PoseSequence
from preprocessing.constants import NUM_FRAMES
from preprocessing.landmarks import MIRROR_PERMUTATION


def _with(sequence: PoseSequence, landmarks: np.ndarray, **changes: Any) -> PoseSequence:
    """``sequence`` with new landmarks; frames without a person stay all zeros."""
    landmarks = np.where(sequence.detected[:, None, None], landmarks, 0.0).astype(np.float32)
    return dataclasses.replace(sequence, landmarks=landmarks, **changes)


def mirror(sequence: PoseSequence) -> PoseSequence:
    """Horizontal mirror image: x -> 1 - x and every left landmark exchanged with its right twin."""
    landmarks = sequence.landmarks[:, MIRROR_PERMUTATION].copy()
    landmarks[..., 0] = 1.0 - landmarks[..., 0]
    return _with(sequence, landmarks)


def _centre(sequence: PoseSequence) -> np.ndarray:
    """(2,) mean x, y of the detected frames' landmarks (0.5, 0.5 when none)."""
    points = sequence.landmarks[sequence.detected][..., :2]
    return points.reshape(-1, 2).mean(0) if points.size else np.array([0.5, 0.5])


def similarity(sequence: PoseSequence, angle: float, scale: float, shift: tuple[float, float]) -> PoseSequence:
    """Rotate the x, y of every landmark in the image plane by ``angle`` radians (true angles: x is
    stretched by the aspect first), scale by ``scale`` about the body's centre, then shift by ``shift``
    (fractions of the frame). z is scaled with x, y; visibility is kept."""
    aspect = sequence.aspect if sequence.aspect > 0 else 1.0
    stretch = np.array([aspect, 1.0])
    centre = _centre(sequence) * stretch
    cos, sin = np.cos(angle), np.sin(angle)
    xy = (sequence.landmarks[..., :2] * stretch - centre) @ np.array([[cos, sin], [-sin, cos]]) * scale
    landmarks = sequence.landmarks.copy()
    landmarks[..., :2] = (xy + centre) / stretch + np.asarray(shift)
    landmarks[..., 2] *= scale
    return _with(sequence, landmarks)


def jitter(sequence: PoseSequence, sd: float, rng: np.random.Generator) -> PoseSequence:
    """Independent Gaussian noise of ``sd`` (fraction of the frame) on every landmark's x and y."""
    landmarks = sequence.landmarks.copy()
    landmarks[..., :2] += rng.normal(0.0, sd, landmarks[..., :2].shape)
    return _with(sequence, landmarks)


def drop_frames(sequence: PoseSequence, probability: float, rng: np.random.Generator) -> PoseSequence:
    """Mark each frame as "no person" with ``probability`` (at least one detected frame is kept)."""
    keep = sequence.detected & (rng.uniform(size=len(sequence.detected)) >= probability)
    if not keep.any() and sequence.detected.any():
        keep[rng.choice(np.flatnonzero(sequence.detected))] = True
    return _with(dataclasses.replace(sequence, detected=keep), sequence.landmarks)


def resample(track: PoseSequence, rng: np.random.Generator | None, min_span: float = 0.8) -> PoseSequence:
    """NUM_FRAMES frames of ``track`` (a denser pose track, or a NUM_FRAMES sequence).

    ``rng`` None: the frames nearest to ``linspace(0, total - 1, NUM_FRAMES)``, as the default
    sampling. Otherwise a random window covering ``min_span``..1 of the video, its NUM_FRAMES
    targets each moved by up to half a step, then the nearest tracked frame to each target.
    """
    last = track.total_frames - 1
    if rng is None:
        start, end, noise = 0.0, float(last), np.zeros(NUM_FRAMES)
    else:
        span = rng.uniform(min_span, 1.0) * last
        start = rng.uniform(0.0, last - span)
        end, noise = start + span, rng.uniform(-0.5, 0.5, NUM_FRAMES)
    targets = np.linspace(start, end, NUM_FRAMES) + noise * (end - start) / (NUM_FRAMES - 1)
    chosen = np.abs(track.frame_indices[None, :] - targets[:, None]).argmin(1)
    return dataclasses.replace(
        track,
        landmarks=track.landmarks[chosen],
        detected=track.detected[chosen],
        frame_indices=track.frame_indices[chosen],
    )


@dataclass(frozen=True)
class AugmentationConfig:
    """Training augmentation (all off by default: the seed's behaviour). Probabilities are per
    sample; ranges are uniform: rotation +-``rotation_deg`` degrees, scale 1 +- ``scale``, shift
    +- ``shift`` of the frame, landmark noise sd ``noise``, frame dropout ``frame_dropout`` per frame,
    temporal jitter from the denser pose track when ``temporal`` is True."""

    mirror: float = 0.0
    rotation_deg: float = 0.0
    scale: float = 0.0
    shift: float = 0.0
    noise: float = 0.0
    frame_dropout: float = 0.0
    temporal: bool = False

    @property
    def active(self) -> bool:
        return self != AugmentationConfig()


def augment(track: PoseSequence, config: AugmentationConfig, rng: np.random.Generator) -> PoseSequence:
    """One random NUM_FRAMES training sample drawn from ``track`` with every transform of ``config``."""
    sequence = resample(track, rng if config.temporal else None)
    if rng.uniform() < config.mirror:
        sequence = mirror(sequence)
    if config.rotation_deg or config.scale or config.shift:
        angle = np.deg2rad(rng.uniform(-config.rotation_deg, config.rotation_deg))
        scale = rng.uniform(1.0 - config.scale, 1.0 + config.scale)
        shift = tuple(rng.uniform(-config.shift, config.shift, 2))
        sequence = similarity(sequence, angle, scale, shift)
    if config.noise:
        sequence = jitter(sequence, config.noise, rng)
    if config.frame_dropout:
        sequence = drop_frames(sequence, config.frame_dropout, rng)
    return sequence

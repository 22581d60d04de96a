"""Timeline: one clip around one repetition (rest, descent, bottom hold, ascent, rest), sampled as
the real pipeline samples videos (``linspace(0, n - 1, NUM_FRAMES)`` truncated), and the movement
depth ``m`` in 0..1 (0 = rest, 1 = bottom) at each sampled frame."""

from dataclasses import dataclass

import numpy as np

from preprocessing.constants import NUM_FRAMES

FPS_CHOICES = (24, 25, 30, 30, 60)


@dataclass(frozen=True)
class Timeline:
    """The sampled frames of one clip and the movement depth at each of them."""

    frame_indices: np.ndarray  # (NUM_FRAMES,) int64
    total_frames: int
    times: np.ndarray  # (NUM_FRAMES,) seconds
    depth: np.ndarray  # (NUM_FRAMES,) 0 = rest, 1 = bottom of the repetition


def ease(fraction: np.ndarray) -> np.ndarray:
    """Smooth 0 -> 1 over fraction 0..1 (cosine ease-in-out), clipped outside."""
    return (1.0 - np.cos(np.pi * np.clip(fraction, 0.0, 1.0))) / 2.0


def movement_depth(times: np.ndarray, start: float, seconds: float, descent: float, hold: float) -> np.ndarray:
    """Depth at ``times`` of a repetition starting at ``start``: descent, bottom hold, ascent (fractions)."""
    phase = (times - start) / seconds
    going_down = ease(phase / descent)
    coming_up = ease((phase - descent - hold) / (1.0 - descent - hold))
    return np.where(phase < descent + hold, going_down, 1.0 - coming_up)


def sample_timeline(seconds: float, tempo_severity: float, rng: np.random.Generator) -> Timeline:
    """A clip: rest before and after the repetition (the clip starts and ends mid-rest), then sampling."""
    fps = int(rng.choice(FPS_CHOICES))
    before, after = rng.uniform(0.1, 1.0, size=2)
    descent = float(rng.uniform(0.38, 0.52))
    hold = float(rng.uniform(0.0, 0.18) * (1.0 - tempo_severity))
    total_frames = max(int(round((before + seconds + after) * fps)), NUM_FRAMES)
    frame_indices = np.linspace(0, total_frames - 1, NUM_FRAMES).astype(np.int64)
    times = frame_indices / fps
    depth = movement_depth(times, float(before), seconds, descent, hold)
    return Timeline(frame_indices=frame_indices, total_frames=total_frames, times=times, depth=depth)

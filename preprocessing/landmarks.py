"""The 33 BlazePose landmarks: one table of indices, names and left/right pairs, used everywhere.

Index order is BlazePose's (``mp.solutions.pose.PoseLandmark``): odd indices are the person's left,
even their right (the nose, 0, has no side).
"""

from enum import IntEnum

import numpy as np


class Landmark(IntEnum):
    """A BlazePose landmark; its value is its index in a (33, 4) landmark array."""

    NOSE = 0
    LEFT_EYE_INNER = 1
    LEFT_EYE = 2
    LEFT_EYE_OUTER = 3
    RIGHT_EYE_INNER = 4
    RIGHT_EYE = 5
    RIGHT_EYE_OUTER = 6
    LEFT_EAR = 7
    RIGHT_EAR = 8
    MOUTH_LEFT = 9
    MOUTH_RIGHT = 10
    LEFT_SHOULDER = 11
    RIGHT_SHOULDER = 12
    LEFT_ELBOW = 13
    RIGHT_ELBOW = 14
    LEFT_WRIST = 15
    RIGHT_WRIST = 16
    LEFT_PINKY = 17
    RIGHT_PINKY = 18
    LEFT_INDEX = 19
    RIGHT_INDEX = 20
    LEFT_THUMB = 21
    RIGHT_THUMB = 22
    LEFT_HIP = 23
    RIGHT_HIP = 24
    LEFT_KNEE = 25
    RIGHT_KNEE = 26
    LEFT_ANKLE = 27
    RIGHT_ANKLE = 28
    LEFT_HEEL = 29
    RIGHT_HEEL = 30
    LEFT_FOOT_INDEX = 31
    RIGHT_FOOT_INDEX = 32


L = Landmark
# (left, right) of each paired body part.
SHOULDER = (L.LEFT_SHOULDER, L.RIGHT_SHOULDER)
ELBOW = (L.LEFT_ELBOW, L.RIGHT_ELBOW)
WRIST = (L.LEFT_WRIST, L.RIGHT_WRIST)
HIP = (L.LEFT_HIP, L.RIGHT_HIP)
KNEE = (L.LEFT_KNEE, L.RIGHT_KNEE)
ANKLE = (L.LEFT_ANKLE, L.RIGHT_ANKLE)
HEEL = (L.LEFT_HEEL, L.RIGHT_HEEL)
FOOT = (L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX)

# Every left/right pair (eyes, ears, mouth corners, limbs), derived from the names.
PAIRS: tuple[tuple[Landmark, Landmark], ...] = tuple(
    (mark, Landmark[mark.name.replace("LEFT", "RIGHT")]) for mark in Landmark if "LEFT" in mark.name
)
# The landmark order with left and right exchanged: ``landmarks[MIRROR_PERMUTATION]`` mirrors a body.
MIRROR_PERMUTATION = np.arange(len(Landmark))
for _left, _right in PAIRS:
    MIRROR_PERMUTATION[[_left, _right]] = _right, _left

# The skeleton drawn on annotated frames: shoulders and hips across, then each side's arm, flank and leg.
LIMBS = ((SHOULDER, ELBOW), (ELBOW, WRIST), (SHOULDER, HIP), (HIP, KNEE), (KNEE, ANKLE), (ANKLE, FOOT))
BONES: tuple[tuple[Landmark, Landmark], ...] = (
    SHOULDER,
    HIP,
    *((start[side], end[side]) for side in (0, 1) for start, end in LIMBS),
)

"""3D skeleton sequences (motion capture, Kinect, OpenPose-3D, ...) -> BlazePose's 33 landmarks in 3D.

Two file formats are read (``load_skeleton``):

- **UI-PRMD Vicon** ``*.txt.gz``: one frame per line, 117 comma-separated numbers = the 39 markers of
  the Vicon Plug-in Gait full-body set (``PLUG_IN_GAIT``, in that order) x (x, y, z), millimetres,
  z up, ``VICON_FPS`` frames per second.
- **Generic** ``*.skeleton.npz`` (write it with ``save_skeleton``): ``positions`` (T, J, 3) float,
  ``joint_names`` (J,) str, ``units`` ("m", "cm" or "mm"), optional ``fps`` (0 / absent: unknown) and
  ``up_axis`` ("z", the default, or "y" as in Kinect and most OpenPose-3D exports; a y-up right-handed
  frame becomes z-up). Joint names are BlazePose landmark names (``left_hip``, ``nose``, any case, see
  ``preprocessing.landmarks.Landmark``), or Plug-in Gait marker names (``LASI``, ...; then the marker
  mapping below applies); other names are ignored.

Missing values: a marker whose x, y, z are all zero, or any of them NaN or infinite, is missing in that
frame (Vicon writes zeros in gaps). Gaps of up to ``MAX_GAP_SECONDS`` inside a marker's trajectory are
filled by linear interpolation; longer gaps and those at the start or end stay missing, and every
landmark made from a missing marker is invisible in that frame (its position is the mean of the
frame's visible landmarks, never a number from the gap).

Plug-in Gait -> BlazePose (``markers_to_landmarks``; offsets in mm, documented approximations):

- hips: hip joint centres from the four pelvis markers by Harrington et al. (2007, J. Biomech. 40:595),
  in the pelvis frame (origin mid-ASIS, forward mid-PSIS -> mid-ASIS, left RASI -> LASI): 0.24 PD + 9.9
  back, 0.30 PW + 10.9 down, 0.33 PW + 7.3 to the side (PW: ASIS distance, PD: mid-ASIS to mid-PSIS);
- knees / ankles: the lateral KNE / ANK marker moved ``KNEE_MEDIAL_MM`` / ``ANKLE_MEDIAL_MM`` medially
  along the pelvis's left-right axis (half a typical knee / ankle width);
- shoulders: the SHO (acromion) marker moved ``SHOULDER_DOWN_MM`` down the trunk (C7/CLAV -> T10/STRN);
- elbows: the ELB marker; wrists: the mean of WRA and WRB; index, pinky, thumb: the FIN marker;
- heels: HEE; foot index: TOE;
- face (nose, eyes, ears, mouth): fixed offsets in the head frame (origin mid-FHD, forward BHD -> FHD,
  left RFHD -> LFHD), ``FACE_OFFSETS_MM``.

Every landmark has a source here; a generic file without some landmark leaves it invisible throughout.
"""

import gzip
import logging
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from preprocessing.constants import NUM_FRAMES
from preprocessing.errors import DataValidationError
from preprocessing.files import GENERIC_SKELETON_SUFFIX, atomic_output
from preprocessing.landmarks import HIP, SHOULDER, Landmark

logger = logging.getLogger(__name__)

PLUG_IN_GAIT = (
    "LFHD RFHD LBHD RBHD C7 T10 CLAV STRN RBAK LSHO LUPA LELB LFRM LWRA LWRB LFIN RSHO RUPA RELB RFRM RWRA "
    "RWRB RFIN LASI RASI LPSI RPSI LTHI LKNE LTIB LANK LHEE LTOE RTHI RKNE RTIB RANK RHEE RTOE"
).split()
VICON_COLUMNS = 3 * len(PLUG_IN_GAIT)
VICON_FPS = 100.0
UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001}
MIN_FRAMES = NUM_FRAMES  # fewer frames than the model samples is not a repetition
MAX_GAP_SECONDS = 0.2
DEFAULT_GAP_FRAMES = 6  # when the frame rate is unknown

KNEE_MEDIAL_MM = 50.0
ANKLE_MEDIAL_MM = 35.0
SHOULDER_DOWN_MM = 40.0
# landmark -> (forward, left, up) offset from mid-FHD in the head frame, millimetres
FACE_OFFSETS_MM: dict[Landmark, tuple[float, float, float]] = {
    Landmark.NOSE: (25.0, 0.0, -60.0),
    Landmark.LEFT_EYE_INNER: (15.0, 15.0, -25.0),
    Landmark.LEFT_EYE: (10.0, 32.0, -25.0),
    Landmark.LEFT_EYE_OUTER: (0.0, 45.0, -25.0),
    Landmark.RIGHT_EYE_INNER: (15.0, -15.0, -25.0),
    Landmark.RIGHT_EYE: (10.0, -32.0, -25.0),
    Landmark.RIGHT_EYE_OUTER: (0.0, -45.0, -25.0),
    Landmark.LEFT_EAR: (-85.0, 70.0, -40.0),
    Landmark.RIGHT_EAR: (-85.0, -70.0, -40.0),
    Landmark.MOUTH_LEFT: (15.0, 22.0, -95.0),
    Landmark.MOUTH_RIGHT: (15.0, -22.0, -95.0),
}
# landmark -> the markers whose mean it is (before any offset)
MARKER_SOURCES: dict[Landmark, tuple[str, ...]] = {
    Landmark.LEFT_SHOULDER: ("LSHO",),
    Landmark.RIGHT_SHOULDER: ("RSHO",),
    Landmark.LEFT_ELBOW: ("LELB",),
    Landmark.RIGHT_ELBOW: ("RELB",),
    Landmark.LEFT_WRIST: ("LWRA", "LWRB"),
    Landmark.RIGHT_WRIST: ("RWRA", "RWRB"),
    Landmark.LEFT_PINKY: ("LFIN",),
    Landmark.RIGHT_PINKY: ("RFIN",),
    Landmark.LEFT_INDEX: ("LFIN",),
    Landmark.RIGHT_INDEX: ("RFIN",),
    Landmark.LEFT_THUMB: ("LFIN",),
    Landmark.RIGHT_THUMB: ("RFIN",),
    Landmark.LEFT_KNEE: ("LKNE",),
    Landmark.RIGHT_KNEE: ("RKNE",),
    Landmark.LEFT_ANKLE: ("LANK",),
    Landmark.RIGHT_ANKLE: ("RANK",),
    Landmark.LEFT_HEEL: ("LHEE",),
    Landmark.RIGHT_HEEL: ("RHEE",),
    Landmark.LEFT_FOOT_INDEX: ("LTOE",),
    Landmark.RIGHT_FOOT_INDEX: ("RTOE",),
}
PELVIS = ("LASI", "RASI", "LPSI", "RPSI")
HEAD = ("LFHD", "RFHD", "LBHD", "RBHD")
TRUNK = ("C7", "CLAV", "T10", "STRN")


@dataclass(frozen=True)
class Skeleton3D:
    """A 3D sequence as BlazePose's 33 landmarks.

    positions: (T, 33, 3) float32, metres, world frame with z up.
    visible: (T, 33) bool, the landmark's sources were measured in that frame.
    fps: frames per second (0.0 when unknown).
    """

    positions: np.ndarray
    visible: np.ndarray
    fps: float = 0.0


def is_vicon_file(path: str | Path) -> bool:
    return str(path).endswith(".txt.gz")


def missing_mask(points: np.ndarray) -> np.ndarray:
    """(T, J) bool: a point is missing where x, y, z are all zero or any is NaN / infinite."""
    return ~np.isfinite(points).all(-1) | (points == 0).all(-1)


def fill_gaps(points: np.ndarray, missing: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """(T, J, 3) points with interior gaps of at most ``max_gap`` frames linearly interpolated, and the
    (T, J) mask of what is still missing (longer gaps, leading and trailing ones)."""
    points, missing = points.copy(), missing.copy()
    frames = np.arange(len(points))
    for joint in range(points.shape[1]):
        gap = missing[:, joint]
        if not gap.any() or gap.all():
            continue
        edges = np.flatnonzero(np.diff(np.concatenate([[0], gap.astype(np.int8), [0]])))
        known = ~gap
        for start, end in zip(edges[::2], edges[1::2], strict=True):
            if start == 0 or end == len(points) or end - start > max_gap:
                continue
            span = slice(start, end)
            for axis in range(3):
                points[span, joint, axis] = np.interp(frames[span], frames[known], points[known, joint, axis])
            missing[span, joint] = False
    points[missing] = 0.0
    return points, missing


def _unit(vectors: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norm > 0, norm, 1.0)


def _frame_axes(front: np.ndarray, back: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """(T, 3, 3) orthonormal (forward, left, up) axes from a front/back and a left/right point pair."""
    lateral = _unit(left - right)
    forward = front - back
    forward = _unit(forward - np.sum(forward * lateral, -1, keepdims=True) * lateral)
    return np.stack([forward, lateral, np.cross(forward, lateral)], axis=1)


def markers_to_landmarks(markers: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 39, 3) Plug-in Gait markers (mm, ``PLUG_IN_GAIT`` order) and their (T, 39) missing mask ->
    (T, 33, 3) landmarks in mm and (T, 33) visible mask (see the module docstring for the mapping)."""
    index = {name: i for i, name in enumerate(PLUG_IN_GAIT)}

    def point(*names: str) -> np.ndarray:
        return markers[:, [index[n] for n in names]].mean(1)

    def measured(*names: str) -> np.ndarray:
        return ~missing[:, [index[n] for n in names]].any(1)

    landmarks = np.zeros((len(markers), len(Landmark), 3))
    visible = np.zeros((len(markers), len(Landmark)), dtype=bool)
    for landmark, names in MARKER_SOURCES.items():
        landmarks[:, landmark], visible[:, landmark] = point(*names), measured(*names)
    pelvis = _frame_axes(point("LASI", "RASI"), point("LPSI", "RPSI"), point("LASI"), point("RASI"))
    forward, left, up = pelvis[:, 0], pelvis[:, 1], pelvis[:, 2]
    width = np.linalg.norm(point("LASI") - point("RASI"), axis=-1, keepdims=True)
    depth = np.linalg.norm(point("LASI", "RASI") - point("LPSI", "RPSI"), axis=-1, keepdims=True)
    hip = point("LASI", "RASI") - (0.24 * depth + 9.9) * forward - (0.30 * width + 10.9) * up
    for landmark, side in zip(HIP, (1.0, -1.0), strict=True):
        landmarks[:, landmark] = hip + side * (0.33 * width + 7.3) * left
        visible[:, landmark] = measured(*PELVIS)
    for landmark, side, offset in (
        (Landmark.LEFT_KNEE, -1.0, KNEE_MEDIAL_MM),
        (Landmark.RIGHT_KNEE, 1.0, KNEE_MEDIAL_MM),
        (Landmark.LEFT_ANKLE, -1.0, ANKLE_MEDIAL_MM),
        (Landmark.RIGHT_ANKLE, 1.0, ANKLE_MEDIAL_MM),
    ):
        landmarks[:, landmark] += side * offset * left
        visible[:, landmark] &= measured(*PELVIS)
    trunk_down = _unit(point("T10", "STRN") - point("C7", "CLAV"))
    for landmark in SHOULDER:
        landmarks[:, landmark] += SHOULDER_DOWN_MM * trunk_down
        visible[:, landmark] &= measured(*TRUNK)
    head = _frame_axes(point("LFHD", "RFHD"), point("LBHD", "RBHD"), point("LFHD"), point("RFHD"))
    for landmark, face_offset in FACE_OFFSETS_MM.items():
        landmarks[:, landmark] = point("LFHD", "RFHD") + np.einsum("k,tkd->td", np.asarray(face_offset), head)
        visible[:, landmark] = measured(*HEAD)
    return landmarks, visible


def _skeleton(landmarks: np.ndarray, visible: np.ndarray, metres_per_unit: float, fps: float) -> Skeleton3D:
    """A Skeleton3D whose invisible landmarks sit at the mean of their frame's visible ones."""
    landmarks = landmarks * metres_per_unit
    counts = visible.sum(1, keepdims=True)
    centre = np.where(visible[..., None], landmarks, 0.0).sum(1) / np.maximum(counts, 1)
    landmarks = np.where(visible[..., None], landmarks, centre[:, None])
    return Skeleton3D(landmarks.astype(np.float32), visible, fps)


def _gap_frames(fps: float) -> int:
    return max(1, round(MAX_GAP_SECONDS * fps)) if fps > 0 else DEFAULT_GAP_FRAMES


def read_vicon(path: Path) -> Skeleton3D:
    """A UI-PRMD Vicon ``.txt.gz`` file as BlazePose landmarks; DataValidationError naming the file for
    an unreadable file, a wrong column count, non-numeric values or too few frames."""
    try:
        with gzip.open(path, "rt") as handle:
            lines = [line.strip() for line in handle if line.strip()]
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as error:
        raise DataValidationError(f"{path}: unreadable gzip text file ({error})") from None
    try:
        markers = np.loadtxt(lines, delimiter=",", ndmin=2, usecols=range(VICON_COLUMNS))
    except ValueError:
        markers = None  # the line-by-line check below says what is wrong
    if (
        markers is None
        or markers.shape[1] != VICON_COLUMNS
        or any(line.rstrip(",").count(",") != VICON_COLUMNS - 1 for line in lines)
    ):
        markers = _parse_lines(path, lines)
    markers = markers.reshape(-1, len(PLUG_IN_GAIT), 3)
    check_frames(path, len(markers))
    markers, missing = fill_gaps(markers, missing_mask(markers), _gap_frames(VICON_FPS))
    landmarks, visible = markers_to_landmarks(markers, missing)
    return _skeleton(landmarks, visible, UNITS["mm"], VICON_FPS)


def _parse_lines(path: Path, lines: list[str]) -> np.ndarray:
    """The values of every line, or DataValidationError naming the first bad line and its problem."""
    rows = []
    for number, line in enumerate(lines, start=1):
        cells = line.rstrip(",").split(",")
        if len(cells) != VICON_COLUMNS:
            raise DataValidationError(
                f"{path}: line {number} has {len(cells)} values, expected {VICON_COLUMNS} "
                f"({len(PLUG_IN_GAIT)} Plug-in Gait markers x 3)"
            )
        try:
            rows.append([float(cell) for cell in cells])
        except ValueError:
            bad = next(cell for cell in cells if not _is_number(cell))
            raise DataValidationError(f"{path}: line {number} has a non-numeric value {bad.strip()!r}") from None
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), VICON_COLUMNS)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_frames(path: Path, frames: int) -> None:
    if frames < MIN_FRAMES:
        raise DataValidationError(f"{path}: {frames} frames, a repetition needs at least {MIN_FRAMES}")


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as loaded:
            return {name: loaded[name] for name in loaded.files}
    except Exception as error:  # damaged archives raise many types (BadZipFile, ValueError, ...)
        raise DataValidationError(f"{path}: not a readable .npz archive ({type(error).__name__}: {error})") from None


def read_generic(path: Path) -> Skeleton3D:
    """A ``*.skeleton.npz`` file (see the module docstring); DataValidationError naming the file and
    the problem."""
    arrays = _npz_arrays(path)
    absent = [name for name in ("positions", "joint_names", "units") if name not in arrays]
    if absent:
        raise DataValidationError(f"{path}: missing array(s) {', '.join(absent)} (found: {', '.join(arrays)})")
    positions, names, units = arrays["positions"], [str(n) for n in arrays["joint_names"]], str(arrays["units"])
    if positions.ndim != 3 or positions.shape[2] != 3 or positions.shape[1] != len(names):
        raise DataValidationError(
            f"{path}: positions {positions.shape} must be (frames, {len(names)} joints, 3) for {len(names)} joint_names"
        )
    if not np.issubdtype(positions.dtype, np.number):
        raise DataValidationError(f"{path}: positions are {positions.dtype}, not numbers")
    if units not in UNITS:
        raise DataValidationError(f"{path}: units {units!r} is not one of {', '.join(UNITS)}")
    up = str(arrays.get("up_axis", "z"))
    if up not in ("y", "z"):
        raise DataValidationError(f"{path}: up_axis {up!r} is not 'y' or 'z'")
    check_frames(path, len(positions))
    fps = float(arrays.get("fps", 0.0))
    points = positions.astype(np.float64)
    if up == "y":
        points = np.stack([points[..., 0], -points[..., 2], points[..., 1]], axis=-1)
    points, missing = fill_gaps(points, missing_mask(points), _gap_frames(fps))
    landmarks, visible = joints_to_landmarks(path, points, missing, names)
    return _skeleton(landmarks, visible, UNITS[units], fps)


def joints_to_landmarks(
    path: Path, points: np.ndarray, missing: np.ndarray, names: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Named joints -> (T, 33, 3) landmarks and visibility: Plug-in Gait markers through
    ``markers_to_landmarks`` (absent markers missing throughout), else BlazePose names one to one."""
    upper = [name.upper() for name in names]
    if set(upper) & set(PLUG_IN_GAIT):
        markers = np.zeros((len(points), len(PLUG_IN_GAIT), 3))
        marker_missing = np.ones((len(points), len(PLUG_IN_GAIT)), dtype=bool)
        for column, name in enumerate(upper):
            if name in PLUG_IN_GAIT:
                markers[:, PLUG_IN_GAIT.index(name)] = points[:, column]
                marker_missing[:, PLUG_IN_GAIT.index(name)] = missing[:, column]
        return markers_to_landmarks(markers, marker_missing)
    landmarks = np.zeros((len(points), len(Landmark), 3))
    visible = np.zeros((len(points), len(Landmark)), dtype=bool)
    for column, name in enumerate(upper):
        if name in Landmark.__members__:
            landmarks[:, Landmark[name]], visible[:, Landmark[name]] = points[:, column], ~missing[:, column]
    ignored = [name for name in names if name.upper() not in Landmark.__members__]
    if ignored:
        logger.info("%s: joints %s are not BlazePose landmarks, ignored", path, ", ".join(ignored))
    torso = [*SHOULDER, *HIP]
    if not visible[:, torso].any():
        raise DataValidationError(
            f"{path}: no shoulder or hip among joint_names {', '.join(names)} (name joints as BlazePose "
            "landmarks, e.g. left_hip, or as Plug-in Gait markers, e.g. LASI)"
        )
    return landmarks, visible


@lru_cache(maxsize=1024)
def _load(path: str, size: int, mtime_ns: int) -> Skeleton3D:
    file = Path(path)
    return read_vicon(file) if is_vicon_file(file) else read_generic(file)


def load_skeleton(path: str | Path) -> Skeleton3D:
    """The skeleton of a Vicon ``.txt.gz`` or generic ``.skeleton.npz`` file (read once per process
    while the file is unchanged); DataValidationError naming the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(f"{path}: no such skeleton file")
    if not (is_vicon_file(path) or str(path).endswith(GENERIC_SKELETON_SUFFIX)):
        raise DataValidationError(f"{path}: not a skeleton file (.txt.gz or {GENERIC_SKELETON_SUFFIX})")
    stat = path.stat()
    return _load(str(path.absolute()), stat.st_size, stat.st_mtime_ns)


def save_skeleton(
    path: str | Path, positions: np.ndarray, joint_names: list[str], units: str, fps: float = 0.0, up_axis: str = "z"
) -> None:
    """Write a generic ``.skeleton.npz`` file atomically (the format ``read_generic`` reads)."""
    with atomic_output(path) as temp, open(temp, "wb") as handle:
        np.savez(
            handle,
            positions=np.asarray(positions, dtype=np.float32),
            joint_names=np.asarray(joint_names, dtype=str),
            units=np.asarray(units),
            fps=np.asarray(fps, dtype=np.float64),
            up_axis=np.asarray(up_axis),
        )


def facing(skeleton: Skeleton3D) -> tuple[np.ndarray, np.ndarray]:
    """The body's horizontal forward and left unit vectors (3,) over the whole sequence: left from the
    left-minus-right hips and shoulders, forward = left x up (+y when nothing is seen)."""
    positions, visible = skeleton.positions.astype(np.float64), skeleton.visible
    left = np.zeros(3)
    for left_mark, right_mark in (HIP, SHOULDER):
        both = visible[:, left_mark] & visible[:, right_mark]
        left += (positions[both, left_mark] - positions[both, right_mark]).sum(0)
    left[2] = 0.0
    if np.linalg.norm(left) == 0:
        left = np.array([0.0, 1.0, 0.0])
    left = _unit(left)
    forward = np.cross(left, [0.0, 0.0, 1.0])
    return forward, left

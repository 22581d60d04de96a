"""Constants shared by every pipeline stage (one place, imported everywhere)."""

NUM_FRAMES = 16
TRACK_FRAMES = 48  # frames of the denser pose track that temporal augmentation resamples from
NUM_LANDMARKS = 33
LANDMARK_DIMS = 4  # x, y, z, visibility
FEATURE_DIMS = NUM_LANDMARKS * LANDMARK_DIMS + 1  # + per-frame validity flag = 133
SCORE_SCALE = 100.0
VISIBILITY_THRESHOLD = 0.25
MIN_VISIBLE_LANDMARKS = 2

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
POSE_FILE_SUFFIX = ".pose.npz"  # pre-extracted pose sequences (demo data), read like cache entries
SKELETON_SUFFIXES = (".txt.gz", ".skeleton.npz")  # 3D skeletons: UI-PRMD Vicon, generic (preprocessing/skeleton3d.py)

DEFAULT_CACHE_DIR = "checkpoints/keypoints_cache"
DEFAULT_MODEL_DIR = "checkpoints"  # exported models; every command resolves these against the working directory
DEFAULT_DATA_DIR = "data"

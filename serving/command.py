"""``score``: score exercise videos with an exported model: 0..100 per video, and frames with a person (x/16).

    python cli.py score data/squats_test/clip.mp4 [more videos or folders] [--exercise squat]
    python cli.py score clip.mp4 --model checkpoints/squat_scorer.keras --json
    python cli.py score my_set.mp4 --exercise pushup --reps [--annotate out.mp4]  # per rep
    python cli.py score long_set.mp4 --exercise pushup --reps --num_workers 2  # long video: parallel chunks
    python cli.py score --live 0 --exercise squat --show       # camera 0 (or a URL / file)
    python cli.py score --test_sets --limit 5                  # each exercise's test folder, its model

(``formscore score ...`` and ``python scripts/score_video.py ...`` are the same command.)
The model is ``checkpoints/<exercise>_scorer.onnx`` unless ``--model`` names another artifact: an
``.onnx`` file runs in ONNX Runtime, a ``.keras`` file in Keras, a folder as a TensorFlow SavedModel,
a ``.tflite`` file (float32, ``_f16`` or ``_int8``) in the TFLite interpreter. An artifact whose
preprocessing signature differs from this code's is refused (exit status 6). A bad video is reported
on stderr, naming the file, and the others are still scored; the exit status is then 1. Like every
command, the defaults (models and keypoint cache under ``checkpoints/``, data under ``data/``) are
relative to the working directory; a cache folder that cannot be written is not an error: the poses
are then kept in memory only.
"""

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from jsonargparse.typing import PositiveInt

from preprocessing.command import run_function
from preprocessing.constants import DEFAULT_CACHE_DIR, DEFAULT_DATA_DIR, DEFAULT_MODEL_DIR
from preprocessing.errors import EXIT_USAGE
from preprocessing.files import files_in, find_inputs, python_stderr_only
from preprocessing.form import read_ranges
from preprocessing.registry import EXERCISES, Exercise
from preprocessing.video import VideoError
from preprocessing.workers import DEFAULT_WORKERS
from serving.artifact import ArtifactError
from serving.live import live_session
from serving.render import write_annotated, write_signal_plot
from serving.report import print_clips, print_rep, print_sets
from serving.results import ClipFailure, Report, SetResult
from serving.scorer import Scorer, score_videos, usable_cache
from serving.sets import score_session
from serving.stream import Chunking

DEFAULT_EXERCISE = "squat"


@dataclass(frozen=True)
class ScoreOptions:
    """Score exercise videos with an exported model: 0..100 per video, and frames with a person (x/16).

    Returns 0 when every video was scored, 1 otherwise (errors on stderr), 2 for bad arguments.
    Raises ArtifactError naming the artifact when the model cannot be used.

    Args:
        videos: video files, pre-extracted *.pose.npz files, or folders of them (searched recursively)
        exercise: picks the model <model_dir>/<exercise>_scorer.onnx (default squat); with --model, the
            model must be one of this exercise; with --test_sets, only this exercise
        model: exported artifact: .onnx (default kind), .keras, .tflite, or a SavedModel folder
        json: print one JSON document (per model) instead of text lines
        cache_dir: keypoint cache (if it cannot be written, poses are kept in memory)
        threads: ONNX Runtime intra-op threads
        limit: at most this many videos of each folder (sorted by name)
        test_sets: score the test folder of each exercise under --data_dir with its model in --model_dir;
            a missing folder, model or video is skipped with a message
        data_dir: --test_sets: the data folder
        model_dir: the folder of the <exercise>_scorer.onnx models
        reps: a set: find the repetitions, score each (serving/sets.py)
        annotate: OUT.mp4: with --reps (one video): write the annotated video and OUT_signal.png
        live: score repetitions live: camera index, URL or a file
        stride: --reps/--live: pose on every N-th frame
        num_workers: --reps on a video file: worker processes posing a video longer than 10 s in parallel
            chunks (default: the usable CPU cores; 1: one process, sequential, as --live)
        show: --live: show the annotated frames in a window
        trust_savedmodel: load a SavedModel folder even if its graph runs ops no formscore export writes
            (loading a SavedModel runs its graph: only for folders from a source you trust)
        verbose: let native libraries' notes (MediaPipe, TensorFlow Lite) through to stderr
        form_ranges: a form reference-range file (cli.py ranges) instead of the model's own (its metadata's)
    """

    videos: Sequence[str] = ()
    exercise: Exercise | None = None
    model: str | None = None
    json: bool = False
    cache_dir: Path = Path(DEFAULT_CACHE_DIR)
    threads: PositiveInt = 1
    limit: PositiveInt | None = None
    test_sets: bool = False
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    model_dir: Path = Path(DEFAULT_MODEL_DIR)
    reps: bool = False
    annotate: str | None = None
    live: str | None = None
    stride: PositiveInt = 1
    num_workers: PositiveInt = DEFAULT_WORKERS
    show: bool = False
    trust_savedmodel: bool = False
    verbose: bool = False
    form_ranges: Path | None = None

    @property
    def as_sets(self) -> bool:
        """Score repetitions (``--reps``, ``--annotate`` or ``--live``) instead of whole clips."""
        return self.reps or bool(self.annotate) or self.live is not None


def report_of(scorer: Scorer, results: list) -> Report:
    return Report(str(scorer.artifact), scorer.backend, scorer.metadata["exercise"], results)


def score_clips(scorer: Scorer, videos: list[str], options: ScoreOptions) -> int:
    """Score whole clips and print them: 0 when every video was scored, 1 otherwise."""
    try:
        results = score_videos(scorer, videos, usable_cache(options.cache_dir))
    finally:
        scorer.close()
    print_clips(report_of(scorer, results), options.json)
    return 1 if any(isinstance(result, ClipFailure) for result in results) else 0


def scored_sets(scorer: Scorer, videos: list[str], options: ScoreOptions) -> tuple[list[SetResult], bool]:
    """The live run (if any) and each video's set, annotated on request; and whether a video failed."""
    exercise = scorer.metadata["exercise"]
    results: list[SetResult] = []
    if options.live is not None:
        on_rep = None if options.json else print_rep
        results.append(
            live_session(
                options.live,
                exercise,
                scorer.score_sequences,
                scorer.settings,
                options.stride,
                options.show,
                on_rep,
                scorer.form,
            )
        )
    if options.annotate and len(videos) != 1:
        raise VideoError(f"--annotate {options.annotate}: needs exactly one video, got {len(videos)}")
    chunking = Chunking(options.num_workers, progress=True) if options.num_workers > 1 else None
    failed = False
    for video in videos:
        try:
            scored = score_session(
                video,
                exercise,
                scorer.score_sequences,
                scorer.settings,
                options.cache_dir,
                None,
                options.stride,
                scorer.form,
                chunking,
            )
        except VideoError as error:
            print(f"error: {error}", file=sys.stderr)
            failed = True
            continue
        results.append(scored.result)
        if scored.result.warning:
            print(f"warning: {video}: {scored.result.warning}", file=sys.stderr)
        if options.annotate:
            out = Path(options.annotate)
            write_annotated(video, out, scored.result, scored.stream)
            write_signal_plot(out.with_name(f"{out.stem}_signal.png"), scored.result, scored.segmenter, exercise)
    return results, failed


def score_sets(scorer: Scorer, videos: list[str], options: ScoreOptions) -> int:
    """``--reps / --annotate / --live`` with ``scorer`` (closed here): 0 when every video was scored, 1 otherwise."""
    try:
        results, failed = scored_sets(scorer, videos, options)
    except VideoError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        scorer.close()
    print_sets(report_of(scorer, results), options.json)
    return 1 if failed else 0


def score_with(artifact: Path, videos: list[str], options: ScoreOptions) -> int:
    """Score ``videos`` with one artifact (of ``options.exercise`` when given): 0 when every video was
    scored, 1 otherwise."""
    ranges = None if options.form_ranges is None else read_ranges(options.form_ranges)
    scorer = Scorer(artifact, options.threads, options.trust_savedmodel, ranges)
    if options.exercise and scorer.metadata["exercise"] != options.exercise:
        scorer.close()
        raise ArtifactError(f"{artifact}: is a {scorer.metadata['exercise']} model, not {options.exercise}")
    return (score_sets if options.as_sets else score_clips)(scorer, videos, options)


def score_test_sets(options: ScoreOptions) -> int:
    """Score the test folder of each exercise with ``<model_dir>/<exercise>_scorer.onnx``, each under an
    ``== <exercise>: ...`` line; an exercise whose folder, model or videos are missing is skipped with
    a message. 0 when every video was scored, 1 otherwise."""
    status = 0
    for exercise in [options.exercise] if options.exercise else list(EXERCISES):
        folder = options.data_dir / EXERCISES[exercise].test_folder
        model = options.model_dir / f"{exercise}_scorer.onnx"
        if not folder.is_dir():
            print(f"== {exercise}: skipped, no test folder {folder}", flush=True)
            continue
        if not model.is_file():
            print(f"== {exercise}: skipped, no model {model} (python cli.py export ...)", flush=True)
            continue
        videos = [str(path) for path in files_in(folder)[: options.limit]]
        if not videos:
            print(f"== {exercise}: skipped, no videos in {folder}", flush=True)
            continue
        print(f"== {exercise}: {len(videos)} video(s) from {folder} with {model}", flush=True)
        try:
            status |= score_with(model, videos, options)
        except ArtifactError as error:
            print(f"error: {error}", file=sys.stderr)
            status = 1
    return status


def score(options: ScoreOptions) -> int:
    """Run the ``score`` command (see ``ScoreOptions``)."""
    if options.test_sets:
        if options.videos or options.model or options.live is not None:
            print("error: --test_sets picks its videos and models: no videos, --model or --live", file=sys.stderr)
            return EXIT_USAGE
        with python_stderr_only(options.verbose):
            return score_test_sets(options)
    if not options.videos and options.live is None:
        print("error: give video files or folders, --live SOURCE, or --test_sets", file=sys.stderr)
        return EXIT_USAGE
    videos = [Path(video) for video in options.videos]
    inputs = [str(path) for path in find_inputs(videos, limit=options.limit, refuse_empty=True)]
    default = options.model_dir / f"{options.exercise or DEFAULT_EXERCISE}_scorer.onnx"
    artifact = Path(options.model) if options.model else default
    with python_stderr_only(options.verbose):
        return score_with(artifact, inputs, options)


def main(argv: list[str] | None = None) -> int:
    """``python cli.py score ...`` (see ``ScoreOptions``); bad arguments exit with status 2."""
    return score(run_function(ScoreOptions, argv, "cli.py score", positional="videos"))

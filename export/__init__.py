"""Export a trained checkpoint to ONNX, Keras and SavedModel artifacts with proven parity.

``python cli.py export --ckpt_path ... [--exercise squat]`` calls ``main``; ``export.callback``
chains the export after ``fit``. Reading and running artifacts is ``serving``'s.
"""


def main(argv: list[str] | None = None) -> int:
    """Command-line export (see ``export.exporter.main``); returns the exit status."""
    from export.exporter import main as export_main  # torch and TensorFlow load only when exporting

    return export_main(argv)

"""Lightning data modules."""

from datamodules.exercise import ExerciseDataModule

__all__ = ["ExerciseDataModule"]

"""Embedded demo data: squat, push-up and lunge repetitions from a kinematic model, scored by their faults.

``skeleton`` (body, kinematic chains, 3-D joints -> BlazePose's 33 landmarks), ``timeline`` (one
repetition over a clip's sampled frames), ``exercises`` (the three motions, their faults, subjects,
scores), ``camera`` (placement, projection, visibility, noise, missed detections), ``dataset`` (the
data set's pose files and score CSVs; ``cli.py demo``), ``sessions`` (multi-repetition streams with
known boundaries). Layered: ``demo`` imports ``preprocessing`` (cache format, constants), never the reverse.
"""

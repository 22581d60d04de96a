"""Turn an exported artifact into scores: load and check it, run it, score clips, sets and live video.

Layers: ``serving`` uses ``preprocessing`` and the artifact format (``serving.artifact``) only, never
torch or Lightning; ``export`` writes what this package reads (and reloads it here for parity).
"""

"""The names a reference profile is made of: its file name inside a model and the signals it measures.

Apart from :mod:`edgevision.model.reference_profile` so that a run reads them (its options, whether a model
carries a profile at all) without building the profile's classes or the document reader: most models carry
none, and a run's start should not pay for what it will not use."""

from __future__ import annotations

PROFILE_FILE = "edgevision_profile.json"
CONFIDENCE = "confidence"
INPUT_SIGNALS = ("brightness", "contrast", "red", "blue", "sharpness")
SIGNALS = (CONFIDENCE, *INPUT_SIGNALS)
LABELS = "labels"            # the label mix: compared as a distribution over classes, not percentiles
THUMBNAIL = 64               # input statistics are taken on a THUMBNAIL x THUMBNAIL copy of each frame

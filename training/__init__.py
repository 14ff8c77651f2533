"""The binaudit training module: ResNet and SVM counters trained on a workspace's effective labels.

Run it as `python -m training ...` (or `binaudit train ...`); it writes one JSON object per line to
stdout (see docs/TRAINING.md) and human logging to stderr. No Qt here: the GUI runs it as a subprocess.
Exit codes: 0 finished, 1 failed, 2 usage error, 3 cancelled (see training.stream).
"""

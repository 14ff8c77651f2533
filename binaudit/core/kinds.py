"""The kinds of model binaudit trains, registers, scores and shows, in display order (ResNet first)."""

from __future__ import annotations

RESNET = "resnet"
SVM = "svm"
MODEL_KINDS: tuple[str, ...] = (RESNET, SVM)
MODEL_TITLES: dict[str, str] = {RESNET: "ResNet", SVM: "SVM"}  # how the app and reports name each kind

"""Seeing the models against the labels: small QPainter charts (lines, grouped bars, a clickable confusion
matrix) that only draw what they are given, and the Charts dock whose panel computes the active models'
confusion matrix, per-class accuracy and count distributions from the browse index in memory (clicking a
cell lists its bins in the browser)."""

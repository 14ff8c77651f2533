"""Synthetic bins in the ABID layout: the project's embedded default dataset.

``generate_dataset(out, n, seed, mismatch_rate, inconsistent_share=INCONSISTENT_SHARE)`` writes
``out/bin-images/<id>.jpg`` and ``out/metadata/<id>.json`` exactly like the Amazon Bin Image Dataset, plus
``out/truth.json`` with the true count of every bin (the app never reads it while
auditing; tests and benchmarks do) and, per image, whether its planted variance is
"consistent" (EXPECTED_QUANTITY and one SKU's quantity changed together: a misplaced item,
only the photo shows it) or "inconsistent" (the record contradicts itself; a small share).

The photos imitate the real ones: a camera looking into a khaki fabric bin, the bin
frame around the edges, a bin tag on the front lip, translucent elastic tape bands
across the front, and products (boxes, books, bottles, jars, cans, pouches) that
overlap but each stay partly visible, so the count can be learnt from the pixels.

Every image uses its own ``numpy.random.default_rng([seed, index])``, so the output is
byte-identical for a seed whatever the order, the process or the number of workers.
Pure numpy + Pillow: no torch, no Qt.

Modules: ``counts`` (count distribution, quantity splits, mismatch plan), ``catalog``
(SKU records for the metadata), ``draw`` (drawing primitives), ``products`` (looks and
sprites), ``layout`` (bin frame geometry, item placement), ``scene`` (the photo) and
``dataset`` (one record, the whole dataset).
"""

from __future__ import annotations

from .counts import INCONSISTENT_SHARE, MODERATE_SHARES, count_distribution, sample_count
from .dataset import SynthSummary, generate_dataset, image_id, render_record
from .scene import _sample_size as _sample_size  # an explicit re-export: tests check the size statistics

__all__ = [
    "SynthSummary",
    "generate_dataset",
    "render_record",
    "count_distribution",
    "sample_count",
    "image_id",
    "MODERATE_SHARES",
    "INCONSISTENT_SHARE",
]

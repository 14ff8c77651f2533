"""Where the tests find the repository and the real ABID slice (never collected as tests)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The real slice travels beside the repository (../shared/abid-real); BINAUDIT_REAL_SLICE points elsewhere.
REAL_SLICE = Path(os.environ.get("BINAUDIT_REAL_SLICE", REPO.parent / "shared" / "abid-real"))

"""GUI at ABID scale: first paint, filter/sort time, longest GUI-thread block while scrolling, memory.

    python bench/gui_scale.py [--n 536000] [--dir /tmp/binaudit-gui-bench] [--rebuild]

Builds (once, then reuses) a workspace of N image rows inserted with store.upsert_images in big
batches; the rows share the ten real ABID photos in resources/abid-sample (the browser's cost is in
the rows, not in the files). One "resnet" model is registered and given predictions from a fixed
pseudo-random scorer: BENCH DATA, not a model's output; it only gives the columns realistic content.

Then it starts the app in this process (offscreen unless QT_QPA_PLATFORM is set) and measures:
  first_paint_s    run_app-equivalent start (QApplication + main window) to the window's first paint
  index_ready_s    start to the browser holding all N rows (loaded in a worker thread after first paint)
  filter_ms/sort_ms  applying a filter (status ok + mismatch only + recorded 3) and a sort (mismatch, desc)
  text_search_ms   the full-text search of a SKU word (FTS5, in a worker; reported, no target)
  scroll_block_ms  the longest gap of a 5 ms QTimer heartbeat while the grid scrolls top to bottom
  rss_mb           resident memory of the app with all N rows loaded and the grid scrolled
                   (decoder_rss_mb: the photo decoder process(es) beside it)
Run it on a quiet machine: the wall-clock figures include waiting for a CPU (load_avg is printed).
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

T_START = time.perf_counter()
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGETS = {"first_paint_s": 1.5, "filter_ms": 150.0, "sort_ms": 150.0, "scroll_block_ms": 50.0}
WORDS = ["stove", "cable", "charger", "book", "bottle", "socks", "lamp", "case", "filter", "brush", "mug", "tape"]


def build_workspace(db: Path, n: int, batch: int = 20_000) -> None:
    """Insert n image rows (ids 000001...) with one or two SKU items each, plus bench predictions."""
    import numpy as np

    from binaudit.core.splits import split_for_id
    from binaudit.core.store import PredictionRow, Store

    photos = sorted((REPO / "resources" / "abid-sample" / "bin-images").glob("*.jpg"))
    rng = np.random.default_rng(536)
    db.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with Store.open(db) as store:
        for start in range(0, n, batch):
            rows, items = [], {}
            for i in range(start, min(n, start + batch)):
                image_id = f"{i + 1:06d}"
                count = int(min(rng.poisson(3.0), 12))
                photo = photos[i % len(photos)]
                rows.append({"image_id": image_id, "path": str(photo), "meta_path": None, "width": 400,
                             "height": 320, "bytes": photo.stat().st_size, "recorded_count": count,
                             "sku_count": 1, "sku_quantity": count,
                             "status": "ok" if i % 97 else "inconsistent",
                             "reason": None if i % 97 else "EXPECTED_QUANTITY differs from the SKU sum",
                             "split": split_for_id(image_id), "imported_at": "2024-01-01T00:00:00+00:00",
                             "effective_count": count})
                word = WORDS[i % len(WORDS)]
                items[image_id] = [{"image_id": image_id, "sku_key": f"B{i:09d}", "asin": f"B{i:09d}",
                                    "name": f"Bench {word} item {i % 1000}", "quantity": count}]
            store.upsert_images(rows, items)
            print(f"  inserted {min(n, start + batch)}/{n} rows ({time.perf_counter() - t0:.0f} s)",
                  file=sys.stderr, flush=True)
        model_id = store.register_model(kind="resnet", architecture="resnet34", classes=list(range(6)),
                                        path="bench-model.safetensors", sha256="0" * 64, name="bench resnet34",
                                        metrics={"note": "bench data: predictions from a fixed random scorer"})
        recorded = {r["image_id"]: r["recorded_count"] for r in store.query("SELECT image_id, recorded_count FROM images")}
        preds = []
        for image_id, count in recorded.items():
            probs = rng.dirichlet(np.ones(6) * 0.6)
            predicted = int(np.argmax(probs))
            target = min(count, 5)
            preds.append(PredictionRow(image_id, predicted, probs.tolist(), float(probs @ np.arange(6)),
                                       float(probs.max()), None, float(1.0 - probs[target]), float(rng.random())))
            if len(preds) >= 50_000:
                store.write_predictions(model_id, preds)
                preds = []
        store.write_predictions(model_id, preds)
        store.activate_model(model_id)
    print(f"  workspace built in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)


def rss_mb(pid: str = "self") -> float:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(workspace, search_word: str, scroll_jumps: int = 300, scroll_pages: int = 150) -> dict:
    """Start the app on the workspace and time it; see the module docstring for each figure."""
    t0 = time.perf_counter()
    from PySide6.QtCore import QEvent, QObject, Qt, QTimer

    from binaudit.core.browse import BrowseFilter
    from binaudit.gui.browse.table_model import COLUMN_KEYS
    from binaudit.gui.shell.app import application
    from binaudit.gui.shell.main_window import MainWindow

    app = application()
    from binaudit.gui.common import settings

    settings.put(settings.VIEW_MODE, "table")  # every run starts the same way
    settings.put(settings.BLIND, False)
    painted: dict[str, float] = {}

    class FirstPaint(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 - Qt name
            if event.type() == QEvent.Type.Paint and "first" not in painted:
                painted["first"] = time.perf_counter()
            return False

    spy = FirstPaint()
    app.installEventFilter(spy)
    window = MainWindow(workspace, detect_device=False, poll_ms=0)
    window.resize(1600, 1000)
    window.show()

    def spin(condition, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the app did not get there in time")
            app.processEvents()
            time.sleep(0.001)

    spin(lambda: "first" in painted)
    app.removeEventFilter(spy)
    first_paint = painted["first"] - t0
    spin(lambda: window.session is not None and window.session.loaded and window.browser.shown_count() > 0)
    index_ready = time.perf_counter() - t0
    browser = window.browser
    app.processEvents()

    def timed(action, done=lambda: True) -> float:
        start = time.perf_counter()
        action()
        spin(done)
        app.processEvents()
        return (time.perf_counter() - start) * 1000

    f = BrowseFilter(statuses=frozenset({"ok"}), mismatch_only=True, recorded_min=3, recorded_max=3)
    filter_ms = timed(lambda: browser.filter_bar.set_filter(f))
    filtered_rows = browser.shown_count()
    column = COLUMN_KEYS.index("mismatch")
    sort_ms = timed(lambda: browser.table.horizontalHeader().setSortIndicator(column, Qt.SortOrder.DescendingOrder))
    sort_all_ms = timed(lambda: browser.filter_bar.set_filter(BrowseFilter()))  # the whole 536k rows, sorted
    conf_column = COLUMN_KEYS.index("resnet_conf")
    sort_conf_ms = timed(lambda: browser.table.horizontalHeader().setSortIndicator(conf_column, Qt.SortOrder.AscendingOrder))
    before = browser.model.view
    text_ms = timed(lambda: browser.filter_bar.set_filter(BrowseFilter(text=search_word)),
                    lambda: browser.model.view is not before)
    text_rows = browser.shown_count()
    browser.filter_bar.set_filter(BrowseFilter())
    browser.table.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)

    # scroll the grid from top to bottom while a 5 ms heartbeat timer measures the GUI thread's gaps
    window.actions_.grid.setChecked(True)
    app.processEvents()
    gaps: list[tuple[float, float]] = []  # (wall gap, GUI-thread CPU time within it)
    last = [time.perf_counter(), time.thread_time()]

    def beat() -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        gaps.append((now - last[0], cpu - last[1]))
        last[0], last[1] = now, cpu

    heart = QTimer()
    heart.setTimerType(Qt.TimerType.PreciseTimer)
    heart.setInterval(5)
    heart.timeout.connect(beat)
    bar = browser.grid.verticalScrollBar()
    steps = [bar.pageStep() * i for i in range(scroll_pages)]
    steps += [int(bar.maximum() * i / scroll_jumps) for i in range(scroll_jumps + 1)]
    state = {"i": 0}

    def step() -> None:
        if state["i"] < len(steps):
            bar.setValue(min(bar.maximum(), steps[state["i"]]))
            state["i"] += 1

    driver = QTimer()
    driver.setInterval(16)  # one scroll step per frame
    driver.timeout.connect(step)
    last[0], last[1] = time.perf_counter(), time.thread_time()
    load_before = os.getloadavg()[0]
    heart.start()
    driver.start()
    t_scroll = time.perf_counter()
    spin(lambda: state["i"] >= len(steps), timeout=600)
    spin(lambda: window.loader.pending == 0, timeout=60)
    scroll_s = time.perf_counter() - t_scroll
    heart.stop()
    driver.stop()
    gaps_ms = sorted(g * 1000 for g, _ in gaps[1:])
    worst = sorted(gaps[1:], reverse=True)[:10]
    result = {
        "first_paint_s": round(first_paint, 3),
        "index_ready_s": round(index_ready, 3),
        "filter_ms": round(filter_ms, 1),
        "filtered_rows": filtered_rows,
        "sort_ms": round(max(sort_ms, sort_all_ms, sort_conf_ms), 1),
        "sort_filtered_ms": round(sort_ms, 1),
        "sort_all_rows_ms": round(max(sort_all_ms, sort_conf_ms), 1),
        "text_search_ms": round(text_ms, 1),
        "text_rows": text_rows,
        "scroll_block_ms": round(gaps_ms[-1], 1) if gaps_ms else None,
        "scroll_block_p99_ms": round(gaps_ms[int(len(gaps_ms) * 0.99)], 1) if gaps_ms else None,
        "scroll_block_gui_cpu_ms": round(max(c for _, c in worst) * 1000, 1) if worst else None,
        "load_avg": round((load_before + os.getloadavg()[0]) / 2, 2),
        "cpus": os.cpu_count(),
        "scroll_steps": len(steps),
        "scroll_s": round(scroll_s, 1),
        "thumbnails_cached": len(window.loader.thumbs),
        "decoder_processes": len(getattr(window.loader._decoders, "children", [])),
        "decoder_rss_mb": round(sum(rss_mb(str(c.process.processId()))
                                    for c in getattr(window.loader._decoders, "children", [])), 1),
    }
    result["rss_mb"] = round(rss_mb(), 1)  # with all rows loaded and the grid scrolled
    window.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=536_000)
    parser.add_argument("--dir", default="/tmp/binaudit-gui-bench")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("BINAUDIT_HOME", str(Path(args.dir) / "home"))

    from binaudit.core.workspace import Workspace

    workspace = Workspace(Path(args.dir) / f"ws-{args.n}")
    if args.rebuild and workspace.db_path.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(str(workspace.db_path) + suffix).unlink(missing_ok=True)
    if not workspace.db_path.exists():
        print(f"building a {args.n}-image workspace in {workspace.root} (once)", file=sys.stderr)
        build_workspace(workspace.db_path, args.n)

    results = measure(workspace, search_word=WORDS[0])
    results["n"] = args.n
    ok = all(results.get(k) is not None and results[k] <= v for k, v in TARGETS.items())
    print(json.dumps({"bench": "gui_scale", **results, "targets": TARGETS, "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

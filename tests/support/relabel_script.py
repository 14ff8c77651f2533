"""A scripted auditor: applies relabels through the store API the GUI uses, one line of output per label.

Used by the crash-safety and two-writer tests (and handy for soak runs):

    python tests/support/relabel_script.py DB --user NAME --ids 00001,00002 --n 500 --seed 1 [--think-ms 2]

For each label it prints `begin <k>` before writing and `ack <k> <event id> <expected id>` only after the
commit returned; a stale edit prints `stale <k> <image id>`, is re-read and applied again knowingly
(the "keep mine" choice), so every decision ends up stored.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from binaudit.core.labels import StaleLabelError
from binaudit.core.store import Store


def run(db: str, user: str, ids: list[str], n: int, seed: int, think_ms: float, start: int) -> int:
    """Apply n random relabels to ids, printing begin/stale/ack lines; a stale edit is re-read and kept."""
    rng = random.Random(seed)
    with Store.open(db) as store:
        for k in range(start, start + n):
            image_id = ids[rng.randrange(len(ids))]
            count = rng.randrange(0, 9)
            shown = store.effective_label(image_id)
            if think_ms:
                time.sleep(rng.random() * think_ms / 1000)
            print(f"begin {k} {image_id} {count}", flush=True)
            while True:
                try:
                    event = store.record_label(image_id, user=user, status="corrected", count=count,
                                               expected_event_id=shown.event_id,
                                               predictions={"script": {"k": k}})
                    break
                except StaleLabelError as exc:
                    print(f"stale {k} {image_id} {exc.expected_event_id} {exc.current.event_id}", flush=True)
                    shown = store.effective_label(image_id)
            print(f"ack {k} {event.id} {shown.event_id}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run; any error is one `error ...` line and exit status 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db")
    parser.add_argument("--user", default="script")
    parser.add_argument("--ids", required=True, help="comma-separated image ids to relabel")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0, help="number of the first label (for resumed scripts)")
    parser.add_argument("--think-ms", type=float, default=0.0, help="random pause between reading and writing")
    args = parser.parse_args(argv)
    try:
        return run(args.db, args.user, args.ids.split(","), args.n, args.seed, args.think_ms, args.start)
    except Exception as exc:  # reported on one line so the caller sees any error reaching "the user"
        print(f"error {type(exc).__name__}: {exc}", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())

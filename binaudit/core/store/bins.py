"""Bins of the images table: which photos show one bin (images.bin_key), and one split per bin.

Import workers write each photo's record_key (see binaudit.core.splits) with bin_key = its own id and
the split of that id. `regroup_bins` then joins the photos of one bin, across batches and imports
(from the stored SKU items and record keys), and gives every photo of a bin the split of its key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from binaudit.core.splits import group_bins, record_key
from binaudit.core.store.batches import chunks

# Only what can link is read: ASINs in more than one SKU entry and record keys of more than one image.
_SHARED_ASINS = ("SELECT image_id, asin FROM items WHERE asin IN "
                 "(SELECT asin FROM items GROUP BY asin HAVING count(*) > 1)")
_SHARED_RECORDS = ("SELECT image_id, record_key FROM images WHERE record_key IN "
                   "(SELECT record_key FROM images WHERE record_key IS NOT NULL GROUP BY record_key "
                   "HAVING count(*) > 1)")


def regroup_bins(conn: Any, choose: Callable[[str], str] | None) -> int:
    """Bring bin_key and split of every image up to date; returns how many images changed split.

    A bin whose photos already agree on its key and split is left alone. Any other bin (new, grown,
    merged, split up, or with a re-read photo) gets choose(bin key) for all its photos; with choose=None
    (an upgrade, whose ratios are not recorded) it gets the split its key photo already has.
    """
    keys = group_bins(conn.execute(_SHARED_ASINS), conn.execute(_SHARED_RECORDS))
    stored = {r[0]: (r[1], r[2]) for r in conn.execute(
        "SELECT image_id, bin_key, split FROM images WHERE bin_key IS NOT image_id")}
    for chunk in chunks([i for i in keys if i not in stored], 900):
        stored.update((r[0], (r[1], r[2])) for r in conn.execute(
            f"SELECT image_id, bin_key, split FROM images WHERE image_id IN ({','.join('?' * len(chunk))})", chunk))
    bins: dict[str, list[tuple[str, str | None, str]]] = defaultdict(list)
    for image_id, (stored_key, split) in stored.items():
        bins[keys.get(image_id, image_id)].append((image_id, stored_key, split))
    updates, moved = [], 0
    for key, members in bins.items():
        if all(old == key for _, old, _ in members) and len({split for _, _, split in members}) == 1:
            continue
        target = choose(key) if choose is not None else next(split for i, _, split in members if i == key)
        for image_id, old, split in members:
            if old != key or split != target:
                updates.append((key, target, image_id))
                moved += split != target
    conn.executemany("UPDATE images SET bin_key = ?, split = ? WHERE image_id = ?", updates)
    return moved


def _record_keys_from_items(conn: Any) -> Iterator[tuple[str | None, str]]:
    """(record_key, image_id) of every image that has SKU items, from the stored items."""
    recorded = dict(conn.execute("SELECT image_id, recorded_count FROM images"))
    current: str | None = None
    skus: list[tuple[str, str, int]] = []
    for image_id, key, asin, quantity in conn.execute(
            "SELECT image_id, sku_key, asin, quantity FROM items ORDER BY image_id, id"):
        if image_id != current:
            if current is not None:
                yield record_key(recorded.get(current), skus), current
            current, skus = image_id, []
        skus.append((key or "", asin or "", quantity or 0))
    if current is not None:
        yield record_key(recorded.get(current), skus), current


def fill_bins_from_items(conn: Any) -> int:
    """Record keys of an older workspace's images from its stored items, then bins; returns images moved.

    Splits follow each bin's key photo, so a workspace imported with other ratios keeps them.
    """
    conn.executemany("UPDATE images SET record_key = ? WHERE image_id = ?", list(_record_keys_from_items(conn)))
    return regroup_bins(conn, None)

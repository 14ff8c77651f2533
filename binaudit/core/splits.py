"""Deterministic train/val/test splits by bin, so every import agrees and no bin's photos straddle two splits.

ABID photographs a bin again after a pick or stow, and the new photo usually gets the next id (or the
one after): on the real slice 39% of id pairs one apart share an ASIN and 3% of pairs two apart, pairs
three to seven apart never, farther ones at chance (0.01-0.02%); identical records are the same bin shot
twice. Photos are therefore grouped into bins by two links, and the split is the hash of the bin's key
instead of the photo's id:

- ids of the same shape (prefix and digit count) at most NEIGHBOUR_SPAN apart whose records share an ASIN;
- records with the same contents: EXPECTED_QUANTITY and the same (key, ASIN, quantity) SKU entries.

A bin's key is the smallest id among its photos, so a photo that is alone keeps the split its id gave.
Empty records, unusable records and photos without metadata carry no ASINs: they are bins of their own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from hashlib import blake2b

from binaudit.core.abid import BinRecord

DEFAULT_RATIOS: tuple[float, float, float] = (0.7, 0.2, 0.1)
SPLITS = ("train", "val", "test")
NEIGHBOUR_SPAN = 2  # ids this far apart (or closer) that share an ASIN are one bin shot again
_NUMBERED = re.compile(r"^(.*?)([0-9]+)$")


def split_fraction(key: str) -> float:
    """A stable pseudo-random number in [0, 1) derived from the key alone."""
    digest = blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def split_for_id(key: str, ratios: tuple[float, float, float] = DEFAULT_RATIOS) -> str:
    """Return "train", "val" or "test" for this bin key (or lone image id) under the given ratios."""
    return split_chooser(ratios)(key)


def split_chooser(ratios: tuple[float, float, float] = DEFAULT_RATIOS) -> Callable[[str], str]:
    """split_for_id with the ratios checked once, for assigning splits to many keys."""
    total = sum(ratios)
    if total <= 0 or any(r < 0 for r in ratios):
        raise ValueError(f"split ratios must be non-negative and not all zero: {ratios}")
    train_below, val_below = ratios[0], ratios[0] + ratios[1]

    def choose(key: str) -> str:
        point = split_fraction(key) * total
        return "train" if point < train_below else "val" if point < val_below else "test"

    return choose


def parse_ratios(text: str) -> tuple[float, float, float]:
    """Parse "70/20/10" or "0.8,0.1,0.1" into three ratios."""
    parts = [p for p in text.replace(",", "/").split("/") if p.strip()]
    if len(parts) != 3:
        raise ValueError(f"expected three ratios like 70/20/10, got {text!r}")
    train, val, test = (float(p) for p in parts)
    if any(v < 0 for v in (train, val, test)) or sum((train, val, test)) <= 0:
        raise ValueError(f"ratios must be non-negative and not all zero: {text!r}")
    return train, val, test


# ---------------------------------------------------------------------------------------------- bins
def record_key(expected_quantity: int | None, skus: Iterable[tuple[str, str, int]]) -> str | None:
    """A digest of a record's contents, or None for a record without SKUs (an empty bin is no identity).

    skus: (key, asin, quantity) per SKU entry. Names, dimensions and weights are left out: the
    catalogue text of one product changes between two shots of the same bin.
    """
    entries = sorted((str(key), str(asin), int(quantity)) for key, asin, quantity in skus)
    if not entries:
        return None
    text = f"{expected_quantity}\x1e" + "\x1e".join(f"{k}\x1f{a}\x1f{q}" for k, a, q in entries)
    return blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


def bin_record_key(record: BinRecord) -> str | None:
    """record_key of a parsed metadata record (image_fname plays no part)."""
    return record_key(record.expected_quantity, ((key, sku.asin, sku.quantity) for key, sku in record.skus.items()))


def _position(image_id: str) -> tuple[tuple[str, int], int] | None:
    """((prefix, digit count), number) of an id ending in digits: "00084" -> (("", 5), 84); "1" and "00001" differ."""
    if image_id.isascii() and image_id.isdigit():
        return ("", len(image_id)), int(image_id)
    match = _NUMBERED.match(image_id)
    return None if match is None else ((match.group(1), len(match.group(2))), int(match.group(2)))


def group_bins(asins: Iterable[tuple[str, str]], records: Iterable[tuple[str, str | None]]) -> dict[str, str]:
    """image_id -> bin key (the smallest id of its bin) for the photos of bins with two or more photos.

    asins: (image_id, ASIN) per SKU entry; records: (image_id, record_key). Either may leave out what
    cannot link (an ASIN of one image only, a record key of one image only). A photo missing from the
    answer is a bin of its own. The answer depends only on the sets given, not their order.
    """
    links: list[tuple[str, str]] = []
    first_with_record: dict[str, str] = {}
    for image_id, key in records:
        if key:
            first = first_with_record.setdefault(key, image_id)
            if first != image_id:
                links.append((first, image_id))
    by_image: dict[str, set[str]] = {}
    for image_id, asin in asins:
        by_image.setdefault(image_id, set()).add(asin)
    lines: dict[tuple[str, int], dict[int, str]] = {}  # ids of one shape, by number
    for image_id in by_image:
        position = _position(image_id)
        if position is not None:
            lines.setdefault(position[0], {})[position[1]] = image_id
    for line in lines.values():
        for number, image_id in line.items():
            for step in range(1, NEIGHBOUR_SPAN + 1):
                other = line.get(number + step)
                if other is not None and not by_image[image_id].isdisjoint(by_image[other]):
                    links.append((image_id, other))
    return _components(links)


def _components(links: list[tuple[str, str]]) -> dict[str, str]:
    """Union-find over the linked ids; each component's key is its smallest id."""
    parent: dict[str, str] = {}

    def root(i: str) -> str:
        parent.setdefault(i, i)
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in links:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)  # roots stay the smallest id of their component
    return {i: root(i) for i in parent}

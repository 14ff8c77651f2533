"""The product catalogue behind the metadata: names, ASINs, dimensions and weights of
the SKU records in ``BIN_FCSKU_DATA``, with the quirks of the real exports."""

from __future__ import annotations

from typing import Any

import numpy as np

_BRANDS = [
    "Northfield", "BrightHome", "Kirkwood", "Amberline", "PureLeaf", "Summit Trail",
    "Everyday Basics", "Greenway", "Playtime", "NutriGold", "Oak & Pine", "Blue Harbor",
    "Sunny Day", "Vitalis", "HomeCraft", "Trailmate", "Crafty Kids", "Silverline",
    "Maple Ridge", "Zenith", "Harbor Bay", "Little Explorer", "Fresh Fields", "Ironwood",
    "Clearwater", "Golden Valley", "Redwood", "Starlight", "Urban Chef", "Wild Meadow",
]
_ADJ = ["Deluxe", "Classic", "Premium", "Compact", "Original", "Mini", "Professional",
        "Kids'", "Essential", "Ultra", "Sweet Shoppe", "Everyday"]
_BOX_ITEMS = [
    "Ice Cream Sundae Cart Playset", "Building Blocks Set, 120 Pieces",
    "Stainless Steel Measuring Cups, Set of 4", "LED Desk Lamp", "Wireless Computer Mouse",
    "Airplane Model Kit, A380 Air Bus", "Ceramic Coffee Mug, 12 Ounce", "Jigsaw Puzzle, 1000 Pieces",
    "Digital Kitchen Timer", "Bluetooth Speaker", "Art Supplies Kit", "USB Charging Cable, 6 Feet",
    "Family Board Game", "Herbal Tea Sampler, 40 Bags", "Cereal Bars, 8 Count",
    "Crackers, 10 Ounce Box", "Saline Enema, 7.8 Ounce", "Toothpaste, 4.8 Ounce",
    "Electric Toothbrush Heads, 4 Count", "Card Game", "Water Filter Cartridge",
    "Non-Stick Frying Pan, 10 Inch", "Camping Stove", "Bike Light Set", "Candy Box, 5 Ounce",
]
_BOOK_ADJ = ["Silent", "Hidden", "Last", "Golden", "Broken", "Distant", "Secret", "Quiet",
             "Winter", "Lost", "Banquet of", "Game of", "Little", "Midnight", "Wild"]
_BOOK_NOUN = ["Garden", "River", "Promise", "Harbor", "Kingdom", "Letters", "Orchard",
              "Signal", "Tide", "Lantern", "Divorce", "Consequences", "Summer", "Island", "Crown"]
_BOOK_TOPICS = ["Home Gardening", "Watercolor Painting", "Data Analysis", "Bread Baking",
                "Woodworking", "Personal Finance", "Birdwatching", "Chess Openings"]
_BOOK_SUFFIX = [": A Novel", " (Paperback)", " (Hardcover)", ", 2nd Edition", "", ""]
_BOTTLE_ITEMS = [
    "Vitamin D3 5000 IU, 360 Softgels", "Fish Oil 1200 mg, 180 Capsules", "Magnesium Citrate, 120 Tablets",
    "Probiotic, 60 Capsules", "Liquid Collagen Skin Revitalization, 16 Fl Ounce", "Multivitamin Gummies, 90 Count",
    "Biotin 10000 mcg, 100 Tablets", "Alpha Lipoic Acid 600 mg, 60 Capsules", "Liquid Hand Soap, 12 Fl Ounce",
    "Moisturizing Shampoo, 13.5 Fl Ounce", "Body Lotion, 16 Fl Ounce", "Extra Virgin Olive Oil, 17 Fl Ounce",
    "Hot Sauce, 5 Fl Ounce", "Sunscreen Lotion SPF 50, 8 Fl Ounce",
]
_JAR_ITEMS = [
    "Creamy Peanut Butter, 16.3 Ounce", "Raw Honey, 12 Ounce", "Organic Coconut Oil, 14 Fl Ounce",
    "Whey Protein Powder, 2 Pounds", "Instant Coffee, 8 Ounce Jar", "Almond Butter, 12 Ounce",
    "Petroleum Jelly, 13 Ounce",
]
_CAN_ITEMS = [
    "Premium Chunk Chicken Breast Packed in Water, 12.5 Ounce, 6 Count", "Diced Tomatoes, 14.5 Ounce",
    "Black Beans, 15 Ounce", "Cat Food Pate, 3 Ounce", "Infant Formula Powder, 23.2 Ounce",
    "Sweetened Condensed Milk, 14 Ounce", "Tuna in Olive Oil, 5 Ounce",
]
_BAG_ITEMS = [
    "Organic Trail Mix, 12 Ounce", "Dried Mango Slices, 16 Ounce", "Grain Free Dog Treats, 10 Ounce",
    "Whole Bean Coffee, 2 Pound Bag", "Jasmine Rice, 5 Pound", "Zipper Storage Bags, 50 Count",
    "Chia Seeds, 32 Ounce", "Gummy Bears, 5 Pound Bag", "Potting Soil, 8 Quart",
]
_KINDS = ["box", "book", "bottle", "jar", "can", "bag"]
_KIND_P = np.array([0.43, 0.20, 0.12, 0.07, 0.07, 0.11])
# inch ranges (length, width, height) and pounds
_DIMS = {
    "box": ((4, 16), (3, 11), (1, 7), (0.2, 6.0)),
    "book": ((7, 11), (5, 8.5), (0.4, 2.2), (0.4, 3.0)),
    "bottle": ((5, 11), (2, 4), (2, 4), (0.3, 2.5)),
    "jar": ((4, 7), (3, 5), (3, 5), (0.6, 3.0)),
    "can": ((3, 6), (3, 5), (3, 5), (0.3, 2.0)),
    "bag": ((6, 14), (4, 10), (1, 4), (0.3, 5.5)),
}
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def _code(rng: np.random.Generator, k: int) -> str:
    return "".join(_ALNUM[int(i)] for i in rng.integers(0, len(_ALNUM), size=k))


def _product_name(rng: np.random.Generator, kind: str) -> str:
    brand = _pick(rng, _BRANDS)
    if kind == "book":
        if rng.random() < 0.75:
            name = f"The {_pick(rng, _BOOK_ADJ)} {_pick(rng, _BOOK_NOUN)}{_pick(rng, _BOOK_SUFFIX)}"
        else:
            name = f"A Practical Guide to {_pick(rng, _BOOK_TOPICS)}{_pick(rng, _BOOK_SUFFIX)}"
        return name
    if kind == "box":
        name = f"{brand} {_pick(rng, _ADJ)} {_pick(rng, _BOX_ITEMS)}"
    elif kind == "bottle":
        name = f"{brand} {_pick(rng, _BOTTLE_ITEMS)}"
    elif kind == "jar":
        name = f"{brand} {_pick(rng, _JAR_ITEMS)}"
    elif kind == "can":
        name = f"{brand} {_pick(rng, _CAN_ITEMS)}"
    else:
        name = f"{brand} {_pick(rng, _BAG_ITEMS)}"
    if rng.random() < 0.15:
        name += f" (Pack of {int(rng.integers(2, 7))})"
    return name


def _normalized(name: str) -> str:
    """ABID's normalizedName moves a trailing "(Pack of N)" to the front."""
    if name.endswith(")") and " (Pack of " in name:
        head, _, pack = name.rpartition(" (Pack of ")
        return f"(Pack of {pack} {head}"
    return name


def _inches(rng: np.random.Generator, lo: float, hi: float) -> float:
    v = float(rng.uniform(lo, hi))
    style = int(rng.integers(3))
    if style == 0:
        return round(v, 1)
    if style == 1:  # float residue as in the real exports: 8.199999991636
        return round(v, 1) * (1.0 - float(rng.uniform(1e-10, 1.2e-9)))
    return round(v * 2.54) / 2.54  # entered in cm: 11.1417322721...


def _pounds(rng: np.random.Generator, lo: float, hi: float) -> float:
    v = float(rng.uniform(lo, hi))
    if rng.random() < 0.5:
        return round(v, 2)
    return round(v * 10) * 0.1  # e.g. 1.9000000000000001


def _sku_record(rng: np.random.Generator, kind: str, quantity: int, with_norm: bool) -> tuple[str, dict]:
    asin = "B0" + _code(rng, 8)
    key = asin if rng.random() < 0.75 else "ZZ" + _code(rng, 8)
    name = _product_name(rng, kind)
    (l0, l1), (w0, w1), (h0, h1), (p0, p1) = _DIMS[kind]
    rec: dict[str, Any] = {
        "asin": asin,
        "height": {"unit": "IN", "value": _inches(rng, h0, h1)},
        "length": {"unit": "IN", "value": _inches(rng, l0, l1)},
        "name": name,
        "quantity": int(quantity),
        "weight": {"unit": "pounds", "value": _pounds(rng, p0, p1)},
        "width": {"unit": "IN", "value": _inches(rng, w0, w1)},
    }
    if with_norm:
        rec["normalizedName"] = _normalized(name)
    return key, rec

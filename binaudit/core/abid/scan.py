"""Pairing photos and metadata files by id on disk; paths come from file names, never from inside a record.

Every id gets an entry with any problem spelled out; one odd file never stops a scan.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

IMAGE_SUFFIXES = (".jpg", ".jpeg")
METADATA_SUFFIX = ".json"
_IMAGE_SUFFIXES = frozenset(s.lstrip(".") for s in IMAGE_SUFFIXES)
_METADATA_SUFFIX = METADATA_SUFFIX.lstrip(".")


class DatasetEntry(NamedTuple):
    """One id found on disk: its photo and metadata files (either may be missing) and any scan problem.

    A named tuple: a scan makes one per id (500,000 for ABID) and import workers receive them.
    """

    image_id: str
    image_file: str | None = None
    metadata_file: str | None = None
    problem: str | None = None

    @property
    def image_path(self) -> Path | None:
        return None if self.image_file is None else Path(self.image_file)

    @property
    def metadata_path(self) -> Path | None:
        return None if self.metadata_file is None else Path(self.metadata_file)


def _inside(root: Path, path: str) -> bool:
    try:
        Path(path).resolve().relative_to(root)
        return True
    except (ValueError, OSError, RuntimeError):
        return False


def _is_utf8(name: str) -> bool:
    """False for names the file system gave as undecodable bytes (Python maps them to surrogates)."""
    if name.isascii():
        return True
    try:
        name.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


@dataclass
class _Listing:
    """The files of a dataset folder, sorted into photos and metadata by id, plus ids with a problem."""

    root: Path
    images: dict[str, str]
    metadata: dict[str, str]
    problems: dict[str, str]

    def add(self, directory: Path, want_images: bool, want_metadata: bool) -> None:
        """Sort the files of one directory in (one pass, a few string operations a file: 500,000 photos)."""
        try:
            listing = list(os.scandir(directory))
        except OSError:
            return
        folder = str(directory) + os.sep
        images, metadata = self.images, self.metadata
        for item in listing:
            name = item.name
            stem, dot, suffix = name.rpartition(".")
            suffix = suffix.lower()
            is_image = want_images and stem != "" and suffix in _IMAGE_SUFFIXES  # stem "": ".jpg", "jpg"
            is_meta = want_metadata and stem != "" and suffix == _METADATA_SUFFIX
            if not _is_utf8(name):
                shown = os.fsencode(name).decode("utf-8", "backslashreplace")
                self.problems[shown] = "file name is not valid UTF-8; rename the file"
            elif not (is_image or is_meta):
                if want_images:  # metadata/ may hold anything else; bin-images/ and flat folders may not
                    self._other_file(name, dot and suffix, flat=want_metadata)
            elif item.is_symlink() and not _inside(self.root, folder + name):
                self.problems[name] = "symbolic link points outside the dataset folder; not opened"
            elif is_meta:
                metadata[stem] = folder + name
            elif stem in images:
                self.problems[name] = f"second photo for id {stem}; {os.path.basename(images[stem])} is used"
            else:
                images[stem] = folder + name

    def _other_file(self, name: str, suffix: str, flat: bool) -> None:
        """A file that is neither photo nor metadata: a problem in bin-images/, notes are fine in a flat folder."""
        if name.startswith(".") or (flat and suffix in ("", "txt", "md")):
            return
        shown = f".{suffix}" if suffix else "no extension"
        self.problems.setdefault(name, f"not a photo file name ({shown}); ABID photos are .jpg")

    def entries(self) -> list[DatasetEntry]:
        """One entry per id, in id order; a photo or metadata file wins over an odd file of the same name."""
        images, metadata, problems = self.images, self.metadata, self.problems
        paired = [DatasetEntry(key, images.get(key), metadata.get(key))
                  for key in sorted(images.keys() | metadata.keys())]
        odd = [DatasetEntry(key, problem=problem) for key, problem in problems.items()
               if key not in images and key not in metadata]
        return sorted(paired + odd) if odd else paired


def scan_dataset(root: Path) -> list[DatasetEntry]:
    """Pair photos and metadata by id in the ABID layout (bin-images/, metadata/) or a flat folder."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {root}")
    listing = _Listing(root, {}, {}, {})
    images_dir, meta_dir = root / "bin-images", root / "metadata"
    if images_dir.is_dir() or meta_dir.is_dir():
        listing.add(images_dir, want_images=True, want_metadata=False)
        listing.add(meta_dir, want_images=False, want_metadata=True)
    else:
        listing.add(root, want_images=True, want_metadata=True)
    return listing.entries()

"""A cache of resized uint8 images per input size, so training epochs are not bound by JPEG decoding.

Layout: CACHE_ROOT/<S>px/images.u8 (squash; <S>px-letterbox/ for letterboxed photos) (raw rows of 3*S*S bytes, CHW, append-only) and index.json
({image_id: [row, mtime_ns, path]}). An image is re-decoded when its file's mtime or path changes.
A file lock makes concurrent runs (DDP ranks, two trainings) share one cache safely.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import numpy as np
from torch.utils.data import DataLoader, Dataset

from binaudit.ml.preprocess import ImageDecodeError, decode_image, resize_uint8

log = logging.getLogger("training")
SAVE_EVERY = 2000


def resize_to_uint8(path: str, size: int, letterbox: bool = False) -> np.ndarray:
    """Decode and resize one photo exactly as eval_transform does (squash or letterbox), kept as uint8 (3, S, S)."""
    return resize_uint8(decode_image(path), size, letterbox)


class DecodeEach(Dataset):
    """Item k is (k, transform(paths[k]), "") or (k, None, reason) for a photo that cannot be decoded: one bad
    photo is reported, not raised, so DataLoader workers go on. transform must pickle (workers may spawn)."""

    def __init__(self, paths: Sequence[str], transform: Callable[[str], np.ndarray]):
        self.paths, self.transform = list(paths), transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, k: int) -> tuple[int, np.ndarray | None, str]:
        try:
            return k, self.transform(self.paths[k]), ""
        except ImageDecodeError as exc:
            return k, None, str(exc)


def _first(batch: list) -> tuple:
    return batch[0]


class ImageCache:
    """Resized images of one input size in a workspace's cache folder."""

    def __init__(self, root: Path, size: int, letterbox: bool = False):
        self.dir = Path(root) / (f"{int(size)}px-letterbox" if letterbox else f"{int(size)}px")
        self.size = int(size)
        self.letterbox = bool(letterbox)
        self.row_bytes = 3 * self.size * self.size
        self.rows = 0
        self._array: np.memmap | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_array": None}  # workers started with spawn reopen the memmap

    @property
    def data_path(self) -> Path:
        return self.dir / "images.u8"

    @property
    def index_path(self) -> Path:
        return self.dir / "index.json"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _load_index(self) -> dict:
        try:
            index = json.loads(self.index_path.read_text())
            if index.get("size") == self.size:
                return index
        except (OSError, ValueError):
            pass
        return {"size": self.size, "rows": 0, "entries": {}}

    def _save_index(self, index: dict) -> None:
        tmp = self.index_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(index))
        os.replace(tmp, self.index_path)

    def array(self) -> np.memmap:
        """The cached images as a read-only (rows, 3, S, S) uint8 memmap."""
        if self._array is None:
            self._array = np.memmap(self.data_path, dtype=np.uint8, mode="r",
                                    shape=(self.rows, 3, self.size, self.size))
        return self._array

    def ensure(self, items: Sequence[tuple[str, str]], workers: int = 0,
               progress: Callable[[int, int], None] | None = None) -> tuple[dict[str, int], dict[str, str]]:
        """Cache every (image_id, path); returns ({image_id: row}, {image_id: why it could not be read})."""
        with self._locked():
            index = self._load_index()
            rows, bad, todo = self._plan(index, items)
            if todo:
                log.info("caching %d images at %d px in %s", len(todo), self.size, self.dir)
                self._fill(index, todo, rows, bad, workers, progress)
            self.rows = int(index["rows"])
            self._array = None
        return rows, bad

    def _plan(self, index: dict, items: Sequence[tuple[str, str]]) -> tuple[dict, dict, list]:
        rows: dict[str, int] = {}
        bad: dict[str, str] = {}
        todo: list[tuple[str, str, int]] = []
        entries = index["entries"]
        for image_id, path in items:
            try:
                mtime = os.stat(path).st_mtime_ns
            except OSError as exc:
                bad[image_id] = f"{path}: {exc.strerror or exc}"
                continue
            entry = entries.get(image_id)
            if entry and entry[1] == mtime and entry[2] == str(path):
                rows[image_id] = int(entry[0])
            else:
                todo.append((image_id, str(path), mtime))
        return rows, bad, todo

    def _fill(self, index: dict, todo: list, rows: dict, bad: dict, workers: int,
              progress: Callable[[int, int], None] | None) -> None:
        size_now = int(index["rows"]) * self.row_bytes
        with open(self.data_path, "ab") as fh:
            fh.truncate(size_now)  # drop rows written after the last saved index (an interrupted build)
            fh.seek(size_now)
            decode = DecodeEach([t[1] for t in todo], partial(resize_to_uint8, size=self.size,
                                                                    letterbox=self.letterbox))
            loader = DataLoader(decode, batch_size=1, num_workers=workers, collate_fn=_first)
            for done, (k, image, error) in enumerate(loader, start=1):
                image_id, path, mtime = todo[k]
                if image is None:
                    bad[image_id] = error
                else:
                    fh.write(np.ascontiguousarray(image, dtype=np.uint8).tobytes())
                    row = int(index["rows"])
                    index["entries"][image_id] = [row, mtime, path]
                    index["rows"] = row + 1
                    rows[image_id] = row
                if done % SAVE_EVERY == 0:
                    fh.flush()
                    self._save_index(index)
                if progress:
                    progress(done, len(todo))
            fh.flush()
            os.fsync(fh.fileno())
        self._save_index(index)

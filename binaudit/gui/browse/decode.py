"""Photo decoding for the GUI's decoder processes: Pillow + the store only, no Qt (cheap to spawn).

Runs in a process pool so JPEG decoding never competes with the GUI thread for the GIL. Only JPEG
is parsed; anything else is reported as unreadable. Paths missing from a request are looked up
in the workspace database through a read-only Store opened once per worker.
"""

from __future__ import annotations

import threading

from PIL import Image

_readers: dict[str, object] = {}
_lock = threading.Lock()

# (width, height, RGB bytes) | ("no photo",) | ("unreadable", message)
DecodeResult = tuple[int, int, bytes] | tuple[str] | tuple[str, str]


def _path_for(db_path: str, image_id: str) -> str | None:
    from binaudit.core.store import Store

    with _lock:
        reader = _readers.get(db_path)
        if reader is None:
            reader = _readers[db_path] = Store.open(db_path, readonly=True)
    return reader.image_paths([image_id]).get(image_id)  # type: ignore[attr-defined]


def decode(path: str | None, image_id: str, box: tuple[int, int], db_path: str | None) -> DecodeResult:
    """Decode one JPEG to RGB bytes that fit box (JPEG draft mode scales while decoding)."""
    try:
        if path is None and db_path:
            path = _path_for(db_path, image_id)
        if not path:
            return ("no photo",)
        with Image.open(path, formats=["JPEG"]) as im:
            im.draft("RGB", box)
            im = im.convert("RGB")
            if im.width > box[0] or im.height > box[1]:
                im.thumbnail(box, Image.Resampling.BILINEAR)
            return im.width, im.height, im.tobytes()
    except Exception as exc:  # a broken file is a cell that says so, never a crash
        return ("unreadable", f"{type(exc).__name__}: {exc}")


def warm_up() -> bool:
    """Run in each new worker so its imports happen before the first real request."""
    import PIL.JpegImagePlugin  # noqa: F401

    return True


# ---------------------------------------------------------------------- worker process
# `python -m binaudit.gui.browse.decode` reads one JSON request per line on stdin and answers each with a
# JSON header line and then the header's "n" bytes of RGB pixels on stdout. It never imports Qt.

def _answer(out: object, request: dict) -> None:
    import json

    result = decode(request.get("path"), request.get("image_id", ""), tuple(request["box"]), request.get("db"))
    if len(result) == 3:
        w, h, data = result  # type: ignore[misc]
        header = {"id": request["id"], "w": w, "h": h, "n": len(data)}
    else:
        data = b""
        header = {"id": request["id"], "error": list(result), "n": 0}
    out.write(json.dumps(header).encode() + b"\n")  # type: ignore[attr-defined]
    out.write(data)  # type: ignore[attr-defined]
    out.flush()  # type: ignore[attr-defined]


def main() -> int:
    import json
    import sys

    warm_up()
    out = sys.stdout.buffer
    try:
        for line in sys.stdin.buffer:
            if not line.strip():
                continue
            try:
                request = json.loads(line)
            except ValueError:
                continue
            _answer(out, request)
    except (BrokenPipeError, KeyboardInterrupt):  # the app went away: nobody to answer
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

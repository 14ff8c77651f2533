"""Raw reads of dataset files: one os.open, no Python file object (500,000 photos and records per import)."""

from __future__ import annotations

import os

O_BINARY = getattr(os, "O_BINARY", 0)  # Windows would otherwise translate line endings


def read_up_to(fd: int, count: int, size: int) -> bytes:
    """Up to count bytes from fd's position in one read(), more reads only if it comes back short of size."""
    data = os.read(fd, count)
    wanted = min(count, size)
    if len(data) >= wanted:
        return data
    chunks, got = [data], len(data)
    while got < wanted:
        chunk = os.read(fd, count - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)

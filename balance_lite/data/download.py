"""Offline-first file fetching: use local files, else download once, else say exactly what is missing.

Chapter: *The data sets and their splits*.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import urllib.request
from pathlib import Path

__all__ = ["DOWNLOAD_TIMEOUT", "DatasetNotAvailableError", "fetch_url", "missing_error", "offline", "sha256_of",
           "short_timeouts"]


class DatasetNotAvailableError(FileNotFoundError):
    """A dataset's files are missing and could not be downloaded."""


#: Seconds before a download attempt gives up (kept short so an offline machine fails fast).
DOWNLOAD_TIMEOUT = 20.0


def offline() -> bool:
    """True when ``$BALANCE_LITE_OFFLINE`` is set to a non-empty value other than ``0``."""
    return os.environ.get("BALANCE_LITE_OFFLINE", "") not in ("", "0")


@contextlib.contextmanager
def short_timeouts(seconds: float = DOWNLOAD_TIMEOUT):
    """Make every socket opened inside the block give up after ``seconds``."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def missing_error(name: str, folder: Path, expected: list[str], how: str, cause: BaseException | None = None):
    """The one error a loader raises when files are absent: what, where, and how to get them."""
    lines = [
        f"dataset {name!r} is not available: its files are missing from {folder}",
        "expected there: " + ", ".join(expected),
        f"how to get them: {how}",
        "(set the data root with load(..., root=...) or the BALANCE_LITE_DATA environment variable)",
    ]
    if cause is not None:
        lines.append(f"the download failed: {type(cause).__name__}: {cause}")
    return DatasetNotAvailableError("\n".join(lines))


def fetch_url(url: str, target: Path, sha256: str | None) -> Path:
    """Download ``url`` to ``target`` atomically (``target.part`` then rename), checking ``sha256``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    with short_timeouts(), urllib.request.urlopen(url) as response, open(partial, "wb") as out:
        for block in iter(lambda: response.read(1 << 20), b""):
            out.write(block)
    if sha256 is not None:
        got = sha256_of(partial)
        if got != sha256:
            partial.unlink()
            raise OSError(f"checksum mismatch for {url}: expected SHA-256 {sha256}, got {got}")
    os.replace(partial, target)
    return target

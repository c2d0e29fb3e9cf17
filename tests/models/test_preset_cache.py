"""The preset cache: complete presets are reused, damaged ones rebuilt."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from promptkit.models.preset_cache import MANIFEST_NAME, ensure_preset, is_complete


def _build(directory: Path) -> None:
    (directory / "assets").mkdir()
    (directory / "config.json").write_text('{"class_name": "Gemma3Backbone"}')
    (directory / "model.weights.h5").write_bytes(os.urandom(300_000))
    (directory / "assets" / "vocabulary.spm").write_bytes(b"pieces")


@pytest.fixture
def preset(tmp_path: Path) -> Path:
    return ensure_preset(tmp_path / "preset", _build)


def test_built_once_then_reused(preset: Path):
    assert is_complete(preset)
    calls = []
    ensure_preset(preset, lambda d: calls.append(d))
    assert calls == []


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: (p / "model.weights.h5").write_bytes(b"short"),
        lambda p: (p / MANIFEST_NAME).unlink(),
        lambda p: (p / "assets" / "vocabulary.spm").unlink(),
        lambda p: (p / MANIFEST_NAME).write_text("{not json"),
    ],
    ids=["truncated-weights", "no-manifest", "missing-file", "corrupt-manifest"],
)
def test_damaged_preset_is_rebuilt(preset: Path, damage):
    damage(preset)
    assert not is_complete(preset)
    messages = []
    ensure_preset(preset, _build, progress=messages.append)
    assert is_complete(preset)
    assert "rebuilding" in messages[0]


def test_overwritten_block_in_weights_is_detected(preset: Path):
    weights = preset / "model.weights.h5"
    with weights.open("r+b") as handle:
        handle.seek(100_000)
        handle.write(b"\0" * 70_000)
    assert not is_complete(preset)


def test_kill_during_build_leaves_no_complete_looking_preset(tmp_path: Path):
    target = tmp_path / "preset"
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from promptkit.models.preset_cache import ensure_preset
        def build(d):
            (d / "model.weights.h5").write_bytes(b"x" * 1000)
            os.kill(os.getpid(), signal.SIGKILL)
        ensure_preset(Path({str(target)!r}), build)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parents[2])
    assert result.returncode == -9
    assert not target.exists()
    ensure_preset(target, _build)
    assert is_complete(target)

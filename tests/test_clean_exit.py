"""A process that exits while a model loads or generates in another thread exits cleanly, without an abort."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PROGRAM = """
import sys, threading, time
from promptkit.generation import GenerationSettings
from promptkit.models.loader import load_model

def generate_forever():
    model = load_model("tiny:gemma3")
    started.set()
    while True:
        model.generate(["A prompt long enough to keep the model busy " * 4],
                       settings=GenerationSettings(max_new_tokens=24, stop_sequences=()))

started = threading.Event()
if sys.argv[1] == "loading":
    threading.Thread(target=lambda: load_model("tiny:gemma3"), daemon=True).start()
    time.sleep(0.5)
else:
    threading.Thread(target=generate_forever, daemon=True).start()
    started.wait(120)
    time.sleep(1.0)
print("exiting", flush=True)
"""


@pytest.mark.parametrize("while_", ["loading", "generating"])
def test_exit_while_the_model_is_busy_is_clean(while_: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, while_], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "exiting"
    assert "terminate called" not in done.stderr and "FATAL" not in done.stderr

"""Layer rules: the library imports neither Streamlit nor (until used) TensorFlow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGES = [
    "promptkit",
    "promptkit.models",
    "promptkit.templates",
    "promptkit.store",
    "promptkit.salience",
    "promptkit.evaluation",
    "promptkit.diff",
    "promptkit.presentation",
    "promptkit.steps",
    "promptkit.model_registry",
    "promptkit.cli",
]


def test_importing_the_library_loads_no_streamlit_and_no_tensorflow():
    code = (
        "import sys\n"
        f"for name in {PACKAGES!r}: __import__(name)\n"
        "import promptkit; promptkit.load_model\n"
        "print(sorted(m for m in ('streamlit', 'tensorflow', 'keras', 'keras_hub') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_only_the_model_layer_names_keras_or_tensorflow():
    offenders = []
    for path in (ROOT / "promptkit").rglob("*.py"):
        if "models" in path.relative_to(ROOT / "promptkit").parts:
            continue
        text = path.read_text()
        if any(f"import {name}" in text for name in ("tensorflow", "keras", "streamlit")):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []

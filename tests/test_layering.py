"""Layer rules: only the dashboard imports Streamlit (its public API only); the library loads no TensorFlow until used."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
# The Streamlit app: its entry point and the package holding every other module that draws.
DASHBOARD = ("app.py", "dashboard")
# They run the dashboard (streamlit.testing's AppTest) to test or time it.
DASHBOARD_DRIVERS = ("tests", "bench")
# Streamlit's documented modules; the rest (streamlit.runtime, …) is internal and changes between releases.
PUBLIC_STREAMLIT_MODULES = {"streamlit", "streamlit.components.v1"}
PACKAGES = [
    "promptkit",
    "promptkit.models",
    "promptkit.templates",
    "promptkit.store",
    "promptkit.salience",
    "promptkit.evaluation",
    "promptkit.diff",
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


def _python_files() -> list[Path]:
    """The repository's Python files, outside hidden folders such as .venv."""
    files = []
    for folder, subfolders, names in os.walk(ROOT):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        files += [Path(folder, name) for name in names if name.endswith(".py")]
    return files


def _in(path: Path, tops: tuple[str, ...]) -> bool:
    """Whether `path` is one of `tops` (files or folders at the repository's root) or lies in one."""
    return path.relative_to(ROOT).parts[0] in tops


def _streamlit_imports(path: Path) -> list[tuple[str, list[str]]]:
    """Each Streamlit module `path` imports, with the names it imports from it (none for `import x`)."""
    imports = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            imports += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imports.append((node.module, [alias.name for alias in node.names]))
    return [(module, names) for module, names in imports if module.split(".")[0] == "streamlit"]


def test_only_the_dashboard_imports_streamlit():
    offenders = [
        str(path.relative_to(ROOT))
        for path in _python_files()
        if not _in(path, DASHBOARD + DASHBOARD_DRIVERS) and _streamlit_imports(path)
    ]
    assert offenders == []


def test_the_dashboard_uses_no_streamlit_internals():
    offenders = []
    for path in _python_files():
        if not _in(path, DASHBOARD):
            continue
        where = str(path.relative_to(ROOT))
        for module, names in _streamlit_imports(path):
            if module not in PUBLIC_STREAMLIT_MODULES or any(name.startswith("_") for name in names):
                offenders.append(f"{where}: imports {module} {names}")
        for node in ast.walk(ast.parse(path.read_text(), where)):
            private = isinstance(node, ast.Attribute) and node.attr.startswith("_")
            if private and getattr(node.value, "id", None) in ("st", "streamlit"):
                offenders.append(f"{where}: uses st.{node.attr}")
        internals = re.findall(r"\b(?:PagesManager|Runtime|streamlit\.runtime|st\.runtime)\b", path.read_text())
        offenders += [f"{where}: names {name}" for name in internals]
    assert offenders == []


def _promptkit_import_graph() -> dict[str, set[str]]:
    """Module → the promptkit modules it imports, anywhere in it (under `TYPE_CHECKING` and inside functions too)."""
    modules = {}
    for path in (ROOT / "promptkit").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names if alias.name in modules}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                for alias in node.names:  # `from package import module` imports the module.
                    target = f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    if target in modules:
                        imported.add(target)
        graph[name] = imported - {name}
    return graph


def _a_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of `graph` as the modules along it (first repeated last), or [] when there is none."""
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> list[str]:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return []
        path.append(module)
        for imported in sorted(graph[module]):
            cycle = visit(imported)
            if cycle:
                return cycle
        path.pop()
        done.add(module)
        return []

    for module in sorted(graph):
        cycle = visit(module)
        if cycle:
            return cycle
    return []


def test_the_import_graph_has_no_cycle():
    graph = _promptkit_import_graph()
    assert graph["promptkit.models.gradients"] >= {"promptkit.models.integrated_gradients"}  # The graph sees imports.
    assert " → ".join(_a_cycle(graph)) == ""
    assert _a_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]  # And a cycle when there is one.


def test_the_step_score_records_pull_in_no_plotly():
    code = "import sys\nimport promptkit.steps\nprint('plotly' in sys.modules)\n"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"

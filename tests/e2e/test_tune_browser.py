"""The Tune page in a real browser on tiny Gemma 3: cancel a training, train an adapter with progress, compare with it."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from app_server import ROOT, Server, running_server

from promptkit.store import Store

pytestmark = [pytest.mark.browser]

STEP_TIMEOUT_MS = 300_000


@pytest.fixture
def tune_server(tmp_path: Path) -> Iterator[Server]:
    """The dashboard on tiny Gemma 3 with only the 700-case dish family, and a model cache of its own."""
    folder = tmp_path / "templates"
    folder.mkdir()
    shutil.copy(ROOT / "templates" / "dish-restrictions.yaml", folder)
    env = {"PROMPTKIT_MODEL": "tiny:gemma3", "PROMPTKIT_TEMPLATES_DIR": str(folder),
           "PROMPTKIT_CACHE": str(tmp_path / "cache")}
    with running_server(tmp_path, env) as running:
        yield running


def wait_idle(page: Any) -> None:
    """Waits until the script run is over: no element is marked stale any more."""
    page.wait_for_timeout(300)
    page.wait_for_function("() => document.querySelectorAll('[data-stale=\"true\"]').length === 0",
                           timeout=STEP_TIMEOUT_MS)
    page.wait_for_timeout(300)


def set_number(page: Any, label: str, value: str) -> None:
    field = page.get_by_role("spinbutton", name=label, exact=True)
    field.fill(value)
    field.press("Tab")


def no_exception_on(page: Any) -> None:
    assert page.locator(".stException").count() == 0
    assert "Traceback" not in page.content()


def test_train_an_adapter_with_progress_then_compare_with_it(tune_server: Server, browser: Any, artifacts: Path) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{tune_server.url}/tune")
    page.get_by_text(re.compile(r"Loaded in \d")).first.wait_for()
    wait_idle(page)
    no_exception_on(page)
    assert page.get_by_role("textbox", name="Adapter name").input_value() == "dish-restrictions-1"

    # A training cancelled part-way leaves nothing behind.
    page.get_by_role("textbox", name="Adapter name").fill("cancelled")
    set_number(page, "Epochs (at most)", "2")
    page.get_by_role("button", name="Train adapter").click()
    page.get_by_text(re.compile(r"Epoch 1 · step \d+ of \d+ · loss")).first.wait_for()
    page.get_by_role("button", name="Cancel").click()
    page.get_by_text("Training cancelled. No adapter was saved").wait_for()
    wait_idle(page)
    no_exception_on(page)
    page.screenshot(path=str(artifacts / "20-tune-cancelled.png"), full_page=True)

    # A training run to the end shows its progress and live loss curve, then its results.
    page.get_by_role("textbox", name="Adapter name").fill("dishes")
    set_number(page, "Epochs (at most)", "1")
    set_number(page, "Learning rate", "2e-2")
    page.get_by_role("button", name="Train adapter").click()
    progress = page.get_by_text(re.compile(r"Epoch 1 · step \d+ of \d+ · loss \d+\.\d+ · about \d+ s left")).first
    progress.wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    page.wait_for_timeout(1500)  # a few more steps on the live curve
    page.screenshot(path=str(artifacts / "21-tune-training.png"), full_page=True)
    page.get_by_text("Trained tiny:gemma3+adapter:dishes in").wait_for()
    page.get_by_role("button", name="Compare with this adapter").wait_for()
    wait_idle(page)
    page.wait_for_timeout(1000)  # let Plotly finish drawing before the screenshot
    no_exception_on(page)
    assert page.get_by_text("With the adapter").count() > 0
    page.screenshot(path=str(artifacts / "22-tune-result.png"), full_page=True)

    # Compare v1 and v2 with v2 plus the adapter, on one case.
    page.get_by_role("button", name="Compare with this adapter").click()
    page.get_by_role("button", name="Run comparison").wait_for()
    wait_idle(page)
    assert page.get_by_text("v2 + adapter:dishes").count() > 0  # picked already
    page.get_by_role("button", name="Run comparison").click()
    page.get_by_text("What changed in the templates").first.wait_for()
    wait_idle(page)
    page.wait_for_timeout(1000)
    no_exception_on(page)
    assert page.get_by_text("v2 · rule-stated + adapter:dishes").count() > 0
    page.screenshot(path=str(artifacts / "23-compare-with-adapter.png"), full_page=True)
    context.close()

    with Store.open(url=f"sqlite:///{tune_server.env['PROMPTKIT_DB']}") as store:
        assert [record.name for record in store.list_adapters()] == ["dishes"]
        (comparison,) = store.list_comparisons()
    assert [str(column) for column in comparison.columns] == ["1", "2", "2+adapter:dishes"]
    assert not (tmp_cache := Path(tune_server.env["PROMPTKIT_CACHE"]) / "adapters" / "cancelled").exists(), tmp_cache

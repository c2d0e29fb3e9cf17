"""Token by token in a real browser (tiny model): opened from the Playground, stopped and continued, re-opened by its link."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_server import Server, running_server

pytestmark = pytest.mark.browser

TIMEOUT_MS = 300_000
SMALL_FAMILY = Path(__file__).parents[1] / "app" / "small_family.yaml"


@pytest.fixture(scope="module")
def tiny_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The dashboard with the tiny random-weight Gemma 3 (fast, so the test is about the page) and short prompts."""
    templates = tmp_path_factory.mktemp("templates")
    shutil.copy(SMALL_FAMILY, templates / "tiny-menu.yaml")
    env = {"PROMPTKIT_MODEL": "tiny:gemma3", "PROMPTKIT_TEMPLATES_DIR": str(templates)}
    with running_server(tmp_path_factory.mktemp("explain"), env) as running:
        yield running


def _idle(page) -> None:
    page.wait_for_timeout(300)
    page.wait_for_function("() => document.querySelectorAll('[data-stale=\"true\"]').length === 0", timeout=TIMEOUT_MS)
    page.wait_for_timeout(300)


def _no_exception(page) -> None:
    assert page.locator(".stException").count() == 0 and "Traceback" not in page.content()


def test_a_token_matrix_stops_continues_and_reopens_from_its_link(tiny_server, browser, artifacts: Path):
    context = browser.new_context(viewport={"width": 1400, "height": 2200})
    page = context.new_page()
    page.goto(tiny_server.url)
    page.get_by_text(re.compile(r"Loaded in \d")).first.wait_for(timeout=TIMEOUT_MS)
    page.get_by_text("Generation settings").click()
    tokens = page.get_by_label("Max new tokens")
    tokens.fill("200")
    tokens.press("Tab")
    _idle(page)
    page.get_by_role("button", name="Generate").click()
    page.get_by_role("button", name="Explain token by token").wait_for(timeout=TIMEOUT_MS)
    _idle(page)
    page.get_by_role("button", name="Explain token by token").click()
    page.get_by_text("Each row is one token of the answer").wait_for(timeout=TIMEOUT_MS)
    _idle(page)
    _no_exception(page)

    # Integrated gradients over a long answer takes a while, one block of rows after another: Stop it midway.
    page.get_by_label("Method").last.click()
    page.get_by_role("option", name="integrated gradients").click()
    page.get_by_text(re.compile(r"Explained \d+ of \d+ tokens")).wait_for(timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("Stopped. What was finished is kept").wait_for(timeout=TIMEOUT_MS)
    _idle(page)
    _no_exception(page)
    page.screenshot(path=str(artifacts / "20-token-matrix-stopped.png"), full_page=True)
    page.get_by_role("button", name="Continue").click()
    page.get_by_text(re.compile(r"\d+ tokens × \d+ positions, computed in")).wait_for(timeout=TIMEOUT_MS)
    page.locator(".js-plotly-plot").first.wait_for(timeout=TIMEOUT_MS)
    _idle(page)
    _no_exception(page)
    page.screenshot(path=str(artifacts / "21-token-matrix-continued.png"), full_page=True)
    link = page.locator("code").filter(has_text="view=tokens").first.inner_text().strip()
    assert "method=integrated_gradients" in link and "view=tokens" in link
    context.close()

    reader = browser.new_context(viewport={"width": 1400, "height": 2200}).new_page()
    reader.goto(link)
    reader.get_by_text(re.compile(r"\d+ tokens × \d+ positions, computed in")).wait_for(timeout=TIMEOUT_MS)
    reader.locator(".js-plotly-plot").first.wait_for(timeout=TIMEOUT_MS)
    _idle(reader)
    _no_exception(reader)
    assert reader.get_by_text(re.compile(r"Explained \d+ of")).count() == 0
    reader.screenshot(path=str(artifacts / "22-token-matrix-from-link.png"), full_page=True)

    bad = browser.new_context().new_page()
    bad.goto(link.replace("method=integrated_gradients", "method=magic"))
    bad.get_by_text("This link's method is 'magic'").wait_for(timeout=TIMEOUT_MS)
    _idle(bad)
    assert bad.locator(".js-plotly-plot").count() == 0
    bad.screenshot(path=str(artifacts / "23-token-matrix-bad-link.png"), full_page=True)

"""The dashboard in a real browser with the real embedded Gemma."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from promptkit.cli import main

pytestmark = [pytest.mark.browser, pytest.mark.real_model]

MODEL_READY_TIMEOUT_MS = 240_000
GENERATE_TIMEOUT_MS = 300_000


def open_app(browser, url: str, path: str = ""):
    context = browser.new_context(viewport={"width": 1400, "height": 2000})
    page = context.new_page()
    page.goto(f"{url}/{path}")
    # The sidebar shows the device once the model is loaded.
    page.get_by_text(re.compile(r"Loaded in \d")).first.wait_for(timeout=MODEL_READY_TIMEOUT_MS)
    return page


def wait_idle(page, timeout_ms: int = GENERATE_TIMEOUT_MS) -> None:
    """Waits until the script run is over: no element is marked stale any more."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => document.querySelectorAll('[data-stale=\"true\"]').length === 0", timeout=timeout_ms
    )
    page.wait_for_timeout(300)


def generate(page) -> str:
    page.get_by_role("button", name="Generate").click()
    caption = page.get_by_text(re.compile(r"Run #\d+ ·"))
    caption.first.wait_for(timeout=GENERATE_TIMEOUT_MS)
    page.get_by_role("button", name=re.compile("Explain this completion")).wait_for(timeout=GENERATE_TIMEOUT_MS)
    wait_idle(page)
    return caption.first.inner_text()


def no_exception_on(page) -> None:
    assert page.locator(".stException").count() == 0
    assert "Traceback" not in page.content()


def test_generate_then_salience_heatmap(server, browser, artifacts):
    page = open_app(browser, server.url)
    page.screenshot(path=str(artifacts / "01-playground.png"), full_page=True)
    caption = generate(page)
    assert "menu-analysis v1" in caption
    no_exception_on(page)
    # The first session of a fresh server keeps its form after a run.
    assert page.locator("textarea").first.input_value().startswith("Analyze a menu item")
    assert page.get_by_label("Menu item").input_value() == "Quiche Lorraine"
    page.screenshot(path=str(artifacts / "02-playground-completion.png"), full_page=True)

    page.get_by_text("Step scores: where could the completion have gone another way?").click()
    page.get_by_text("Forks: where another token was likely too").wait_for(timeout=GENERATE_TIMEOUT_MS)
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    wait_idle(page)
    page.wait_for_timeout(1000)
    no_exception_on(page)
    page.screenshot(path=str(artifacts / "02b-playground-step-scores.png"), full_page=True)

    page.get_by_role("button", name=re.compile("Explain this completion")).click()
    page.get_by_text("Explaining this part of the answer:").wait_for(timeout=GENERATE_TIMEOUT_MS)
    page.locator(".pk-salience-text").first.wait_for(timeout=GENERATE_TIMEOUT_MS)  # the text, coloured
    wait_idle(page)
    page.wait_for_timeout(1000)  # let Plotly finish drawing before the screenshot
    no_exception_on(page)
    assert page.locator(".pk-salience-text [data-piece]").count() > 1 and page.locator(".js-plotly-plot").count() >= 1
    page.screenshot(path=str(artifacts / "03-salience.png"), full_page=True)

    contrast = page.get_by_role("textbox", name="Rather than… (optional)")
    contrast.fill("Avoid.")
    contrast.press("Enter")
    page.get_by_text(re.compile(r"The model finds .* times as likely as")).wait_for(timeout=GENERATE_TIMEOUT_MS)
    wait_idle(page)
    page.wait_for_timeout(1000)
    no_exception_on(page)
    page.screenshot(path=str(artifacts / "03b-salience-contrast.png"), full_page=True)
    page.context.close()


def test_four_sessions_generate_at_once_model_loaded_once(fresh_server, browser, artifacts):
    # Four sessions connect before the model is loaded, so all four ask for it at once.
    pages = []
    for _ in range(4):
        page = browser.new_context(viewport={"width": 1400, "height": 2000}).new_page()
        page.goto(fresh_server.url)
        pages.append(page)
    for page in pages:
        page.get_by_text(re.compile(r"Loaded in \d")).first.wait_for(timeout=MODEL_READY_TIMEOUT_MS)
    # Playwright's sync API is single-threaded: click everywhere, then wait.
    for page in pages:
        page.get_by_role("button", name="Generate").click()
    captions = []
    for index, page in enumerate(pages):
        caption = page.get_by_text(re.compile(r"Run #\d+ ·"))
        caption.first.wait_for(timeout=GENERATE_TIMEOUT_MS)
        wait_idle(page)
        captions.append(caption.first.inner_text())
        no_exception_on(page)
        page.screenshot(path=str(artifacts / f"04-concurrent-session-{index + 1}.png"), full_page=True)
    run_ids = {re.search(r"Run #(\d+)", text).group(1) for text in captions}
    assert len(run_ids) == 4, captions
    assert len(fresh_server.loads()) == 1, fresh_server.loads()
    for page in pages:
        page.context.close()


def download_report(page) -> str:
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Download report (HTML)").click()
    return Path(download.value.path()).read_text(encoding="utf-8")


def test_compare_and_history_pages(server, browser, artifacts, monkeypatch, tmp_path):
    page = open_app(browser, server.url, "compare")
    page.get_by_role("button", name="Run comparison").click()
    page.get_by_text("What changed in the templates").first.wait_for(timeout=GENERATE_TIMEOUT_MS)
    wait_idle(page)
    no_exception_on(page)
    assert page.get_by_text("Expected-outcome likelihood").count() > 0
    assert page.get_by_text(re.compile(r"P\(You have to try it\) \d\.\d\d")).count() > 0  # per cell
    comparison_id = re.search(r"[?&]comparison=(\d+)", page.url).group(1)
    page.get_by_text(re.compile(r"v2 · fewshot-fixed vs v1")).click()
    page.locator("ins").first.wait_for(timeout=10_000)  # word diff of the templates
    page.screenshot(path=str(artifacts / "05-compare.png"), full_page=True)
    from_compare = download_report(page)

    # The same report from History and from the CLI, which reads the store alone.
    page.get_by_role("link", name="History & review").click()
    page.get_by_role("button", name="Download report (HTML)").wait_for(timeout=60_000)
    wait_idle(page)
    assert download_report(page) == from_compare
    monkeypatch.setenv("PROMPTKIT_DB", server.env["PROMPTKIT_DB"])
    monkeypatch.delenv("PROMPTKIT_DB_URL", raising=False)
    assert main(["report", "--comparison", comparison_id, "--html", str(tmp_path / "cli.html")]) == 0
    assert (tmp_path / "cli.html").read_text(encoding="utf-8") == from_compare
    # The link opens the stored comparison (the download's rerun of History may still be drawing it).
    page.get_by_role("link", name="Open it in Compare").click(timeout=GENERATE_TIMEOUT_MS)
    page.get_by_text("What changed in the templates").first.wait_for(timeout=GENERATE_TIMEOUT_MS)
    wait_idle(page)
    page.get_by_role("button", name="Why? (Salience)").first.click()
    page.locator(".pk-salience-text").first.wait_for(timeout=GENERATE_TIMEOUT_MS)
    page.get_by_text("Show the A/B view").click()
    page.get_by_text("How attribution moved between template parts").wait_for(timeout=GENERATE_TIMEOUT_MS)
    wait_idle(page)
    page.wait_for_timeout(1000)
    no_exception_on(page)
    page.screenshot(path=str(artifacts / "07-salience-ab.png"), full_page=True)

    page.get_by_role("link", name="History & review").click()
    page.get_by_role("button", name="Save review").wait_for(timeout=60_000)
    name = page.get_by_role("textbox", name="Your name")  # who reviews: the sidebar's name, kept for the session
    name.fill("Reviewer")
    name.press("Enter")
    wait_idle(page)
    page.get_by_text("bad", exact=True).click()
    page.get_by_label("Comment").fill("The recommendation ignores the egg restriction.")
    page.get_by_role("button", name="Save review").click()
    page.get_by_text("Review saved for run").first.wait_for(timeout=60_000)
    wait_idle(page)
    no_exception_on(page)
    page.screenshot(path=str(artifacts / "06-history.png"), full_page=True)
    page.context.close()


def pick(page, label: str, option: str) -> None:
    """Chooses `option` in the select box labelled `label`, and waits for the rerun."""
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.click()
    page.get_by_role("option", name=option).first.click()
    wait_idle(page)


def test_unsaved_edits_survive_a_version_switch_and_are_what_runs(server, browser, artifacts):
    page = open_app(browser, server.url)
    template = page.locator("textarea").first
    original = template.input_value()
    edited = original.replace("Analyze a menu item in a restaurant.", "Judge a menu item in a restaurant.")
    template.fill(edited)
    # No explicit blur: opening the version picker is what a user does next.
    expect = pytest.importorskip("playwright.sync_api").expect
    pick(page, "Version", "v2 · fewshot-fixed")
    expect(template).to_have_value(re.compile(r"^Analyze a menu item"), timeout=30_000)
    pick(page, "Version", "v1 · fewshot-mistake · unsaved edits")
    expect(template).to_have_value(edited, timeout=30_000)
    page.get_by_text("Unsaved edits: kept while you switch versions or pages").wait_for(timeout=10_000)
    # Typed and generated at once: the run uses the text as typed, saved as a new version.
    template.fill(edited.replace("Judge a menu item", "Judge one menu item"))
    caption = generate(page)
    no_exception_on(page)
    assert re.search(r"menu-analysis v(\d+)", caption).group(1) not in ("1", "2", "3")
    page.get_by_text("The prompt the model saw").click()
    page.get_by_text("Judge one menu item in a restaurant.").first.wait_for(timeout=10_000)
    page.screenshot(path=str(artifacts / "08-playground-draft.png"), full_page=True)

    page.get_by_role("button", name=re.compile("Explain this completion")).click()
    page.locator(".pk-salience-text").first.wait_for(timeout=GENERATE_TIMEOUT_MS)
    wait_idle(page)
    pick(page, "Method", "occlusion")
    page.get_by_text("Each piece was left out in turn").wait_for(timeout=GENERATE_TIMEOUT_MS)
    wait_idle(page)
    page.wait_for_timeout(1000)
    no_exception_on(page)
    page.screenshot(path=str(artifacts / "09-salience-occlusion.png"), full_page=True)
    page.context.close()

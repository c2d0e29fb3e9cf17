"""Many people, one server: concurrent Chromium sessions doing mixed work for several rounds.

One real `streamlit run app.py` with the tiny random-weight Gemma 3
(`PROMPTKIT_MODEL=tiny:gemma3`: the sessions' concurrency is under test, not
the model) on 127.0.0.1, and SESSIONS browser sessions that each round do
one of: generate, compare, generate and explain (salience), review a run,
reload the page, or switch page while their run is going; in the first
round one session is closed in the middle of its comparison. Every action
must end within ACTION_BOUND_S, no page may show an exception or an error
message, and the store must hold each run and review exactly once, with the
model loaded once.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from app_server import CHROMIUM, CHROMIUM_ARGS, ROOT, Server, running_server

pytestmark = [pytest.mark.soak, pytest.mark.browser]
async_api = pytest.importorskip("playwright.async_api")

SESSIONS = 6
ROUNDS = 3
# Each action waits for the shared model behind up to five others; the
# tiny model answers in about a second alone, so this bounds a hang, not speed.
ACTION_BOUND_S = 120
ROLES = ("generate", "compare", "salience", "review", "reload", "switch page")
MODEL_READY = re.compile(r"Loaded in \d")
NEW_TOKENS = 12
PAGE_TITLES = {"Playground": "Playground", "Compare": "Compare versions", "History & review": "History & review"}
NAVIGATION_TRIES, NAVIGATION_WAIT_MS = 3, 30_000
CLOSED_COMPARISON_TOKENS = 300  # long enough to be closed while it runs
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def soak_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The dashboard with the tiny model, for every session of the soak."""
    with running_server(tmp_path_factory.mktemp("soak"), {"PROMPTKIT_MODEL": "tiny:gemma3"}) as running:
        yield running


@dataclass
class Ledger:
    """What the sessions did, to check the store against afterwards."""

    generated: list[str] = field(default_factory=list)  # markers of runs shown on screen
    maybe_generated: list[str] = field(default_factory=list)  # runs left by a page switch
    comparisons: list[int] = field(default_factory=list)
    reviews: list[str] = field(default_factory=list)
    durations: dict[str, list[float]] = field(default_factory=dict)
    lost_clicks: int = 0  # sidebar links clicked again because the first click opened nothing
    closed_mid_run: bool = False  # whether the closed session's comparison was still running


async def wait_idle(page: Any) -> None:
    """Waits until the script run is over: no element is marked stale any more."""
    await page.wait_for_timeout(300)
    await page.wait_for_function("() => document.querySelectorAll('[data-stale=\"true\"]').length === 0")
    await page.wait_for_timeout(300)


async def no_exception_on(page: Any, what: str) -> None:
    """Fails if `page` shows an exception or an error message."""
    assert await page.locator(".stException").count() == 0, what
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert await errors.count() == 0, f"{what}: {await errors.all_inner_texts()}"
    assert "Traceback" not in await page.content(), what


class Session:
    """One person's browser session on the soak server."""

    def __init__(self, browser: Any, url: str, number: int) -> None:
        self.browser, self.url, self.number = browser, url, number
        self.name = f"Soak person {number}"
        self.page: Any = None
        self.lost_clicks = 0

    async def open(self, path: str = "") -> None:
        """A new browser context on `path`, signed as this session's person once the model is ready."""
        context = await self.browser.new_context(viewport={"width": 1400, "height": 1600})
        context.set_default_timeout(ACTION_BOUND_S * 1000)
        self.page = await context.new_page()
        await self.page.goto(f"{self.url}/{path}")
        await self.sign()

    async def sign(self) -> None:
        """Waits for the model, then gives this session's person's name in the sidebar."""
        await self.page.get_by_text(MODEL_READY).first.wait_for()
        await wait_idle(self.page)
        name = self.page.get_by_role("textbox", name="Your name")
        await name.fill(self.name)
        await name.press("Enter")
        await wait_idle(self.page)

    async def goto(self, link: str) -> None:
        """Opens the page `link` from the sidebar and waits until its title is shown."""
        title = self.page.get_by_role("heading", name=PAGE_TITLES[link])
        if await title.count():
            # Already there. Not clicked again: in two soak runs a click on the page shown,
            # under load, brought the Playground back with its template emptied (an open
            # Playground defect, apart from what this test checks).
            return
        for _ in range(NAVIGATION_TRIES):
            await self.page.get_by_role("link", name=link).click()
            try:
                await title.wait_for(timeout=NAVIGATION_WAIT_MS)
                break
            except async_api.TimeoutError:
                self.lost_clicks += 1  # a click on a link while a rerun was starting; counted and reported
        await title.wait_for()
        await wait_idle(self.page)

    async def choose_family(self, name: str) -> None:
        """Picks the template family `name` (shared by the pages of a session) unless it is picked."""
        box = self.page.locator('[data-testid="stSelectbox"]').filter(has_text="Template family").first
        if name not in await box.inner_text():
            await box.click()
            await self.page.get_by_role("option", name=name).first.click()
            await wait_idle(self.page)

    async def start_generate(self, marker: str) -> None:
        """Fills the blank with `marker` on the Playground and presses Generate."""
        await self.goto("Playground")
        await self.choose_family("menu-analysis")
        blank = self.page.get_by_label("Menu item")
        await blank.fill(marker)
        await blank.press("Tab")
        await wait_idle(self.page)
        # The tiny model's context is 512 tokens: a short completion leaves
        # room for the salience view to score prompt and completion together.
        new_tokens = self.page.get_by_role("spinbutton", name="Max new tokens", exact=True)
        if not await new_tokens.is_visible():
            await self.page.get_by_text("Generation settings").click()
        await new_tokens.fill(str(NEW_TOKENS))
        await new_tokens.press("Tab")
        await wait_idle(self.page)
        await self.page.get_by_role("button", name="Generate").click()

    async def generate(self, marker: str) -> None:
        """Generates from the Playground with `marker` in the blank, until the run is shown."""
        await self.start_generate(marker)
        # The prompt shown (in its expander, open or not) is this run's.
        await self.page.get_by_text(marker).first.wait_for(state="attached")
        await self.page.get_by_text(re.compile(r"Run #\d+ ·")).first.wait_for()
        await wait_idle(self.page)

    async def explain(self) -> None:
        """Opens the shown run in Salience and waits for its heatmap."""
        await self.page.get_by_role("button", name=re.compile("Explain this completion")).click()
        await self.page.get_by_text("Explaining this part of the answer:").wait_for()
        await self.page.locator(".js-plotly-plot").first.wait_for()
        await wait_idle(self.page)

    async def start_comparison(self, new_tokens: int) -> None:
        """Starts the default comparison of the short-prompt family (the tiny model's context is 512 tokens)."""
        await self.goto("Compare")
        await self.choose_family("dish-restrictions")
        await self.page.get_by_role("spinbutton", name="Max new tokens per completion").fill(str(new_tokens))
        await self.page.get_by_role("button", name="Run comparison").click()

    async def compare(self) -> int:
        """Runs the Compare page's default comparison; returns its stored id."""
        await self.start_comparison(NEW_TOKENS)
        await self.page.get_by_text("What changed in the templates").first.wait_for()
        await wait_idle(self.page)
        return int(re.search(r"[?&]comparison=(\d+)", self.page.url).group(1))

    async def review(self, comment: str) -> None:
        """Reviews the newest run on History & review with `comment`."""
        await self.goto("History & review")
        await self.page.get_by_test_id("stRadioGroup").get_by_text("bad", exact=True).click()
        await self.page.get_by_label("Comment").fill(comment)
        await self.page.get_by_role("button", name="Save review").click()
        await self.page.get_by_text("Review saved for run").first.wait_for()
        await wait_idle(self.page)

    async def reload(self) -> None:
        await self.page.reload()
        await self.sign()  # a reload is a new Streamlit session

    async def switch_page_during_a_run(self, marker: str) -> None:
        """Presses Generate, then leaves for History while the run is going."""
        await self.start_generate(marker)
        await self.goto("History & review")


async def screenshot(session: Session, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    if session.page is not None and not session.page.is_closed():
        await session.page.screenshot(path=str(ARTIFACTS / f"soak-{name}-session-{session.number}.png"), full_page=True)


async def timed(session: Session, ledger: Ledger, what: str, action: Callable[[], Awaitable[Any]]) -> Any:
    """Runs `action` within ACTION_BOUND_S, recording its duration under `what`."""
    started = time.perf_counter()
    try:
        result = await asyncio.wait_for(action(), ACTION_BOUND_S)
    except TimeoutError:
        await screenshot(session, "timeout")
        pytest.fail(f"{what} in session {session.number} did not complete within {ACTION_BOUND_S} s")
    ledger.durations.setdefault(what, []).append(time.perf_counter() - started)
    return result


async def act(session: Session, role: str, round_: int, ledger: Ledger) -> None:
    """Does `role` in `session` for round `round_`, checking its page shows no exception."""
    marker = f"soak-s{session.number}-r{round_}"
    if role == "generate":
        await timed(session, ledger, role, lambda: session.generate(marker))
        ledger.generated.append(marker)
    elif role == "salience":
        await timed(session, ledger, role, lambda: session.generate(marker))
        ledger.generated.append(marker)
        await timed(session, ledger, "explain", session.explain)
    elif role == "compare":
        ledger.comparisons.append(await timed(session, ledger, role, session.compare))
    elif role == "review":
        comment = f"Review by {marker}"
        await timed(session, ledger, role, lambda: session.review(comment))
        ledger.reviews.append(comment)
    elif role == "reload":
        await timed(session, ledger, role, session.reload)
    else:
        await timed(session, ledger, role, lambda: session.switch_page_during_a_run(marker))
        ledger.maybe_generated.append(marker)
    await no_exception_on(session.page, f"{role} in session {session.number}, round {round_}")


async def close_during_a_comparison(session: Session, ledger: Ledger) -> None:
    """Starts a long comparison, closes the browser context once it is under way, and opens a new one."""
    await session.start_comparison(CLOSED_COMPARISON_TOKENS)
    shown = session.page.get_by_text(re.compile("Generating the completions|steps done|What changed in the templates"))
    await shown.first.wait_for()
    ledger.closed_mid_run = await session.page.get_by_text("What changed in the templates").count() == 0
    await session.page.context.close()
    await timed(session, ledger, "reopen after a closed comparison", session.open)


async def soak(url: str) -> Ledger:
    ledger = Ledger()
    async with async_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            sessions = [Session(browser, url, number) for number in range(SESSIONS)]
            # All connect before the model is loaded, so all ask for it at once.
            await asyncio.gather(*(timed(s, ledger, "open", s.open) for s in sessions))
            # A run to review before the first round's review.
            await act(sessions[0], "generate", -1, ledger)
            for round_ in range(ROUNDS):
                work = [act(s, ROLES[(s.number + round_) % len(ROLES)], round_, ledger) for s in sessions[1:]]
                if round_ == 0:
                    work.append(close_during_a_comparison(sessions[0], ledger))
                else:
                    work.append(act(sessions[0], ROLES[round_ % len(ROLES)], round_, ledger))
                await asyncio.gather(*work)
                await asyncio.gather(*(screenshot(s, f"round-{round_}") for s in sessions))
            ledger.lost_clicks = sum(session.lost_clicks for session in sessions)
        finally:
            await browser.close()
    return ledger


def stored(db: Path) -> dict[str, Any]:
    """The store's runs, comparison cells and reviews, read straight from its SQLite file."""
    with sqlite3.connect(db) as connection:
        return {
            "run_prompts": dict(connection.execute("SELECT id, prompt FROM runs").fetchall()),
            "comparisons": dict(connection.execute("SELECT id, finished_at FROM comparisons").fetchall()),
            "cells": connection.execute("SELECT comparison_id, run_id FROM comparison_cells").fetchall(),
            "review_comments": [row[0] for row in connection.execute("SELECT comment FROM reviews")],
        }


def test_six_sessions_mixed_work_nothing_lost_or_doubled(soak_server):
    if not Path(CHROMIUM).exists():
        # CI installs it, so there a missing browser is a failure, not a skip.
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"{CHROMIUM} is not installed (apt-get install chromium)")
    started = time.perf_counter()
    ledger = asyncio.run(soak(soak_server.url))
    print(f"soak: {time.perf_counter() - started:.0f} s; closed mid-comparison: {ledger.closed_mid_run}; "
          f"link clicks repeated: {ledger.lost_clicks};",
          {what: f"max {max(times):.1f} s over {len(times)}" for what, times in ledger.durations.items()})

    assert len(soak_server.loads()) == 1, soak_server.loads()
    store = stored(Path(soak_server.env["PROMPTKIT_DB"]))
    prompts = list(store["run_prompts"].values())
    for marker in ledger.generated:
        assert sum(marker in prompt for prompt in prompts) == 1, marker
    for marker in ledger.maybe_generated:
        assert sum(marker in prompt for prompt in prompts) <= 1, marker
    finished = {cid for cid, done in store["comparisons"].items() if done is not None}
    assert set(ledger.comparisons) <= finished
    assert len(finished) - len(ledger.comparisons) <= 1  # the closed session's, if it got to the end
    cell_runs = [run_id for _, run_id in store["cells"] if run_id is not None]
    assert len(cell_runs) == len(set(cell_runs)), "a run in two comparison cells"
    marked = [rid for rid, p in store["run_prompts"].items() if "soak-s" in p]
    # Every stored run is one Playground run or one comparison cell, none twice.
    assert sorted(marked + cell_runs) == sorted(store["run_prompts"])
    assert sorted(store["review_comments"]) == sorted(ledger.reviews)
    assert len(ledger.reviews) >= ROUNDS and len(ledger.comparisons) >= ROUNDS

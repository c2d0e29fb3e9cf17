"""Salience reads right in every language, in a real browser: Persian, Hebrew, Korean, Chinese, emoji.

A dashboard with the tiny random-weight Gemma 1 (attention over the whole
prompt, so every piece gets a score) explains a stored run whose
prompt mixes the scripts our users write in, at word granularity. The page
must hold the exact text, Persian and Hebrew lines must run right to left
(a line's first word drawn rightmost), an emoji sequence must be one glyph,
and the fonts for CJK, Hebrew and Arabic script must be installed (else
the screenshot shows empty boxes). The screenshots are for people to look at:
joined Persian letters, whole emoji, CJK glyphs.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from app_server import Server, running_server

from promptkit.generation import Completion, GenerationSettings, StopReason
from promptkit.store import Store

pytestmark = pytest.mark.browser

PERSIAN = "کتاب‌ها را خواندم و غذا خوشمزه بود."
HEBREW = "שלום, זה מתכון טוב מאוד."
CHEF = "👩\u200d🍳"
PROMPT = (
    "Rate this dish for a guest.\n"
    f"{PERSIAN}\n"
    f"{HEBREW}\r\n"
    "이 요리는 정말 맛있어요.\n"
    "这道菜很好吃。\n"
    f"Cooked by {CHEF} for 👨\u200d👩\u200d👧 👍🏽\n"
    "Answer:"
)
COMPLETION = " خوب است"
STEP_TIMEOUT_MS = 240_000


@pytest.fixture(scope="module")
def tiny_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The dashboard with the tiny model and a store holding one run of the mixed prompt."""
    workdir = tmp_path_factory.mktemp("languages")
    with Store.open(url=f"sqlite:///{workdir / 'store.db'}") as store:
        store.add_family(name="languages")
        store.add_version(family="languages", text=PROMPT, author="test", note="mixed scripts")
        store.add_run(
            family="languages", version=1, model="tiny:gemma1",
            completion=Completion(PROMPT, COMPLETION, (), StopReason.STOP_SEQUENCE, {}),
            values={}, settings=GenerationSettings(),
        )
    with running_server(workdir, {"PROMPTKIT_MODEL": "tiny:gemma1"}) as running:
        yield running


def _wait_idle(page: Any) -> None:
    page.wait_for_timeout(300)
    page.wait_for_function("() => document.querySelectorAll('[data-stale=\"true\"]').length === 0", timeout=STEP_TIMEOUT_MS)
    page.wait_for_timeout(300)


def _pick(page: Any, label: str, option: str) -> None:
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.click()
    page.get_by_role("option", name=option, exact=True).first.click()
    _wait_idle(page)


def _left_of(container: Any, word: str) -> float:
    """The left edge, in pixels, of `word` where it is drawn inside `container` (first occurrence)."""
    return container.evaluate(
        """(root, word) => {
            const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                const at = node.data.indexOf(word);
                if (at >= 0) {
                    const range = document.createRange();
                    range.setStart(node, at);
                    range.setEnd(node, at + word.length);
                    return range.getBoundingClientRect().left;
                }
            }
            return null;
        }""",
        word,
    )


def _width_of(container: Any, text: str) -> float:
    return container.evaluate(
        """(root, text) => {
            const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                const at = node.data.indexOf(text);
                if (at >= 0) {
                    const range = document.createRange();
                    range.setStart(node, at);
                    range.setEnd(node, at + text.length);
                    return range.getBoundingClientRect().width;
                }
            }
            return null;
        }""",
        text,
    )


def test_fonts_for_every_script_are_installed():
    for language, package in (("zh", "fonts-noto-cjk"), ("ko", "fonts-noto-cjk"), ("he", "fonts-noto-core"), ("fa", "fonts-noto-core")):
        fonts = subprocess.run(["fc-list", f":lang={language}"], capture_output=True, text=True, check=True).stdout
        assert fonts.strip(), f"no font for {language}: apt-get install {package}"


def test_mixed_scripts_read_right_at_word_granularity(tiny_server, browser, artifacts: Path):
    page = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
    page.goto(f"{tiny_server.url}/salience")
    page.get_by_text("Explaining this part of the answer:").wait_for(timeout=STEP_TIMEOUT_MS)
    _wait_idle(page)
    _pick(page, "Show by", "words")
    text = page.locator(".pk-salience-text .pk-shaded-text").first
    text.wait_for(timeout=STEP_TIMEOUT_MS)
    assert page.locator(".stException").count() == 0

    # The page holds the exact text, piece after piece, each with its score in a tooltip.
    pieces = text.locator("[data-piece]")
    shown = pieces.evaluate_all("spans => spans.map(span => span.textContent)")
    # Streamlit's HTML sanitizer re-parses the HTML, which turns CRLF into LF (drawn alike).
    assert "".join(shown) == (PROMPT + COMPLETION).replace("\r\n", "\n")
    assert any(piece.strip() == CHEF for piece in shown)  # the emoji sequence is one piece
    titles = pieces.evaluate_all("spans => spans.map(span => span.title)")
    assert all(re.search(r"\nscore -?\d", title) for title in titles)
    assert text.evaluate("node => getComputedStyle(node).unicodeBidi") == "plaintext"

    # Right to left: a Persian or Hebrew line's first word is drawn right of its second.
    assert _left_of(text, "کتاب‌ها") > _left_of(text, "خواندم")
    assert _left_of(text, "שלום") > _left_of(text, "מתכון")
    assert _left_of(text, "이") < _left_of(text, "요리는")  # and Korean left to right
    # 👩‍🍳 is drawn as one glyph, not a woman and a frying pan side by side.
    font_size = float(text.evaluate("node => parseFloat(getComputedStyle(node).fontSize)"))
    assert _width_of(text, CHEF) < 1.6 * font_size
    # The explained answer is outlined, and the colour bar names its unit.
    assert text.locator(".pk-outline").count() == 1
    assert "gradient norm" in page.locator(".pk-colour-legend").first.inner_text()
    text.locator("[data-piece]").nth(3).hover()
    page.screenshot(path=str(artifacts / "12-salience-languages.png"), full_page=True)
    text.screenshot(path=str(artifacts / "12a-salience-languages-text.png"))

    # The token-by-token view: its axis labels are whole characters, escaped and readable.
    page.get_by_text("Token by token", exact=True).first.click()
    page.locator(".js-plotly-plot").first.wait_for(timeout=STEP_TIMEOUT_MS)
    _wait_idle(page)
    _pick(page, "Columns by", "words")
    _pick(page, "Rows by", "words")
    page.wait_for_timeout(1000)
    assert page.locator(".stException").count() == 0
    matrix = page.locator(".js-plotly-plot").first
    labels = matrix.locator(".xtick text").all_text_contents()
    assert any("کتاب‌ها" in label for label in labels) and any("שלום" in label for label in labels)
    assert any(CHEF in label for label in labels)
    assert not any("\\u" in label for label in labels)
    rows = [label.strip("\u2068\u2069 ") for label in matrix.locator(".ytick text").all_text_contents()]
    assert rows == ["خوب", "است"]
    page.locator(".js-plotly-plot").first.screenshot(path=str(artifacts / "12b-token-matrix-languages.png"))
    page.screenshot(path=str(artifacts / "12c-token-by-token-languages.png"), full_page=True)
    page.context.close()

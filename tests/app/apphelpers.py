"""Helpers for the AppTest page tests."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


def open_page(page: str | None = None, *, state: dict | None = None) -> AppTest:
    """Runs the app, switching to `page` (e.g. "dashboard/views/compare.py") first."""
    at = AppTest.from_file(APP, default_timeout=300)
    for key, value in (state or {}).items():
        at.session_state[key] = value
    if page is not None:
        at.switch_page(page)
    return at.run()


def no_errors(at: AppTest) -> None:
    """Fails with what the page shows when it shows an error or exception."""
    assert not at.exception, [item.value for item in at.exception]
    assert not at.error, [item.value for item in at.error]


def button(at: AppTest, label: str):
    """The (form submit) button with this label."""
    matches = [item for item in at.button if item.label == label]
    assert matches, f"no button {label!r}; buttons: {[item.label for item in at.button]}"
    return matches[0]


def save_review(at: AppTest, *, subject: str, verdict: str, comment: str, name: str) -> AppTest:
    """Fills the review panel of `subject` (`"run"` or `"comparison"`) and saves it."""
    review_widget(at.radio, "pk_verdict", subject).set_value(verdict)
    review_widget(at.text_area, "pk_comment", subject).set_value(comment)
    next(item for item in at.text_input if item.label == "Your name").set_value(name)
    button(at, "Save review").click()
    return at.run()


def review_widget(widgets, name: str, subject: str, *, form: int = 0):
    """The review panel's widget `name` (`pk_verdict`, `pk_comment`) for `subject`, in its `form`-th fresh form."""
    (widget,) = [w for w in widgets if w.key.startswith(f"{name}::{subject}::") and w.key.endswith(f"::{form}")]
    return widget

"""The messages users see for errors."""

from __future__ import annotations

from promptkit.errors import StoreError, error_message


def test_promptkit_errors_are_shown_as_is() -> None:
    assert error_message(StoreError("there is no run 3.")) == "there is no run 3."


def test_other_errors_show_type_and_first_line_only() -> None:
    message = error_message(RuntimeError("x" * 400 + "\nsecret second line"))
    assert message.startswith("Something went wrong (RuntimeError: ")
    assert "secret" not in message and "x" * 300 in message and "x" * 301 not in message
    assert message.endswith("reload the page.")
    assert error_message(ValueError()) == (
        "Something went wrong (ValueError). Check your inputs and try again; if it keeps happening, reload the page."
    )

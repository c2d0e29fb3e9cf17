"""User-facing errors: each says what went wrong and what to do about it."""

from __future__ import annotations


class PromptkitError(Exception):
    """Base class for errors whose message is fit to show a user as is.

    The message is one paragraph: what went wrong, where, and how to fix it.
    The CLI prints it to stderr and exits non-zero; the dashboard shows it
    instead of a traceback.
    """


class InputFileError(PromptkitError):
    """A file the user gave cannot be read as text (missing, unreadable, not UTF-8)."""


class ModelLoadError(PromptkitError):
    """A model could not be loaded (credentials, network, preset, memory)."""


class PromptError(PromptkitError):
    """A prompt cannot be processed (empty, or longer than the context)."""


class TemplateError(PromptkitError):
    """A template or its values are invalid (syntax, unknown variable, size)."""


class StoreError(PromptkitError):
    """The store could not read or write (bad URL, schema, conflicts)."""


class SalienceError(PromptkitError):
    """A salience request is invalid (target not found, empty target)."""


def error_message(error: BaseException) -> str:
    """Returns the text to show a user for `error`, never a traceback.

    Args:
        error: any exception.

    Returns:
        A `PromptkitError`'s own message; for anything else, its type and the
        first line of its message (at most 300 characters) with what to do.
    """
    if isinstance(error, PromptkitError):
        return str(error)
    detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
    detail = detail[:300]
    return (
        f"Something went wrong ({type(error).__name__}{': ' + detail if detail else ''}). "
        "Check your inputs and try again; if it keeps happening, reload the page."
    )

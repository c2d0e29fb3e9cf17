"""The sandboxed Jinja2 environment and errors that point at a line and column.

Templates come from people iterating on prompts, and may come from a shared
store, so they are treated as untrusted: rendering happens in Jinja2's
immutable sandbox, undefined names fail loudly, and features that reach
outside the template (include, import, extends) are refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import TemplateAssertionError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from promptkit.errors import TemplateError

_NEWLINES = re.compile(r"\r\n?")
_TAG_OPEN = re.compile(r"\{[{%#]")
_UNKNOWN_FILTER = re.compile(r"No (?:filter|test) named '([^']+)'")
# Nodes that would load other templates: there is no loader, and a prompt
# template has no business reading files.
_FORBIDDEN_NODES = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)


class TemplateLocationError(TemplateError):
    """A template error tied to a place in the template text.

    Attributes:
        line: 1-based line of the problem.
        column: 1-based column of the problem.
    """

    def __init__(self, message: str, *, line: int, column: int) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.line = line
        self.column = column


@dataclass(frozen=True)
class NameToken:
    """One name inside a `{{ }}` or `{% %}` tag of a template source.

    Attributes:
        name: The identifier.
        line: 1-based line.
        column: 1-based column.
        alone_on_line: True when the tag is `{{ name }}` and nothing else
            (except whitespace) is on its line.
    """

    name: str
    line: int
    column: int
    alone_on_line: bool


def make_environment() -> ImmutableSandboxedEnvironment:
    """Builds the environment every template is parsed and rendered with.

    Returns:
        An immutable sandbox with StrictUndefined that keeps a trailing
        newline, so a rendered prompt is exactly what the author wrote.
    """
    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False
    )


ENVIRONMENT = make_environment()


def normalize_newlines(text: str) -> str:
    """Returns `text` with CR LF and lone CR turned into LF, as Jinja2 does."""
    return _NEWLINES.sub("\n", text)


def column_of(text: str, *, line: int, needle: str | None = None) -> int:
    """Finds the 1-based column to report for a problem on `line`.

    Args:
        text: The template source.
        line: 1-based line number of the problem.
        needle: Text the problem is about (a name or filter), if known.

    Returns:
        The column of `needle` on that line, else of the first tag opening on
        it, else 1.
    """
    lines = normalize_newlines(text).split("\n")
    if not 1 <= line <= len(lines):
        return 1
    source_line = lines[line - 1]
    if needle:
        match = re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", source_line)
        if match:
            return match.start() + 1
    tag = _TAG_OPEN.search(source_line)
    return tag.start() + 1 if tag else 1


def parse(text: str) -> nodes.Template:
    """Parses and compiles a template source, checking it fully.

    Args:
        text: The template source.

    Returns:
        The parsed syntax tree.

    Raises:
        TemplateLocationError: On a syntax error, an unknown filter or test,
            or an include/import/extends tag.
    """
    try:
        tree = ENVIRONMENT.parse(text)
        # Compiling finds what parsing does not, such as unknown filters.
        ENVIRONMENT.compile(tree)
    except TemplateSyntaxError as error:
        line = error.lineno or 1
        unknown = _UNKNOWN_FILTER.search(error.message or "")
        needle = unknown.group(1) if unknown else None
        kind = "invalid template" if isinstance(error, TemplateAssertionError) else "syntax error"
        raise TemplateLocationError(
            f"{kind}: {(error.message or '').rstrip('.')}. Fix the template text at this place.",
            line=line,
            column=column_of(text, line=line, needle=needle),
        ) from None
    for node in tree.find_all(_FORBIDDEN_NODES):
        tag = type(node).__name__.lower()
        raise TemplateLocationError(
            f"'{tag}' is not allowed in a prompt template: a template must be "
            "self-contained. Paste the text in instead.",
            line=node.lineno,
            column=column_of(text, line=node.lineno),
        )
    return tree


def name_tokens(text: str) -> Iterator[NameToken]:
    """Yields every name used inside the tags of a template, in order.

    Args:
        text: A template source that parses.

    Returns:
        An iterator of name tokens with their positions.
    """
    source = normalize_newlines(text)
    tokens = list(ENVIRONMENT.lexer.tokeniter(source, None))
    cursor = 0
    offsets: list[int] = []
    for _, _, value in tokens:
        # Token values are raw source text except stripped whitespace, so
        # searching forward from the previous token recovers each offset.
        found = source.find(value, cursor) if value else -1
        offsets.append(found if found >= 0 else cursor)
        if found >= 0:
            cursor = found + len(value)
    for index, (_, kind, value) in enumerate(tokens):
        if kind != "name":
            continue
        offset = offsets[index]
        line_start = source.rfind("\n", 0, offset) + 1
        yield NameToken(
            name=value,
            line=source.count("\n", 0, offset) + 1,
            column=offset - line_start + 1,
            alone_on_line=_alone_on_line(source, tokens, offsets, index),
        )


def _alone_on_line(
    source: str, tokens: list[tuple[int, str, str]], offsets: list[int], index: int
) -> bool:
    """Tells whether token `index` is a bare `{{ name }}` filling its line."""
    kinds = [kind for _, kind, _ in tokens]
    before = index - 1
    while before >= 0 and kinds[before] == "whitespace":
        before -= 1
    after = index + 1
    while after < len(kinds) and kinds[after] == "whitespace":
        after += 1
    if before < 0 or after >= len(kinds):
        return False
    if kinds[before] != "variable_begin" or kinds[after] != "variable_end":
        return False
    start = offsets[before]
    end = offsets[after] + len(tokens[after][2])
    line_start = source.rfind("\n", 0, start) + 1
    line_end = source.find("\n", end)
    line_end = len(source) if line_end < 0 else line_end
    return not source[line_start:start].strip() and not source[end:line_end].strip()

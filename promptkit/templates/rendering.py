"""Renders prompt templates and reports which part of the prompt came from where.

Every `{{ expression }}` is rendered through a marker function inserted into
the template's syntax tree, so the rendered text can be cut into parts: one
"variable" part per emitted value and "literal" parts for the text between
them, split at blank lines so each instruction paragraph or few-shot example
is a part of its own. The parts tile the prompt exactly, in order.

Control structures: inside `{% if %}` and `{% for %}` every emitted value is
its own part (a loop yields one part per iteration, all with the same name).
Output captured into a value first (macros, call blocks, filter blocks,
`{% set %}` blocks) is not split: what such a construct emits counts as one
variable part named after the called macro, or as literal text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from jinja2 import meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError

from promptkit.errors import TemplateError
from promptkit.templates.environment import (
    ENVIRONMENT,
    TemplateLocationError,
    column_of,
    name_tokens,
    parse,
)
from promptkit.templates.parts import MARKERS, RenderedPrompt, mark, split_marked

MAX_VALUE_BYTES = 1_000_000
"""Largest accepted value for one variable, in UTF-8 bytes."""

MAX_RENDERED_CHARS = 10_000_000
"""Largest rendered prompt; stops loops from expanding values without bound."""

_MARK_FUNCTION = "__promptkit_part"
_CAPTURING = (nodes.Macro, nodes.CallBlock, nodes.FilterBlock, nodes.AssignBlock)
_UNDEFINED_NAME = re.compile(r"has no attribute '([^']+)'|'([^']+)' is undefined")
_UNSAFE_ATTRIBUTE = re.compile(r"attribute '([^']+)'")


@dataclass(frozen=True)
class TemplateVariable:
    """A value the template needs, for building an input form.

    Attributes:
        name: The variable name.
        line: 1-based line of its first use.
        column: 1-based column of its first use.
        multiline: True when some use is a bare `{{ name }}` on a line of its
            own, which suggests a text area rather than a one-line input.
    """

    name: str
    line: int
    column: int
    multiline: bool

    @property
    def first_position(self) -> tuple[int, int]:
        """The (line, column) of the first use."""
        return (self.line, self.column)


def detect_variables(text: str) -> list[TemplateVariable]:
    """Lists the variables a template needs, in order of first use.

    Args:
        text: The template source.

    Returns:
        One entry per variable; names bound inside the template (loop
        variables, `{% set %}`) and built-in globals such as `range` are left
        out.

    Raises:
        TemplateLocationError: If the template does not parse.
    """
    return _variables(text, parse(text))


def render_template(text: str, values: Mapping[str, object]) -> RenderedPrompt:
    """Renders a template in the sandbox and locates every part of the result.

    Args:
        text: The template source.
        values: A value for each variable; extra values are ignored.

    Returns:
        The rendered prompt with its parts.

    Raises:
        TemplateLocationError: On a syntax error, unknown filter, missing or
            undefined value, oversized value, or an attempt to reach Python
            internals; the message gives line and column.
        TemplateError: If a value or the template contains the internal
            marker characters U+FDD0..U+FDD2, or the result is too large.
    """
    _refuse_markers(text, values)
    tree = parse(text)
    variables = _variables(text, tree)
    _check_values(variables, values)
    names = _wrap_outputs(tree)
    template = ENVIRONMENT.from_string(tree, globals={_MARK_FUNCTION: mark})
    chunks: list[str] = []
    size = 0
    try:
        for chunk in template.generate(dict(values)):
            size += len(chunk)
            if size > MAX_RENDERED_CHARS:
                raise TemplateError(
                    f"the rendered prompt exceeds {MAX_RENDERED_CHARS:,} characters; "
                    "check loops in the template and the size of the values."
                )
            chunks.append(chunk)
    except (UndefinedError, SecurityError) as error:
        raise _located(text, error) from None
    except (ArithmeticError, TypeError, ValueError, LookupError) as error:
        raise _located(text, error) from None
    return split_marked("".join(chunks), names)


def _refuse_markers(text: str, values: Mapping[str, object]) -> None:
    """Rejects inputs containing the marker characters, which would corrupt spans."""
    for name, value in [("the template", text), *values.items()]:
        if isinstance(value, str) and any(marker in value for marker in MARKERS):
            where = name if name == "the template" else f"the value of '{name}'"
            raise TemplateError(
                f"{where} contains a reserved character (U+FDD0..U+FDD2); remove it."
            )


def _variables(text: str, tree: nodes.Template) -> list[TemplateVariable]:
    """Finds the undeclared names of a parsed template with their positions."""
    wanted = meta.find_undeclared_variables(tree) - set(ENVIRONMENT.globals)
    found: dict[str, TemplateVariable] = {}
    for token in name_tokens(text):
        if token.name not in wanted:
            continue
        first = found.get(token.name)
        if first is None:
            found[token.name] = TemplateVariable(
                token.name, token.line, token.column, token.alone_on_line
            )
        elif token.alone_on_line and not first.multiline:
            found[token.name] = TemplateVariable(first.name, first.line, first.column, True)
    return list(found.values())


def _check_values(variables: list[TemplateVariable], values: Mapping[str, object]) -> None:
    """Checks that each variable has a value, and that no value is too large."""
    for variable in variables:
        if values.get(variable.name) is None:
            raise TemplateLocationError(
                f"variable '{variable.name}' has no value; give it one.",
                line=variable.line,
                column=variable.column,
            )
    positions = {variable.name: variable for variable in variables}
    for name, value in values.items():
        size = len(str(value).encode("utf-8"))
        if size <= MAX_VALUE_BYTES:
            continue
        message = (
            f"the value of '{name}' is {size:,} bytes, over the limit of "
            f"{MAX_VALUE_BYTES:,} bytes; shorten it."
        )
        if name in positions:
            used = positions[name]
            raise TemplateLocationError(message, line=used.line, column=used.column)
        raise TemplateError(message)


def _wrap_outputs(tree: nodes.Template) -> list[str]:
    """Routes every emitted expression through the marker function, in place.

    Returns:
        The part name of each wrapped expression, indexed by marker number.
    """
    names: list[str] = []
    skipped = {id(node) for block in tree.find_all(_CAPTURING) for node in block.find_all(nodes.Output)}
    for output in list(tree.find_all(nodes.Output)):
        if id(output) in skipped:
            continue
        for position, child in enumerate(output.nodes):
            if isinstance(child, (nodes.TemplateData, nodes.Const)):
                continue
            call = nodes.Call(
                nodes.Name(_MARK_FUNCTION, "load"),
                [nodes.Const(len(names)), child],
                [],
                None,
                None,
            )
            call.set_lineno(child.lineno)
            call.set_environment(ENVIRONMENT)
            output.nodes[position] = call
            names.append(_expression_name(child))
    return names


def _expression_name(expression: nodes.Expr) -> str:
    """Names an output expression: `name`, `name.attr...`, or its first name."""
    path: list[str] = []
    node: nodes.Node = expression
    # `{{ example.text | upper }}` is still the value of `example.text`.
    while isinstance(node, nodes.Filter) and node.node is not None:
        node = node.node
    while isinstance(node, nodes.Getattr):
        path.append(node.attr)
        node = node.node
    if isinstance(node, nodes.Name):
        return ".".join([node.name, *reversed(path)])
    first = next(expression.find_all(nodes.Name), None)
    return first.name if first is not None else "expression"


def _located(text: str, error: Exception) -> TemplateLocationError:
    """Turns an error raised while rendering into one with line and column."""
    line = 1
    traceback = error.__traceback__
    while traceback is not None:
        # Jinja2 rewrites tracebacks so template frames carry template lines.
        if traceback.tb_frame.f_code.co_filename == "<template>":
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    message = str(error).rstrip(".")
    if isinstance(error, SecurityError):
        unsafe = _UNSAFE_ATTRIBUTE.search(message)
        return TemplateLocationError(
            f"refused: the template tries to reach Python internals ({message}). "
            "A template can only use the values it is given.",
            line=line,
            column=column_of(text, line=line, needle=unsafe.group(1) if unsafe else None),
        )
    if isinstance(error, UndefinedError):
        undefined = _UNDEFINED_NAME.search(message)
        needle = next((group for group in undefined.groups() if group), None) if undefined else None
        return TemplateLocationError(
            f"undefined: {message}. Check the spelling, or give the value it needs.",
            line=line,
            column=column_of(text, line=line, needle=needle),
        )
    return TemplateLocationError(
        f"rendering failed: {type(error).__name__}: {message}",
        line=line,
        column=column_of(text, line=line),
    )

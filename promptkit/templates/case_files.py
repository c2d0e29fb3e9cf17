"""Test cases as CSV or JSONL files, for people who keep them in a spreadsheet or a script.

CSV: a header row, then one case per row; columns may come in any order.

    id                  the case id: required, unique in the file
    var:NAME            the case's value of template variable NAME; one column
                        for each variable of the family's latest version is required
    expect.line         prefix of the output line checked (empty: the whole completion)
    expect.contains     texts that must appear, separated by "|"
    expect.not_contains texts that must not appear, separated by "|"
    expect.regex        a pattern that must match (Python `re.search`)
    expect.labels       acceptable labels, separated by "|"
    expect.candidates   the labels to choose among, separated by "|"
                        (empty: the family's candidate labels)

An empty `var:` cell is an empty value (a case with no value for a column's
variable is exported so). An empty `expect.` cell means "not set", and a case
whose `expect.` cells are all empty has no expectation. Rows whose cells are
all empty are skipped; errors give the line a row starts on. In a "|"
list, write `\\|` for a "|" inside a text and `\\\\` for a backslash (a
backslash before anything else stays as written).

Spreadsheets run a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage
return as a formula. So a cell that starts with one of them, possibly after
single quotes, is exported with one more single quote in front
("=HYPERLINK(…)" becomes "'=HYPERLINK(…)", "-5 degrees" becomes
"'-5 degrees"), and the reader removes exactly one leading quote from such a
cell: an export read back gives the same texts. Other cells are kept as
written, a leading quote included.

JSONL: one JSON object per line, in the layout of a case in a library YAML
file (`TestCase.to_dict`): {"id": ..., "values": {NAME: text},
"expect": {"line", "contains", "not_contains", "regex", "labels",
"candidates"}}, "expect" and each of its keys optional. Blank lines are skipped.

Files are read as UTF-8, byte for byte (see `promptkit.text_files`), so
values keep their `\\r\\n`. A file is checked whole: any problem raises a
TemplateError naming the file, line and column or key, and no case is returned.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from promptkit.errors import InputFileError, TemplateError
from promptkit.templates.models import Expectation, TestCase
from promptkit.text_files import read_text_file

VALUE_COLUMN_PREFIX = "var:"
EXPECT_COLUMN_PREFIX = "expect."
EXPECT_FIELDS = ("line", "contains", "not_contains", "regex", "labels", "candidates")
_LIST_FIELDS = frozenset({"contains", "not_contains", "labels", "candidates"})
_CASE_KEYS = ("id", "values", "expect")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Given a field's path in the JSON layout ("id", "values.NAME", "expect.labels"),
# says where it is in the file: "column 'var:NAME'", "key 'values.NAME'".
_Locator = Callable[[str], str]


def read_cases_csv(path: Path, *, variables: Sequence[str], candidate_labels: Sequence[str]) -> tuple[TestCase, ...]:
    """Reads and checks a CSV case file (layout in the module docstring).

    Args:
        path: The file.
        variables: Variables every case must have a value for (the latest version's).
        candidate_labels: The family's labels, used when a row sets no `expect.candidates`.

    Returns:
        The cases, in file order.

    Raises:
        TemplateError: If the file is unreadable, not UTF-8 or not valid CSV, has
            no cases, or a column or row is wrong; naming the file, line and column.
    """
    records = _csv_records(path)
    if not records:
        raise TemplateError(f"{path}:1: the file is empty; its first row must be the header (id, var:NAME, ...).")
    header_line, header = records[0]
    _check_header(path, header_line, header, variables)
    cases: list[TestCase] = []
    seen: set[str] = set()
    for line, cells in records[1:]:
        if len(cells) != len(header):
            raise TemplateError(
                f"{path}:{line}: the row has {len(cells)} cells but the header has {len(header)} columns; "
                "check for a missing or extra comma, and quote cells that contain commas."
            )
        row = dict(zip(header, (_unprotect(cell) for cell in cells)))
        case = _csv_case(path, line, row)
        cases.append(_checked_case(path, line, _column_of, case, variables, candidate_labels, seen))
    if not cases:
        raise TemplateError(f"{path}:{header_line}: the file has no cases; add one row per case below the header.")
    return tuple(cases)


def read_cases_jsonl(path: Path, *, variables: Sequence[str], candidate_labels: Sequence[str]) -> tuple[TestCase, ...]:
    """Reads and checks a JSONL case file: one case per line, as in the YAML library.

    Args:
        path: The file.
        variables: Variables every case must have a value for (the latest version's).
        candidate_labels: The family's labels, used when a case sets no `candidates`.

    Returns:
        The cases, in file order.

    Raises:
        TemplateError: If the file is unreadable or not UTF-8, has no cases, or a
            line is not a valid case; naming the file, line and key.
    """
    text = _read(path)
    cases: list[TestCase] = []
    seen: set[str] = set()
    # Split on "\n" alone: `str.splitlines` would also split at U+2028 and the
    # like, which JSON strings may hold unescaped.
    for line, source in enumerate(text.split("\n"), start=1):
        if not source.strip():
            continue
        try:
            data = json.loads(source)
        except json.JSONDecodeError as error:
            raise TemplateError(
                f"{path}:{line}: invalid JSON at column {error.colno}: {error.msg}. "
                'Write one JSON object per line, e.g. {"id": "a", "values": {"name": "text"}}.'
            ) from None
        case = _json_case(path, line, data)
        cases.append(_checked_case(path, line, _key_of, case, variables, candidate_labels, seen))
    if not cases:
        raise TemplateError(f"{path}:1: the file has no cases; write one JSON object per line.")
    return tuple(cases)


def write_cases_csv(
    cases: Iterable[TestCase],
    target: Path | TextIO,
    *,
    variables: Sequence[str] = (),
    candidate_labels: Sequence[str] = (),
) -> None:
    """Writes cases as CSV that `read_cases_csv` reads back to equal cases.

    Args:
        cases: The cases.
        target: A file to write (replaced), or an open text stream.
        variables: Variable columns to write first, even when no case has a value
            (so an empty family gives a header to fill in); each case's other
            variables follow.
        candidate_labels: The family's labels; a case's candidates equal to them
            leave `expect.candidates` empty.
    """
    cases = list(cases)  # Read twice: for the columns, then for the rows.
    names = list(dict.fromkeys([*variables, *(name for case in cases for name in case.values)]))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    value_columns = [VALUE_COLUMN_PREFIX + name for name in names]
    writer.writerow(["id", *value_columns, *(EXPECT_COLUMN_PREFIX + field for field in EXPECT_FIELDS)])
    for case in cases:
        expect = case.expect.to_dict(family_candidates=tuple(candidate_labels)) if case.expect is not None else {}
        values = [case.values.get(name, "") for name in names]
        cells = [case.id, *values, *(_expect_cell(expect.get(field)) for field in EXPECT_FIELDS)]
        writer.writerow([_protect(cell) for cell in cells])
    _write_text(buffer.getvalue(), target)


def write_cases_jsonl(
    cases: Iterable[TestCase], target: Path | TextIO, *, candidate_labels: Sequence[str] = ()
) -> None:
    """Writes cases as JSONL that `read_cases_jsonl` reads back to equal cases.

    Args:
        cases: The cases.
        target: A file to write (replaced), or an open text stream.
        candidate_labels: The family's labels; a case's candidates equal to them are left out.
    """
    family_candidates = tuple(candidate_labels)
    lines = (json.dumps(case.to_dict(family_candidates=family_candidates), ensure_ascii=False) + "\n" for case in cases)
    _write_text("".join(lines), target)


def _read(path: Path) -> str:
    """Returns the file's text, raising TemplateError as every other case-file problem does."""
    try:
        return read_text_file(path, what="case")
    except InputFileError as error:
        raise TemplateError(str(error)) from None


def _write_text(text: str, target: Path | TextIO) -> None:
    """Writes UTF-8 text to a file or a stream, translating no line ending."""
    if isinstance(target, Path):
        target.write_text(text, encoding="utf-8", newline="")
    else:
        target.write(text)


def _csv_records(path: Path) -> list[tuple[int, list[str]]]:
    """Parses the CSV into (line where the row starts, cells), skipping rows of empty cells."""
    text = _read(path)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            if any(cells):
                records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as error:
        raise TemplateError(
            f"{path}:{reader.line_num}: not valid CSV: {error}. "
            'Check the quotes there: a quoted cell ends with " and a " inside it is written "".'
        ) from None
    return records


def _check_header(path: Path, line: int, header: list[str], variables: Sequence[str]) -> None:
    """Checks that every column is known, none repeats, and the required ones are there."""
    expect_columns = [EXPECT_COLUMN_PREFIX + field for field in EXPECT_FIELDS]
    for column in header:
        is_value = column.startswith(VALUE_COLUMN_PREFIX) and column != VALUE_COLUMN_PREFIX
        if not (column == "id" or is_value or column in expect_columns):
            raise TemplateError(
                f"{path}:{line}: column {column!r} is unknown; the columns are id, var:NAME for each template "
                f"variable ({', '.join(VALUE_COLUMN_PREFIX + name for name in variables) or 'none'}) and "
                f"{', '.join(expect_columns)}. Rename or delete it."
            )
        if header.count(column) > 1:
            raise TemplateError(f"{path}:{line}: column {column!r} appears twice; keep one of them.")
    if "id" not in header:
        raise TemplateError(f"{path}:{line}: column 'id' is missing; add an id column with each case's unique id.")
    missing = [VALUE_COLUMN_PREFIX + name for name in variables if VALUE_COLUMN_PREFIX + name not in header]
    if missing:
        raise TemplateError(
            f"{path}:{line}: column {missing[0]!r} is missing; add a column for each template variable "
            f"({', '.join(missing)})."
        )


def _csv_case(path: Path, line: int, row: dict[str, str]) -> dict[str, Any]:
    """Turns a row's cells into a case in the JSON layout; empty expect cells are left out."""
    values = {
        column.removeprefix(VALUE_COLUMN_PREFIX): cell
        for column, cell in row.items()
        if column.startswith(VALUE_COLUMN_PREFIX)
    }
    expect: dict[str, Any] = {}
    for field in EXPECT_FIELDS:
        cell = row.get(EXPECT_COLUMN_PREFIX + field, "")
        if cell:
            expect[field] = _split_items(path, line, field, cell) if field in _LIST_FIELDS else cell
    case: dict[str, Any] = {"id": row["id"], "values": values}
    if expect:
        case["expect"] = expect
    return case


def _json_case(path: Path, line: int, data: object) -> dict[str, Any]:
    """Checks the types of a JSONL line's case; returns it unchanged."""
    if not isinstance(data, dict):
        raise TemplateError(
            f'{path}:{line}: the line must be one JSON object such as {{"id": "a", "values": {{}}}}, '
            f"not {type(data).__name__}."
        )
    for key in data:
        if key not in _CASE_KEYS:
            raise TemplateError(f"{path}:{line}: key {key!r} is unknown; a case has id, values and optionally expect.")
    for key in ("id", "values"):
        if key not in data:
            raise TemplateError(f"{path}:{line}: key {key!r} is missing; every case needs an id and its values.")
    if not isinstance(data["id"], str):
        raise TemplateError(f"{path}:{line}: key 'id' must be text; quote it.")
    values = data["values"]
    if not isinstance(values, dict):
        raise TemplateError(f'{path}:{line}: key \'values\' must be an object of texts, e.g. {{"name": "text"}}.')
    for name, value in values.items():
        if not isinstance(value, str):
            raise TemplateError(f"{path}:{line}: key 'values.{name}' must be text; quote it.")
    expect = data.get("expect", {})
    if not isinstance(expect, dict):
        raise TemplateError(f"{path}:{line}: key 'expect' must be an object with keys {', '.join(EXPECT_FIELDS)}.")
    for field, value in expect.items():
        if field not in EXPECT_FIELDS:
            raise TemplateError(
                f"{path}:{line}: key 'expect.{field}' is unknown; expect has {', '.join(EXPECT_FIELDS)}."
            )
        if field in _LIST_FIELDS and not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
            raise TemplateError(f'{path}:{line}: key \'expect.{field}\' must be a list of texts, e.g. ["a", "b"].')
        if field not in _LIST_FIELDS and not (value is None or isinstance(value, str)):
            raise TemplateError(f"{path}:{line}: key 'expect.{field}' must be text or null.")
    return data


def _checked_case(
    path: Path,
    line: int,
    locate: _Locator,
    data: dict[str, Any],
    variables: Sequence[str],
    candidate_labels: Sequence[str],
    seen: set[str],
) -> TestCase:
    """Checks what both formats share (id, variables, labels, regex) and builds the case.

    Args:
        path: The file, for messages.
        line: The line the case starts on, for messages.
        locate: Names a field's column or key, for messages.
        data: The case in the JSON layout, its types checked.
        variables: Variables the case must have a value for.
        candidate_labels: The family's labels.
        seen: Ids of the earlier cases of the file; the case's id is added.

    Returns:
        The case.

    Raises:
        TemplateError: On an empty or repeated id, a missing variable, a label
            not among the candidates, or an invalid regex.
    """

    def problem(field: str, message: str) -> TemplateError:
        return TemplateError(f"{path}:{line}: {locate(field)}: {message}")

    case_id: str = data["id"]
    if not case_id.strip():
        raise problem("id", "the case id is empty; give every case a unique id.")
    if case_id in seen:
        raise problem("id", f"duplicate case id {case_id!r}; give each case its own id.")
    seen.add(case_id)
    values: dict[str, str] = data["values"]
    missing = [name for name in variables if name not in values]
    if missing:
        raise problem(f"values.{missing[0]}", f"case {case_id!r} has no value for {', '.join(missing)}; add it.")
    if "expect" not in data:
        return TestCase(id=case_id, values=values)
    expect = Expectation.from_dict(data["expect"], family_candidates=tuple(candidate_labels))
    for label in expect.labels:
        if label not in expect.candidates:
            raise problem(
                "expect.labels",
                f"label {label!r} is not one of the candidate labels {list(expect.candidates)}; "
                "use one of them (exact spelling) or add it to the candidates.",
            )
    if expect.regex is not None:
        try:
            re.compile(expect.regex)
        except re.error as error:
            raise problem("expect.regex", f"regex {expect.regex!r} is invalid: {error}; fix the pattern.") from None
    return TestCase(id=case_id, values=values, expect=expect)


def _column_of(field: str) -> str:
    """Names a field's CSV column: "values.NAME" is column "var:NAME"."""
    if field.startswith("values."):
        field = VALUE_COLUMN_PREFIX + field.removeprefix("values.")
    return f"column {field!r}"


def _key_of(field: str) -> str:
    """Names a field's JSONL key."""
    return f"key {field!r}"


def _split_items(path: Path, line: int, field: str, cell: str) -> list[str]:
    """Splits a "|"-separated cell; `\\|` is a "|" and `\\\\` a backslash inside an item."""
    items: list[str] = []
    current: list[str] = []
    chars = iter(cell)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            current.append(following if following in ("|", "\\") else char + following)
        elif char == "|":
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    if "" in items:
        raise TemplateError(
            f"{path}:{line}: column {EXPECT_COLUMN_PREFIX + field!r}: an item between the '|' separators is empty; "
            "remove the extra '|'."
        )
    return items


def _expect_cell(value: object) -> str:
    """Writes an expectation field as a cell: a list joined with "|", escaping "|" and "\\"."""
    if value is None:
        return ""
    if isinstance(value, list):
        return "|".join(str(item).replace("\\", "\\\\").replace("|", "\\|") for item in value)
    return str(value)


def _protect(cell: str) -> str:
    """Adds a single quote before a cell a spreadsheet would run as a formula (rule in the module docstring)."""
    return "'" + cell if cell.lstrip("'").startswith(_FORMULA_STARTS) else cell


def _unprotect(cell: str) -> str:
    """Removes the single quote `_protect` added, and only that one."""
    return cell[1:] if cell.startswith("'") and cell.lstrip("'").startswith(_FORMULA_STARTS) else cell

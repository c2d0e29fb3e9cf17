"""Test cases as CSV and JSONL files: lossless round trips, formula quoting, and errors naming line and column."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from promptkit.errors import TemplateError
from promptkit.templates import Expectation, TestCase
from promptkit.templates.case_files import read_cases_csv, read_cases_jsonl, write_cases_csv, write_cases_jsonl

LABELS = ("Avoid", "Likely good")
VARIABLES = ("dish", "note")
CASES = (
    TestCase(
        id="soup",
        values={"dish": "Onion soup, «gratinée» — 🍲", "note": 'He said "no", then left.'},
        expect=Expectation(line="Recommendation:", labels=("Avoid",), candidates=LABELS),
    ),
    TestCase(
        id="multi-line",
        values={"dish": "first\nsecond\r\nthird\rfourth", "note": "tab\there, trailing space "},
        expect=Expectation(
            contains=("a|b", "back\\slash", "ünïcode"),
            not_contains=("=1+1", "x"),
            regex=r"\d+ (?:g|kg)",
        ),
    ),
    TestCase(
        id="formulas",
        values={"dish": '=HYPERLINK("http://evil.example","click")', "note": "-5 degrees"},
        expect=Expectation(labels=("Maybe",), candidates=("Maybe", "No")),
    ),
    TestCase(
        id="quotes",
        values={"dish": "'=already quoted", "note": "'plain quote"},
        expect=Expectation(line="@mention", contains=("+plus",)),
    ),
    TestCase(id="no-expectation", values={"dish": "", "note": "\u2028line separator"}),
)


def _write_csv(cases: tuple[TestCase, ...], path: Path) -> Path:
    write_cases_csv(cases, path, variables=VARIABLES, candidate_labels=LABELS)
    return path


def _write_jsonl(cases: tuple[TestCase, ...], path: Path) -> Path:
    write_cases_jsonl(cases, path, candidate_labels=LABELS)
    return path


def _read_csv(path: Path) -> tuple[TestCase, ...]:
    return read_cases_csv(path, variables=VARIABLES, candidate_labels=LABELS)


def _read_jsonl(path: Path) -> tuple[TestCase, ...]:
    return read_cases_jsonl(path, variables=VARIABLES, candidate_labels=LABELS)


def test_csv_round_trip_is_lossless(tmp_path: Path) -> None:
    assert _read_csv(_write_csv(CASES, tmp_path / "cases.csv")) == CASES


def test_jsonl_round_trip_is_lossless(tmp_path: Path) -> None:
    assert _read_jsonl(_write_jsonl(CASES, tmp_path / "cases.jsonl")) == CASES


def test_jsonl_lines_are_the_library_case_layout(tmp_path: Path) -> None:
    text = _write_jsonl(CASES[:1], tmp_path / "cases.jsonl").read_text(encoding="utf-8")
    assert text == (
        '{"id": "soup", "values": {"dish": "Onion soup, «gratinée» — 🍲", "note": "He said \\"no\\", then left."}, '
        '"expect": {"line": "Recommendation:", "labels": ["Avoid"]}}\n'
    )


def test_writing_to_a_stream_matches_the_file(tmp_path: Path) -> None:
    stream = io.StringIO()
    write_cases_csv(CASES, stream, variables=VARIABLES, candidate_labels=LABELS)
    assert stream.getvalue().encode("utf-8") == _write_csv(CASES, tmp_path / "cases.csv").read_bytes()


def test_csv_quotes_cells_a_spreadsheet_would_run_as_formulas(tmp_path: Path) -> None:
    raw = _write_csv(CASES, tmp_path / "cases.csv").read_bytes().decode("utf-8")
    rows = {row[0]: row for row in csv.reader(io.StringIO(raw, newline=""))}
    assert rows["id"] == [
        "id", "var:dish", "var:note", "expect.line", "expect.contains", "expect.not_contains",
        "expect.regex", "expect.labels", "expect.candidates",
    ]
    assert rows["formulas"][1:3] == ["'=HYPERLINK(\"http://evil.example\",\"click\")", "'-5 degrees"]
    assert rows["formulas"][7:9] == ["Maybe", "Maybe|No"]
    assert rows["quotes"][1:4] == ["''=already quoted", "'plain quote", "'@mention"]
    assert rows["quotes"][4] == "'+plus"
    assert rows["multi-line"][4:7] == ["a\\|b|back\\\\slash|ünïcode", "'=1+1|x", "\\d+ (?:g|kg)"]
    assert rows["soup"][8] == "", "the family's candidate labels are not repeated"
    assert "\r\nthird\rfourth" in raw, "line endings inside values are kept"


def test_csv_from_a_spreadsheet(tmp_path: Path) -> None:
    path = tmp_path / "sheet.csv"
    # Excel's "CSV UTF-8": byte-order mark, CRLF rows, trailing empty rows, any column order.
    path.write_bytes(
        "\ufeffvar:note,expect.labels,id,var:dish,expect.contains\r\n"
        "'typed quote,Avoid|Likely good,a,Soup,C:\\path|x\r\n"
        ',,b,"two\r\nlines",\r\n'
        ",,,,\r\n".encode()
    )
    assert _read_csv(path) == (
        TestCase(
            id="a",
            values={"note": "'typed quote", "dish": "Soup"},
            expect=Expectation(contains=("C:\\path", "x"), labels=("Avoid", "Likely good"), candidates=LABELS),
        ),
        TestCase(id="b", values={"note": "", "dish": "two\r\nlines"}),
    )


def test_an_empty_family_exports_a_header_to_fill_in(tmp_path: Path) -> None:
    raw = _write_csv((), tmp_path / "empty.csv").read_text(encoding="utf-8")
    assert raw.startswith("id,var:dish,var:note,expect.line,")


HEADER = "id,var:dish,var:note"


@pytest.mark.parametrize(
    ("text", "line", "where", "message"),
    [
        (f"{HEADER}\na,x,y\na,z,w\n", 3, "column 'id'", "duplicate case id 'a'"),
        (f'{HEADER}\na,"two\nlines",y\na,z,w\n', 4, "column 'id'", "duplicate case id 'a'"),
        ("var:dish,var:note\nx,y\n", 1, "column 'id'", "is missing; add an id column"),
        (f"{HEADER},colour\na,x,y,red\n", 1, "column 'colour'", "is unknown; the columns are id, var:NAME"),
        (f"{HEADER},var:dish\na,x,y,z\n", 1, "column 'var:dish'", "appears twice"),
        ("id,var:dish\na,x\n", 1, "column 'var:note'", "is missing; add a column for each template variable"),
        (f"{HEADER}\na,x,y\n ,x,y\n", 3, "column 'id'", "the case id is empty"),
        (f"{HEADER}\na,x,y\nb,x,y,extra\n", 3, "", "the row has 4 cells but the header has 3 columns"),
        (f"{HEADER}\na,x\n", 2, "", "the row has 2 cells but the header has 3 columns"),
        (f"{HEADER},expect.labels\na,x,y,Avoid|Maybe\n", 2, "column 'expect.labels'", "label 'Maybe' is not one of"),
        (f"{HEADER},expect.contains\na,x,y,one||two\n", 2, "column 'expect.contains'", "an item between the '|'"),
        (f"{HEADER},expect.regex\na,x,y,(unclosed\n", 2, "column 'expect.regex'", "regex '(unclosed' is invalid"),
        (f'{HEADER}\na,"x"y,z\n', 2, "", "not valid CSV"),
        (f"{HEADER}\n", 1, "", "the file has no cases"),
        ("", 1, "", "the file is empty"),
    ],
)
def test_bad_csv_names_line_and_column(tmp_path: Path, text: str, line: int, where: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8", newline="")
    with pytest.raises(TemplateError) as raised:
        _read_csv(path)
    assert str(raised.value).startswith(f"{path}:{line}: {where}")
    assert message in str(raised.value)


GOOD_LINE = '{"id": "a", "values": {"dish": "x", "note": "y"}}'


@pytest.mark.parametrize(
    ("text", "line", "where", "message"),
    [
        (f"{GOOD_LINE}\n{{bad\n", 2, "", "invalid JSON at column 2"),
        (f"{GOOD_LINE}\n\n{GOOD_LINE}\n", 3, "key 'id'", "duplicate case id 'a'"),
        ('{"values": {"dish": "x", "note": "y"}}\n', 1, "key 'id'", "is missing"),
        ('{"id": "a", "values": {"dish": "x", "note": "y"}, "colour": 1}\n', 1, "key 'colour'", "is unknown"),
        ('{"id": "", "values": {"dish": "x", "note": "y"}}\n', 1, "key 'id'", "the case id is empty"),
        ('{"id": 7, "values": {"dish": "x", "note": "y"}}\n', 1, "key 'id'", "must be text"),
        ('{"id": "a", "values": {"dish": "x"}}\n', 1, "key 'values.note'", "has no value for note"),
        ('{"id": "a", "values": {"dish": "x", "note": 3}}\n', 1, "key 'values.note'", "must be text"),
        (
            '{"id": "a", "values": {"dish": "x", "note": "y"}, "expect": {"labels": ["Maybe"]}}\n',
            1,
            "key 'expect.labels'",
            "label 'Maybe' is not one of the candidate labels ['Avoid', 'Likely good']",
        ),
        (
            '{"id": "a", "values": {"dish": "x", "note": "y"}, "expect": {"contains": "x"}}\n',
            1,
            "key 'expect.contains'",
            "must be a list of texts",
        ),
        (
            '{"id": "a", "values": {"dish": "x", "note": "y"}, "expect": {"colour": "x"}}\n',
            1,
            "key 'expect.colour'",
            "is unknown",
        ),
        ('["a"]\n', 1, "", "must be one JSON object"),
        ("\n\n", 1, "", "the file has no cases"),
    ],
)
def test_bad_jsonl_names_line_and_key(tmp_path: Path, text: str, line: int, where: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError) as raised:
        _read_jsonl(path)
    assert str(raised.value).startswith(f"{path}:{line}: {where}")
    assert message in str(raised.value)


@pytest.mark.parametrize("name", ["bad.csv", "bad.jsonl"])
def test_non_utf8_file_is_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b'{"id": "caf\xe9", "values": {}}\n' if name.endswith(".jsonl") else b"id\ncaf\xe9\n")
    read = _read_jsonl if name.endswith(".jsonl") else _read_csv
    with pytest.raises(TemplateError, match="is not UTF-8 text: byte 0xe9 at offset") as raised:
        read(path)
    assert str(path) in str(raised.value) and "Save the file as UTF-8" in str(raised.value)


def test_one_bad_row_returns_nothing(tmp_path: Path) -> None:
    path = _write_csv(CASES, tmp_path / "cases.csv")
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write("late,x,y,,,,,Unknown,\r\n")
    # Line 10: the multi-line case's cell spans lines 3 to 6.
    with pytest.raises(TemplateError, match=r"cases.csv:10: column 'expect.labels': label 'Unknown'"):
        _read_csv(path)

"""`python -m promptkit cases export|import`: a family's test cases as CSV or JSONL files.

`export` writes the stored cases; `import` adds a file's cases to the store
and updates the stored ones with the same id, all or nothing. The file
layouts are described in `promptkit.templates.case_files`.

An imported case is kept over the library's YAML file of the same family
until that file's own case changes (see `promptkit.store.sync`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from promptkit.cli.templates_command import add_templates_dir_option, open_store
from promptkit.errors import InputFileError
from promptkit.store import FamilyRecord
from promptkit.templates import detect_variables
from promptkit.templates.case_files import read_cases_csv, read_cases_jsonl, write_cases_csv, write_cases_jsonl

_FORMATS = ("csv", "jsonl")
_log = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers the `cases` command and its `export` and `import` sub-commands.

    Args:
        subparsers: The top-level parser's sub-parsers.
    """
    parser = subparsers.add_parser(
        "cases",
        help="export or import a family's test cases as CSV or JSONL",
        description="Exports or imports a family's test cases as CSV (for spreadsheets) or JSONL.",
    )
    actions = parser.add_subparsers(dest="action", required=True)
    export = actions.add_parser(
        "export",
        help="write a family's test cases",
        description="Writes a family's stored test cases to FILE, or to stdout without --out.",
    )
    export.add_argument("--family", required=True, help="template family name")
    export.add_argument("--format", choices=_FORMATS, help="file format (default: from the extension of --out)")
    export.add_argument("--out", type=Path, metavar="FILE", help="file to write (default: stdout)")
    add_templates_dir_option(export)
    export.set_defaults(handler=run_export)
    import_ = actions.add_parser(
        "import",
        help="add or update a family's test cases from a file",
        description="Adds the file's test cases to the family and updates those whose id is stored; "
        "a bad file is reported with its line and column, and nothing is imported.",
    )
    import_.add_argument("--family", required=True, help="template family name")
    import_.add_argument("--format", choices=_FORMATS, help="file format (default: from the extension of FILE)")
    import_.add_argument("file", type=Path, metavar="FILE", help="the .csv or .jsonl file")
    add_templates_dir_option(import_)
    import_.set_defaults(handler=run_import)


def run_export(args: argparse.Namespace) -> int:
    """Writes the family's cases; returns the exit status."""
    file_format = _file_format(args.format, args.out)
    with open_store(args.templates_dir) as store:
        family = store.get_family(name=args.family)
    target = args.out or sys.stdout
    if file_format == "csv":
        write_cases_csv(family.cases, target, variables=_variables(family), candidate_labels=family.candidate_labels)
    else:
        write_cases_jsonl(family.cases, target, candidate_labels=family.candidate_labels)
    if args.out is not None:
        _log.info("Wrote %d test cases of family %r to %s.", len(family.cases), family.name, args.out)
    return 0


def run_import(args: argparse.Namespace) -> int:
    """Reads the file and stores its cases; returns the exit status."""
    file_format = _file_format(args.format, args.file)
    read_cases = read_cases_csv if file_format == "csv" else read_cases_jsonl
    with open_store(args.templates_dir) as store:
        family = store.get_family(name=args.family)
        cases = read_cases(args.file, variables=_variables(family), candidate_labels=family.candidate_labels)
        report = store.import_cases(family=family.name, cases=cases)
    print(
        f"{args.file}: {len(cases)} test cases read, {len(report.cases_changed)} added or updated "
        f"in family {family.name!r}."
    )
    return 0


def _file_format(chosen: str | None, path: Path | None) -> str:
    """Returns the format asked for, else the one the file's extension names.

    Raises:
        InputFileError: If neither names csv or jsonl.
    """
    if chosen is not None:
        return chosen
    if path is None:
        raise InputFileError("Pass --format csv or --format jsonl to say what to write to stdout.")
    suffix = path.suffix.lower().removeprefix(".")
    if suffix not in _FORMATS:
        raise InputFileError(
            f"Cannot tell the format of {path} from its extension; name it .csv or .jsonl, or pass --format."
        )
    return suffix


def _variables(family: FamilyRecord) -> list[str]:
    """Returns the variables of the family's latest version, which every case must fill."""
    return [variable.name for variable in detect_variables(family.versions[-1].text)] if family.versions else []

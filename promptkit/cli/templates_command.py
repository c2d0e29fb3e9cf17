"""`python -m promptkit templates`: the template families in the store.

The store (see `Store.open`) first imports the library folder, which is
idempotent, so edits to the YAML files show up as new versions.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from promptkit.store import FamilyRecord, Store
from promptkit.templates import default_templates_dir, detect_variables


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers the `templates` command.

    Args:
        subparsers: The top-level parser's sub-parsers.
    """
    parser = subparsers.add_parser(
        "templates",
        help="list template families with their versions and test cases",
        description="Lists template families with their versions and test cases.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON (a stable contract) instead of text")
    add_templates_dir_option(parser)
    parser.set_defaults(handler=run)


def add_templates_dir_option(parser: argparse.ArgumentParser) -> None:
    """Adds `--templates-dir`, shared by the commands that read the store."""
    parser.add_argument(
        "--templates-dir",
        type=Path,
        default=None,
        help="library folder imported into the store first "
        "(default: PROMPTKIT_TEMPLATES_DIR, else the repository's templates/)",
    )


def open_store(templates_dir: Path | None) -> Store:
    """Opens the store from the environment and imports the library into it.

    Args:
        templates_dir: The library folder; None for the default.

    Returns:
        The open store; the caller closes it.
    """
    store = Store.open()
    try:
        store.import_library(templates_dir=templates_dir or default_templates_dir())
    except BaseException:
        store.close()
        raise
    return store


def run(args: argparse.Namespace) -> int:
    """Prints the families; returns the exit status."""
    with open_store(args.templates_dir) as store:
        families = store.list_families()
        if args.json:
            print(json.dumps({"store": store.url, "families": [_family_json(f) for f in families]}, indent=2))
            return 0
    for family in families:
        print(f"{family.name}: {len(family.versions)} versions, {len(family.cases)} cases")
        for version in family.versions:
            label = f" [{version.label}]" if version.label else ""
            first_line = version.note.splitlines()[0] if version.note else ""
            print(f"  v{version.number}{label} by {version.author or '?'}: {first_line}")
    return 0


def _family_json(family: FamilyRecord) -> dict[str, Any]:
    """Converts a family to the JSON contract of `templates --json`."""
    return {
        "name": family.name,
        "description": family.description,
        "candidate_labels": list(family.candidate_labels),
        "versions": [
            {
                "number": version.number,
                "label": version.label,
                "author": version.author,
                "note": version.note,
                "parent": version.parent,
                "created_at": version.created_at.isoformat(),
                "generation": version.generation.to_dict(),
                "variables": [
                    {"name": v.name, "line": v.line, "column": v.column, "multiline": v.multiline}
                    for v in detect_variables(version.text)
                ],
                "text": version.text,
            }
            for version in family.versions
        ],
        "cases": [case.to_dict(family_candidates=family.candidate_labels) for case in family.cases],
        "review_criteria": [criterion.to_dict() for criterion in family.review_criteria],
    }

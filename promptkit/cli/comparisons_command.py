"""`python -m promptkit comparisons --json`: the stored comparisons, newest first."""

from __future__ import annotations

import argparse
import json

from promptkit.cli.templates_command import add_templates_dir_option, open_store


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers the `comparisons` command.

    Args:
        subparsers: the top-level parser's sub-parsers.
    """
    parser = subparsers.add_parser(
        "comparisons",
        help="list the stored comparisons",
        description='Prints {"comparisons": [{"id", "family", "versions", "cases", "model", "created_at", '
        '"created_by", "finished_at"}]}, newest first.',
    )
    parser.add_argument("--family", default=None, help="only this family's comparisons")
    parser.add_argument("--json", action="store_true", required=True, help="print one JSON object")
    add_templates_dir_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Prints the JSON contract; returns 0."""
    with open_store(args.templates_dir) as store:
        comparisons = store.list_comparisons(family=args.family)
    print(json.dumps({"comparisons": [comparison.to_json() for comparison in comparisons]}, ensure_ascii=False))
    return 0

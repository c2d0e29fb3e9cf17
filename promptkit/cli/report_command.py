"""`python -m promptkit report --comparison ID --html OUT`: a stored comparison's report, without the model."""

from __future__ import annotations

import argparse
from pathlib import Path

from promptkit.cli.acting_user import acting_person
from promptkit.cli.templates_command import add_templates_dir_option, open_store
from promptkit.workflows import write_comparison_report


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers the `report` command.

    Args:
        subparsers: the top-level parser's sub-parsers.
    """
    parser = subparsers.add_parser(
        "report",
        help="write a stored comparison's offline HTML report",
        description="Builds the report from the store alone (results, stored salience, reviews); "
        "no model is loaded. `comparisons --json` lists the ids.",
    )
    parser.add_argument("--comparison", type=int, required=True, metavar="ID", help="the comparison's id")
    parser.add_argument("--html", type=Path, required=True, metavar="OUT", help="write the HTML report to OUT")
    parser.add_argument(
        "--with-matrices", action="store_true",
        help="also the token-by-token matrices stored for the comparison's runs (computed on the Salience page)",
    )
    add_templates_dir_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Writes the report; returns 0."""
    with open_store(args.templates_dir) as store:
        write_comparison_report(
            store, args.comparison, args.html, actor=acting_person(store).key, with_matrices=args.with_matrices
        )
    return 0

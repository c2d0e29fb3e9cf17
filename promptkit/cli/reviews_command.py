"""`python -m promptkit reviews --task ID --json`: a review task's verdicts put together."""

from __future__ import annotations

import argparse
import json

from promptkit.cli.acting_user import acting_person
from promptkit.cli.templates_command import add_templates_dir_option, open_store
from promptkit.workflows import task_summary


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers the `reviews` command.

    Args:
        subparsers: the top-level parser's sub-parsers.
    """
    parser = subparsers.add_parser(
        "reviews",
        help="a review task's results: win rates or rubric scores, agreement, progress, disputed items",
        description='Prints {"task_id", "comparison_id", "mode", "pairs": [{"a", "b", "wins_a", "wins_b", "ties", '
        '"both_bad", "win_rate_a": {"value", "low", "high"}, "p_value"}], "rubric", "agreement": '
        '{"krippendorff_alpha", "n_items", "n_reviewers"}, "reviewers": [{"name", "key", "done", "total"}], '
        '"disputed": [{"case", "a", "b", "verdicts"}]}, as PROMPTKIT_USER sees it. A rubric task gives '
        '"rubric": {criterion: {"vN": {"mean", "n"}}}, ordinal alpha, "disputed": [{"case", "version", "spread", '
        '"scores"}] and "criteria".',
    )
    parser.add_argument("--task", type=int, required=True, metavar="ID", help="the review task's id")
    parser.add_argument("--json", action="store_true", required=True, help="print one JSON object")
    add_templates_dir_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Prints the JSON contract; returns 0."""
    with open_store(args.templates_dir) as store:
        summary = task_summary(store, actor=acting_person(store).key, task_id=args.task)
    print(json.dumps(summary, ensure_ascii=False))
    return 0

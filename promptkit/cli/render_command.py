"""`python -m promptkit render`: print one version rendered with given values."""

from __future__ import annotations

import argparse
import sys

from promptkit.cli.templates_command import add_templates_dir_option, open_store
from promptkit.errors import TemplateError
from promptkit.templates import render_template


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers the `render` command.

    Args:
        subparsers: The top-level parser's sub-parsers.
    """
    parser = subparsers.add_parser(
        "render",
        help="print a template version rendered with a test case or values",
        description="Prints the rendered prompt exactly, with no newline added.",
    )
    parser.add_argument("--family", required=True, help="template family name")
    parser.add_argument("--version", required=True, help="version number or label")
    values = parser.add_mutually_exclusive_group(required=True)
    values.add_argument("--case", help="id of a test case of the family supplying the values")
    values.add_argument(
        "--var",
        action="append",
        metavar="NAME=VALUE",
        help="a variable's value; repeat for each variable",
    )
    add_templates_dir_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Renders and prints the prompt; returns the exit status."""
    with open_store(args.templates_dir) as store:
        version = store.get_version(family=args.family, version=args.version)
        if args.case is not None:
            values = dict(store.get_case(family=args.family, case_id=args.case).values)
        else:
            values = parse_assignments(args.var)
    rendered = render_template(version.text, values)
    sys.stdout.write(rendered.text)
    sys.stdout.flush()
    return 0


def parse_assignments(assignments: list[str]) -> dict[str, str]:
    """Parses `NAME=VALUE` arguments (the value may contain "=").

    Args:
        assignments: The raw arguments.

    Returns:
        Values by name.

    Raises:
        TemplateError: If an argument has no "=" or an empty name.
    """
    values: dict[str, str] = {}
    for assignment in assignments:
        name, equals, value = assignment.partition("=")
        if not equals or not name.strip():
            raise TemplateError(f"--var {assignment!r} must look like NAME=VALUE.")
        values[name.strip()] = value
    return values

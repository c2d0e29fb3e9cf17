"""Command-line interface: `python -m promptkit COMMAND ...`.

Each command lives in its own module exposing `add_parser(subparsers)`,
which registers an argparse sub-parser whose `handler` default takes the
parsed arguments and returns the exit status. JSON printed by `--json` is a
contract documented in README.md: add keys, never rename or remove them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from promptkit.errors import PromptkitError

_COMMAND_MODULES = (
    "promptkit.cli.prepare_command",
    "promptkit.cli.generate_command",
    "promptkit.cli.salience_command",
    "promptkit.cli.templates_command",
    "promptkit.cli.render_command",
    "promptkit.cli.compare_command",
)


def build_parser() -> argparse.ArgumentParser:
    """Builds the top-level parser with every available command."""
    parser = argparse.ArgumentParser(
        prog="python -m promptkit",
        description="Prompt-template iteration on Gemma, headless.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue  # A command not built yet is simply not offered.
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command and returns its exit status.

    Errors meant for users are printed to stderr as one paragraph, with exit
    status 2; nothing else is printed to stdout in that case.
    """
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except PromptkitError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted.", file=sys.stderr)
        return 130

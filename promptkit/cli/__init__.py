"""Command-line interface: `python -m promptkit COMMAND ...`.

Each command lives in its own module exposing `add_parser(subparsers)`,
which registers an argparse sub-parser whose `handler` default takes the
parsed arguments and returns the exit status. JSON printed by `--json` is a
contract documented in README.md: add keys, never rename or remove them.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence

from promptkit.errors import PromptkitError
from promptkit.native_log_filter import VERBOSE_VARIABLE, filter_native_logs

_COMMAND_MODULES = (
    "promptkit.cli.prepare_command",
    "promptkit.cli.generate_command",
    "promptkit.cli.salience_command",
    "promptkit.cli.attribute_command",
    "promptkit.cli.templates_command",
    "promptkit.cli.cases_command",
    "promptkit.cli.render_command",
    "promptkit.cli.compare_command",
    "promptkit.cli.comparisons_command",
    "promptkit.cli.report_command",
    "promptkit.cli.reviews_command",
    "promptkit.cli.tune_command",
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
    for command in subparsers.choices.values():
        command.add_argument(
            "--verbose",
            action="store_true",
            help="also show debug messages and TensorFlow's own log lines",
        )
    return parser


def main(argv: Sequence[str] | None = None, *, owns_process: bool = False) -> int:
    """Runs one command and returns its exit status.

    Errors meant for users are printed to stderr as one paragraph, with exit
    status 2; nothing else is printed to stdout in that case.

    Args:
        argv: the arguments; default `sys.argv[1:]`.
        owns_process: True when this is the program (`python -m promptkit`):
            then, unless `--verbose`, TensorFlow's native log lines are kept
            off stderr, which changes the process's file descriptor 2.

    Returns:
        The exit status.
    """
    args = build_parser().parse_args(argv)
    if args.verbose:
        os.environ[VERBOSE_VARIABLE] = "1"
    if owns_process:
        filter_native_logs()
    _log_to_stderr(logging.DEBUG if args.verbose else logging.INFO)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except PromptkitError as error:
        logging.getLogger(__name__).error("%s", error)
        return 2
    except KeyboardInterrupt:
        logging.getLogger(__name__).error("interrupted.")
        return 130


def _log_to_stderr(level: int) -> None:
    """Sends promptkit's log records to stderr: plain text for information, prefixed otherwise."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_PlainInfoFormatter())
    logger = logging.getLogger("promptkit")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


class _PlainInfoFormatter(logging.Formatter):
    """Information as is ("Loading gemma3-270m…"), other levels as "warning: …"."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno == logging.INFO:
            return message
        text = f"{record.levelname.lower()}: {message}"
        return f"{text}\n{self.formatException(record.exc_info)}" if record.exc_info else text

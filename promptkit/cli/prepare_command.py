"""`python -m promptkit prepare`: converts the embedded model into the cache."""

from __future__ import annotations

import argparse
import logging

_log = logging.getLogger(__name__)

def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers the `prepare` command."""
    parser = subparsers.add_parser(
        "prepare",
        help="convert the embedded Gemma into the model cache (done once; later runs are instant)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Ensures the embedded preset exists and prints its directory."""
    del args
    from promptkit.models.loader import embedded_preset_dir

    print(embedded_preset_dir(progress=_log.info))
    return 0

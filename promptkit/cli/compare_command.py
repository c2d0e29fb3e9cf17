"""`python -m promptkit compare`: versions × cases matrix, gated on pass rate.

Contract: `--json OUT` writes the comparison JSON to OUT (with the stored
comparison's `comparison_id`), `--html OUT` the offline report, and the exit status is 1 when any version's
pass rate is below `--min-pass-rate`, so a team's CI can gate prompt
changes. Progress goes to stderr as one updating line; stdout gets a short
per-version summary.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from promptkit.cli.acting_user import acting_person
from promptkit.cli.templates_command import add_templates_dir_option, open_store
from promptkit.errors import PromptkitError
from promptkit.evaluation.cases import load_cases_file, select_versions
from promptkit.evaluation.figures import version_name
from promptkit.evaluation.matrix import DEFAULT_BATCH_SIZE
from promptkit.evaluation.results import MatrixResult
from promptkit.store import Store
from promptkit.templates import TestCase
from promptkit.workflows import (
    ComparisonRequest,
    check_request,
    run_comparison,
    write_comparison_report,
)

_log = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers the `compare` command.

    Args:
        subparsers: the top-level parser's sub-parsers.
    """
    parser = subparsers.add_parser(
        "compare",
        help="compare template versions over test cases",
        description="Runs every version on every case, checks the outcomes, scores the candidate "
        "labels and writes JSON / HTML. Without --model, uses the embedded Gemma 3 270M.",
    )
    parser.add_argument("--family", required=True, help="template family name")
    parser.add_argument("--versions", required=True, metavar="A,B[,C…]", help="version numbers or labels")
    parser.add_argument("--cases", type=Path, metavar="FILE", help="YAML case file (default: the family's cases)")
    parser.add_argument("--samples", type=int, default=0, metavar="K", help="seeded samples per cell for stability")
    parser.add_argument("--model", default=None, metavar="NAME")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the comparison JSON to OUT")
    parser.add_argument("--html", type=Path, metavar="OUT", help="write the offline HTML report to OUT")
    parser.add_argument(
        "--min-pass-rate", type=float, default=None, metavar="R", help="exit 1 if any version passes less (0-1)"
    )
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, metavar="N", help="prompts per model call")
    add_templates_dir_option(parser)
    parser.set_defaults(handler=run)


def _progress(done: float, total: int) -> None:
    end = "\n" if done >= total else ""
    print(f"\rcompare: {int(done)}/{total} steps", end=end, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Runs the comparison; returns 0, or 1 when a version misses `--min-pass-rate`."""
    if args.min_pass_rate is not None and not 0 <= args.min_pass_rate <= 1:
        raise PromptkitError(f"--min-pass-rate must be between 0 and 1 (got {args.min_pass_rate}).")
    refs = [ref.strip() for ref in args.versions.split(",") if ref.strip()]
    with open_store(args.templates_dir) as store:
        request = ComparisonRequest(
            family=args.family,
            versions=refs,
            cases=_cases_file(store, args.cases, family=args.family, refs=refs) if args.cases is not None else None,
            samples=args.samples,
            batch_size=args.batch_size,
        )
        actor = acting_person(store).key
        check_request(store, request, actor=actor)
        # Imported late: loading TensorFlow takes seconds, and argument errors should not wait.
        from promptkit.models.loader import load_model
        from promptkit.models.scoring import ContinuationScorer

        model = load_model(args.model, progress=_log.info)
        stored = run_comparison(
            store,
            model,
            request,
            actor=actor,
            scorer=ContinuationScorer(model, batch_size=args.batch_size),
            progress=_progress,
        )
        if args.json is not None:
            data = stored.result.to_json() | {"comparison_id": stored.record.id}
            args.json.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if args.html is not None:
            write_comparison_report(store, stored.record.id, args.html, actor=actor)
    _log.info("Stored as comparison %d.", stored.record.id)
    return _report_gate(stored.result, args.min_pass_rate)


def _cases_file(store: Store, path: Path, *, family: str, refs: list[str]) -> tuple[TestCase, ...]:
    """The cases of a user's file, checked against the family and the versions compared."""
    record = store.get_family(name=family)
    versions = select_versions(tuple(version.as_version() for version in record.versions), refs, family=record.name)
    return load_cases_file(path, family=record.name, candidate_labels=record.candidate_labels, versions=versions)


def _report_gate(result: MatrixResult, min_pass_rate: float | None) -> int:
    """Prints each version's summary; 1 when one misses the minimum pass rate."""
    def fmt(value: float | None) -> str:
        return "–" if value is None else f"{value:.2f}"

    status = 0
    for version in result.versions:
        summary = result.summary[version.number]
        line = (
            f"{version_name(result, version.number)}: pass rate {fmt(summary.pass_rate)}, "
            f"expected-outcome likelihood {fmt(summary.expected_likelihood)}, "
            f"agreement {fmt(summary.agreement)}, errors {summary.errors}"
        )
        # A version with nothing checked cannot show it meets the bar.
        if min_pass_rate is not None and (summary.pass_rate is None or summary.pass_rate < min_pass_rate):
            line += f"  BELOW --min-pass-rate {min_pass_rate:g}"
            status = 1
        print(line)
    return status

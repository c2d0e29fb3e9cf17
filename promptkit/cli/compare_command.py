"""`python -m promptkit compare`: versions × cases matrix, gated on pass rate.

Contract: `--json OUT` writes the comparison JSON to OUT (with the stored
comparison's `comparison_id`), `--html OUT` the offline report, and the exit status is 1 when any version's
pass rate is below `--min-pass-rate`, so a team's CI can gate prompt
changes. Progress goes to stderr as one updating line; stdout gets a short
per-version summary.

`--engine ray` runs the cells on a pool of Ray workers, each holding the
model (`promptkit.evaluation.ray_engine`); `--resume ID` finishes only the
missing cells of a comparison that stopped, with its own versions, cases,
settings and model.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

from promptkit.cli.acting_user import acting_person
from promptkit.cli.templates_command import add_templates_dir_option, open_store
from promptkit.columns import split_column_ref
from promptkit.errors import PromptkitError
from promptkit.evaluation.cases import load_cases_file, select_versions
from promptkit.evaluation.figures import column_name
from promptkit.evaluation.matrix import DEFAULT_BATCH_SIZE, Engine, LocalEngine, Progress
from promptkit.evaluation.ray_engine import RAY_ADDRESS_VARIABLE, RayEngine, ray_address
from promptkit.evaluation.results import MatrixResult
from promptkit.store import Store
from promptkit.templates import TestCase
from promptkit.workflows import (
    ComparisonRequest,
    check_request,
    check_resume,
    resume_comparison,
    run_comparison_on,
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
    parser.add_argument("--family", help="template family name (required unless --resume)")
    parser.add_argument(
        "--versions", metavar="A,B[,C…]",
        help="version numbers or labels, each alone or with a trained adapter, e.g. 2,1+adapter:NAME "
        "(required unless --resume)",
    )
    parser.add_argument("--cases", type=Path, metavar="FILE", help="YAML case file (default: the family's cases)")
    parser.add_argument("--samples", type=int, default=None, metavar="K", help="seeded samples per cell for stability")
    parser.add_argument("--model", default=None, metavar="NAME", help="with --resume, must be the comparison's")
    parser.add_argument(
        "--resume", type=int, default=None, metavar="ID",
        help="finish the missing cells of unfinished comparison ID, with its own versions, cases and settings",
    )
    parser.add_argument(
        "--engine", choices=("local", "ray"), default="local",
        help="where the cells run: this process (default), or a pool of Ray workers that each hold the model",
    )
    parser.add_argument(
        "--ray-address", default=None, metavar="ADDR",
        help=f"with --engine ray: the cluster (default {RAY_ADDRESS_VARIABLE}; `auto` joins the one started here "
        "with `ray start --head`); unset starts a local Ray on this machine",
    )
    parser.add_argument(
        "--workers", type=int, default=None, metavar="N",
        help="with --engine ray: how many workers (default one per GPU, else one per node)",
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the comparison JSON to OUT")
    parser.add_argument("--html", type=Path, metavar="OUT", help="write the offline HTML report to OUT")
    parser.add_argument(
        "--min-pass-rate", type=float, default=None, metavar="R", help="exit 1 if any version passes less (0-1)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, metavar="N",
        help=f"prompts per model call (default {DEFAULT_BATCH_SIZE})",
    )
    add_templates_dir_option(parser)
    parser.set_defaults(handler=run)


def _progress(engine: Engine) -> Progress:
    """The progress line on stderr: steps done, and how many workers are live on Ray."""

    def show(done: float, total: int) -> None:
        end = "\n" if done >= total else ""
        workers = f" ({engine.live_workers} workers live)" if isinstance(engine, RayEngine) else ""
        print(f"\rcompare: {int(done)}/{total} steps{workers}", end=end, file=sys.stderr, flush=True)

    return show


def run(args: argparse.Namespace) -> int:
    """Runs (or resumes) the comparison; returns 0, or 1 when a version misses `--min-pass-rate`."""
    if args.min_pass_rate is not None and not 0 <= args.min_pass_rate <= 1:
        raise PromptkitError(f"--min-pass-rate must be between 0 and 1 (got {args.min_pass_rate}).")
    if args.engine == "local" and (args.ray_address is not None or args.workers is not None):
        raise PromptkitError("--ray-address and --workers go with --engine ray; add it, or leave them out.")
    with open_store(args.templates_dir) as store:
        actor = acting_person(store).key
        request = None if args.resume is not None else _request(store, args)
        if request is None:
            model_name, batch_size = _resumed(store, args, actor=actor)
        else:
            check_request(store, request, actor=actor)
            model_name, batch_size = args.model, request.batch_size
        with _engine(args, model_name, batch_size=batch_size) as engine:
            if request is None:
                stored = resume_comparison(store, engine, args.resume, actor=actor, progress=_progress(engine))
            else:
                stored = run_comparison_on(store, engine, request, actor=actor, progress=_progress(engine))
        if args.json is not None:
            data = stored.result.to_json() | {"comparison_id": stored.record.id}
            args.json.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if args.html is not None:
            write_comparison_report(store, stored.record.id, args.html, actor=actor)
    _log.info("Stored as comparison %d.", stored.record.id)
    return _report_gate(stored.result, args.min_pass_rate)


def _request(store: Store, args: argparse.Namespace) -> ComparisonRequest:
    """The new comparison the arguments ask for."""
    if args.family is None or args.versions is None:
        raise PromptkitError(
            "Name the family and versions to compare (--family F --versions A,B), "
            "or an unfinished comparison to finish (--resume ID)."
        )
    refs = [ref.strip() for ref in args.versions.split(",") if ref.strip()]
    return ComparisonRequest(
        family=args.family,
        versions=refs,
        cases=_cases_file(store, args.cases, family=args.family, refs=refs) if args.cases is not None else None,
        samples=0 if args.samples is None else args.samples,
        batch_size=DEFAULT_BATCH_SIZE if args.batch_size is None else args.batch_size,
    )


def _resumed(store: Store, args: argparse.Namespace, *, actor: str) -> tuple[str, int]:
    """The model and batch size of the comparison `--resume` names, refusing options that would change it."""
    given = [
        f"--{name.replace('_', '-')}"
        for name in ("family", "versions", "cases", "samples", "batch_size")
        if getattr(args, name) is not None
    ]
    if given:
        raise PromptkitError(f"--resume runs the comparison as it was recorded; leave out {', '.join(given)}.")
    record = check_resume(store, args.resume, actor=actor)
    if args.model is not None and args.model != record.model:
        raise PromptkitError(
            f"Comparison {args.resume} was run with {record.model}; resume it with that model (leave out --model)."
        )
    return record.model, int(record.settings.get("batch_size") or DEFAULT_BATCH_SIZE)


@contextlib.contextmanager
def _engine(args: argparse.Namespace, model_name: str | None, *, batch_size: int) -> Iterator[Engine]:
    """The engine asked for: the model loaded here, or a pool of Ray workers that each load it."""
    # Imported late: loading TensorFlow takes seconds, and argument errors should not wait.
    if args.engine == "ray":
        with RayEngine(model_name, address=ray_address(args.ray_address), workers=args.workers, log=_log.info) as pool:
            yield pool
        return
    from promptkit.models.loader import load_model
    from promptkit.models.scoring import ContinuationScorer

    model = load_model(model_name, progress=_log.info)
    yield LocalEngine(model, ContinuationScorer(model, batch_size=batch_size))


def _cases_file(store: Store, path: Path, *, family: str, refs: list[str]) -> tuple[TestCase, ...]:
    """The cases of a user's file, checked against the family and the versions compared."""
    record = store.get_family(name=family)
    version_refs = [split_column_ref(ref)[0] for ref in refs]
    versions = select_versions(tuple(version.as_version() for version in record.versions), version_refs, family=record.name)
    return load_cases_file(path, family=record.name, candidate_labels=record.candidate_labels, versions=versions)


def _report_gate(result: MatrixResult, min_pass_rate: float | None) -> int:
    """Prints each column's summary; 1 when one misses the minimum pass rate."""
    def fmt(value: float | None) -> str:
        return "–" if value is None else f"{value:.2f}"

    status = 0
    for column in result.columns:
        summary = result.summary[column]
        line = (
            f"{column_name(result, column)}: pass rate {fmt(summary.pass_rate)}, "
            f"expected-outcome likelihood {fmt(summary.expected_likelihood)}, "
            f"agreement {fmt(summary.agreement)}, errors {summary.errors}"
        )
        # A version with nothing checked cannot show it meets the bar.
        if min_pass_rate is not None and (summary.pass_rate is None or summary.pass_rate < min_pass_rate):
            line += f"  BELOW --min-pass-rate {min_pass_rate:g}"
            status = 1
        print(line)
    return status

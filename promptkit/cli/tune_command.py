"""`python -m promptkit tune`: train a LoRA adapter on a family's labelled cases.

Contract: `--json` prints the result JSON to stdout (`--json OUT` writes it
to OUT): the adapter's name and model name, the split sizes, the training
history and the test split's metrics before and after (as `compare` gives
them). Progress goes to stderr as one updating line; without `--json`,
stdout gets the before/after metrics and the model name to load.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from promptkit.cli.acting_user import acting_person
from promptkit.cli.templates_command import add_templates_dir_option, open_store
from promptkit.evaluation.cases import load_cases_file
from promptkit.evaluation.outcomes import ClassifierMetrics
from promptkit.models.lora import TrainingProgress, TrainingSettings
from promptkit.store import Store
from promptkit.templates import TestCase, detect_variables
from promptkit.templates.case_files import read_cases_csv, read_cases_jsonl
from promptkit.workflows import TuneRequest, prepare_tuning, run_tuning

_log = logging.getLogger(__name__)
_STDOUT = "-"
_PROGRESS_INTERVAL_S = 0.5


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers the `tune` command.

    Args:
        subparsers: the top-level parser's sub-parsers.
    """
    parser = subparsers.add_parser(
        "tune",
        help="train a LoRA adapter on a family's labelled cases",
        description="Trains a LoRA adapter on the train split of a family's labelled cases, stops early on the "
        "validation split, and scores the test split's labels before and after. The adapter then loads as "
        "model BASE+adapter:NAME (embedded+adapter:NAME on the embedded Gemma). Without --model, trains "
        "on the embedded Gemma 3 270M.",
    )
    defaults = TrainingSettings()
    parser.add_argument("--family", required=True, help="template family name")
    parser.add_argument("--version", default=None, metavar="N", help="prompt version number or label (default: latest)")
    parser.add_argument("--cases", type=Path, metavar="FILE", help="labelled cases: YAML, .csv or .jsonl (default: the family's)")
    parser.add_argument("--name", required=True, metavar="ADAPTER", help="the adapter's name")
    parser.add_argument("--rank", type=int, default=defaults.rank, metavar="R", help="LoRA rank")
    parser.add_argument("--epochs", type=int, default=defaults.epochs, metavar="E", help="most epochs")
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate, metavar="LR")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, metavar="B")
    parser.add_argument("--seed", type=int, default=defaults.seed, metavar="S")
    parser.add_argument(
        "--patience", type=int, default=defaults.patience, metavar="P",
        help="stop after P epochs without a lower validation loss",
    )
    parser.add_argument("--model", default=None, metavar="NAME", help="the base model")
    parser.add_argument(
        "--json", nargs="?", const=_STDOUT, default=None, metavar="OUT",
        help="print the result JSON (to OUT when given)",
    )
    add_templates_dir_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Trains, saves and records the adapter; returns 0."""
    settings = TrainingSettings(
        rank=args.rank,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        seed=args.seed,
        patience=args.patience,
    )
    with open_store(args.templates_dir) as store:
        cases = _cases_file(store, args.cases, family=args.family) if args.cases is not None else None
        request = TuneRequest(family=args.family, name=args.name, version=args.version, cases=cases, settings=settings)
        actor = acting_person(store).key
        prepare_tuning(store, request, actor=actor)
        # Imported late: loading TensorFlow takes seconds, and argument errors should not wait.
        from promptkit.models.loader import load_model

        model = load_model(args.model, progress=_log.info)
        result = run_tuning(store, model, request, actor=actor, progress=_ProgressLine(), status=_log.info)
    data = result.to_json()
    if args.json == _STDOUT:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    if args.json is not None:
        Path(args.json).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"before: {_summary(result.before)}")
    print(f"after:  {_summary(result.after)}")
    print(f"Adapter {result.record.name} saved; load it as model {result.model_name!r}.")
    return 0


class _ProgressLine:
    """Shows training progress on stderr: one line updated at most every half second, kept after each epoch."""

    def __init__(self) -> None:
        self._shown_at = 0.0

    def __call__(self, report: TrainingProgress) -> None:
        epoch_done = report.validation_loss is not None
        if not epoch_done and time.monotonic() - self._shown_at < _PROGRESS_INTERVAL_S:
            return
        self._shown_at = time.monotonic()
        line = f"\rtune: epoch {report.epoch}, step {report.step}/{report.steps}, loss {report.loss:.3f}"
        if epoch_done:
            line += f", validation loss {report.validation_loss:.3f}, macro-F1 {report.validation_macro_f1:.2f}"
        line += f", ~{report.seconds_left:.0f} s left"
        print(line, end="\n" if epoch_done else "", file=sys.stderr, flush=True)


def _summary(metrics: ClassifierMetrics) -> str:
    auc = "–" if metrics.roc_auc is None else f"{metrics.roc_auc:.2f}"
    return f"accuracy {metrics.accuracy:.2f}, macro-F1 {metrics.macro_f1:.2f}, ROC-AUC {auc}, confusion {metrics.confusion}"


def _cases_file(store: Store, path: Path, *, family: str) -> tuple[TestCase, ...]:
    """The cases of a user's file (YAML, CSV or JSONL), checked against the family's latest version."""
    record = store.get_family(name=family)
    if path.suffix.lower() in (".csv", ".jsonl"):
        variables = [variable.name for variable in detect_variables(record.versions[-1].text)] if record.versions else []
        read = read_cases_csv if path.suffix.lower() == ".csv" else read_cases_jsonl
        return read(path, variables=variables, candidate_labels=record.candidate_labels)
    versions = tuple(version.as_version() for version in record.versions)
    return load_cases_file(path, family=record.name, candidate_labels=record.candidate_labels, versions=versions)

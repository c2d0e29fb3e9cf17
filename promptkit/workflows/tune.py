"""Fixing by training: a LoRA adapter on a family's labelled cases, judged on held-out cases.

A case's split is the first word of its id when that is `train`,
`validation` or `test` (`train-vegan-pad-thai`); any other case goes by a
hash of its id: 10% test, 10% validation, the rest train, so adding cases
never moves the others. Each case's prompt is the chosen version rendered
with its values, and its label is scored where `compare` scores it
(`outcome_prefix` with no completion: right after the prompt, or after the
case's output line such as `Recommendation:`). The adapter trains on the
first acceptable label of each training case; the test split's label
probabilities give accuracy, macro-F1, ROC-AUC and the confusion matrix
before (the base model) and after (the base model with the adapter).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import time
from collections.abc import Callable, Sequence
from typing import Any

from promptkit.errors import PromptkitError
from promptkit.evaluation.outcomes import ClassifierMetrics, classifier_metrics, outcome_likelihoods, outcome_prefix
from promptkit.models.gemma_model import GemmaModel
from promptkit.models.loader import adapter_model_name, split_adapter_name, with_adapter
from promptkit.models.lora import (
    EpochRecord,
    TrainingProgress,
    TrainingSettings,
    adapter_dir,
    check_adapter_name,
    labelled_example,
    save_adapter,
    train_adapter,
)
from promptkit.people import Role
from promptkit.store import Store
from promptkit.store.adapters import AdapterRecord
from promptkit.templates import TestCase, render_template

SPLITS = ("train", "validation", "test")
# Fewer training examples of a label than this cannot teach it.
MIN_EXAMPLES_PER_LABEL = 4
# Shares, in twentieths of the hash, of the cases whose id names no split.
_HASHED_TEST, _HASHED_VALIDATION = 2, 2


@dataclasses.dataclass(frozen=True)
class TuneRequest:
    """What the user asked to train.

    Attributes:
        family: the family's name.
        name: the adapter's name.
        version: the prompt version (number or label) whose prompts are
            trained on; None for the family's latest.
        cases: the labelled cases; None for the family's own.
        settings: rank, epochs, learning rate, batch size, seed, patience.
    """

    family: str
    name: str
    version: int | str | None = None
    cases: tuple[TestCase, ...] | None = None
    settings: TrainingSettings = dataclasses.field(default_factory=TrainingSettings)


@dataclasses.dataclass(frozen=True)
class TuningCase:
    """One labelled case, ready to tokenize.

    Attributes:
        case_id: the case's id.
        split: `train`, `validation` or `test`.
        prefix: the text the label follows.
        acceptable: the labels counted right; the first is trained on.
    """

    case_id: str
    split: str
    prefix: str
    acceptable: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class TuningData:
    """A request's cases, checked and split.

    Attributes:
        family: the family's name.
        version: the prompt version's number.
        labels: the candidate labels every case chooses among.
        cases: every case, in order.
    """

    family: str
    version: int
    labels: tuple[str, ...]
    cases: tuple[TuningCase, ...]

    def split(self, name: str) -> tuple[TuningCase, ...]:
        """The cases of one split, in order."""
        return tuple(case for case in self.cases if case.split == name)

    def data_hash(self) -> str:
        """SHA-256 of the labels and every case's id, split, prompt and labels."""
        data = {
            "labels": list(self.labels),
            "cases": [[case.case_id, case.split, case.prefix, list(case.acceptable)] for case in self.cases],
        }
        return hashlib.sha256(json.dumps(data, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclasses.dataclass(frozen=True)
class TuneResult:
    """A trained adapter and how the test split went before and after it.

    Attributes:
        record: the stored adapter.
        model_name: the name that loads it, e.g. `embedded+adapter:NAME`.
        sizes: cases per split.
        history: one record per epoch run.
        step_losses: the training loss after each step, in order.
        before: test-split metrics of the base model.
        after: test-split metrics with the adapter.
        seconds: wall time of the whole job.
    """

    record: AdapterRecord
    model_name: str
    sizes: dict[str, int]
    history: tuple[EpochRecord, ...]
    step_losses: tuple[float, ...]
    before: ClassifierMetrics
    after: ClassifierMetrics
    seconds: float

    def to_json(self) -> dict[str, Any]:
        """The `tune --json` layout."""
        return {
            "adapter": self.record.name,
            "model": self.model_name,
            "base_model": self.record.base_model,
            "family": self.record.family,
            "version": self.record.version,
            "data_hash": self.record.data_hash,
            "settings": dict(self.record.settings),
            **{f"{split}_size": self.sizes[split] for split in SPLITS},
            "epochs_run": len(self.history),
            "best_epoch": self.record.metrics["best_epoch"],
            "history": [record.to_json() for record in self.history],
            "step_losses": list(self.step_losses),
            "test_metrics": {"before": _metrics_json(self.before), "after": _metrics_json(self.after)},
            "seconds": self.seconds,
        }


def suggest_adapter_name(store: Store, family: str) -> str:
    """A free adapter name for a family's next adapter: `FAMILY-1`, `FAMILY-2`, …, made a valid name."""
    stem = re.sub(r"[^a-z0-9._-]+", "-", family.lower()).strip("-._")[:90] or "adapter"
    taken = {record.name for record in store.list_adapters()}
    number = 1
    while f"{stem}-{number}" in taken or adapter_dir(f"{stem}-{number}").exists():
        number += 1
    return f"{stem}-{number}"


def case_split(case_id: str) -> str:
    """The split of a case: the first word of its id if that names one, else by a hash of the id."""
    first, dash, _ = case_id.partition("-")
    if dash and first in SPLITS:
        return first
    bucket = int(hashlib.sha256(case_id.encode("utf-8")).hexdigest(), 16) % 20
    if bucket < _HASHED_TEST:
        return "test"
    return "validation" if bucket < _HASHED_TEST + _HASHED_VALIDATION else "train"


def prepare_tuning(store: Store, request: TuneRequest, *, actor: str) -> TuningData:
    """Checks a request and splits its cases, before any model is loaded.

    Raises:
        PermissionDenied: If the actor is not an editor.
        PromptkitError: A bad setting or name, a name taken, an unknown
            family or version, a case without a label or with a label that
            is not a candidate, cases choosing among different labels, too
            few training examples of a label, or an empty split.
    """
    store.require(actor, Role.EDITOR, action="train an adapter")
    request.settings.check()
    check_adapter_name(request.name)
    if store.find_adapter(request.name) is not None or adapter_dir(request.name).exists():
        raise PromptkitError(f"An adapter named {request.name!r} exists already; choose another name.")
    family = store.get_family(name=request.family)
    if not family.versions:
        raise PromptkitError(f"Family {family.name!r} has no version to render its cases with; save one first.")
    version = store.get_version(family=family.name, version=request.version or family.versions[-1].number)
    cases = family.cases if request.cases is None else request.cases
    labels = _candidate_labels(cases, family.candidate_labels)
    tuning = tuple(
        TuningCase(
            case_id=case.id,
            split=case_split(case.id),
            prefix=outcome_prefix(render_template(version.text, case.values).text, "", line=case.expect.line),
            acceptable=tuple(case.expect.labels),
        )
        for case in cases
        if case.expect is not None
    )
    data = TuningData(family=family.name, version=version.number, labels=labels, cases=tuning)
    _check_splits(data)
    return data


def run_tuning(
    store: Store,
    model: GemmaModel,
    request: TuneRequest,
    *,
    actor: str,
    progress: Callable[[TrainingProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    status: Callable[[str], None] | None = None,
) -> TuneResult:
    """Trains an adapter, saves it, scores the test split before and after, and records it.

    The model itself is never changed, and other sessions keep generating
    with it while this trains (see `promptkit.models.lora`).

    Args:
        store: where the family is read and the adapter recorded.
        model: the base model.
        request: what to train.
        actor: who trains (a person's key); an editor.
        progress: called after every training step and epoch.
        should_stop: polled before every step; True cancels (nothing is saved).
        status: receives a line as each phase starts.

    Returns:
        The recorded adapter and its metrics.

    Raises:
        PermissionDenied: If the actor is not an editor; nothing is run then.
        PromptkitError: A bad request (see `prepare_tuning`), a case longer
            than the model's context, or a base model that has an adapter
            already; nothing is trained then.
        TrainingCancelled: `should_stop` said so.
    """
    started = time.perf_counter()
    say = status or (lambda message: None)
    if split_adapter_name(model.info.name) is not None:
        raise PromptkitError(f"{model.info.name} has an adapter already; train on its base model instead.")
    data = prepare_tuning(store, request, actor=actor)
    examples = {
        split: [
            labelled_example(model, case_id=case.case_id, prefix=case.prefix, labels=data.labels, acceptable=case.acceptable)
            for case in data.split(split)
        ]
        for split in SPLITS
    }
    test = data.split("test")
    say(f"Scoring the {len(test)} test cases with {model.info.name}…")
    before = _test_metrics(model, data, test)
    say(f"Training on {len(examples['train'])} cases, validating on {len(examples['validation'])}…")
    step_losses: list[float] = []

    def record_step(report: TrainingProgress) -> None:
        if report.validation_loss is None:
            step_losses.append(report.loss)
        if progress is not None:
            progress(report)

    adapter = train_adapter(
        model, examples["train"], examples["validation"], request.settings, progress=record_step, should_stop=should_stop
    )
    directory = adapter_dir(request.name)
    save_adapter(adapter, directory)
    try:
        adapted = with_adapter(model, request.name)
        say(f"Scoring the {len(test)} test cases with {adapted.info.name}…")
        after = _test_metrics(adapted, data, test)
        history = [record.to_json() for record in adapter.history]
        record = store.add_adapter(
            name=request.name,
            base_model=model.info.name,
            family=data.family,
            version=data.version,
            data_hash=data.data_hash(),
            rank=request.settings.rank,
            epochs=len(adapter.history),
            seed=request.settings.seed,
            settings=request.settings.to_json(),
            metrics={
                **{f"{split}_size": len(examples[split]) for split in SPLITS},
                "best_epoch": adapter.best_epoch,
                "history": history,
                "step_losses": step_losses,
                "test_metrics": {"before": _metrics_json(before), "after": _metrics_json(after)},
            },
            created_by=actor,
        )
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)  # No adapter files without their record.
        raise
    return TuneResult(
        record=record,
        model_name=adapter_model_name(model.info.name, request.name),
        sizes={split: len(examples[split]) for split in SPLITS},
        history=adapter.history,
        step_losses=tuple(step_losses),
        before=before,
        after=after,
        seconds=time.perf_counter() - started,
    )


def _candidate_labels(cases: Sequence[TestCase], family_labels: tuple[str, ...]) -> tuple[str, ...]:
    """The labels every case chooses among, with each case's labels checked against them."""
    if not cases:
        raise PromptkitError("There are no cases to train on; add labelled cases to the family or pass a case file.")
    unlabelled = [case.id for case in cases if case.expect is None or not case.expect.labels]
    if unlabelled:
        raise PromptkitError(
            f"{len(unlabelled)} case(s) have no expected label ({', '.join(unlabelled[:3])}"
            f"{', …' if len(unlabelled) > 3 else ''}); give each case `expect: labels: [...]` to train on it."
        )
    labelled = [(case, case.expect) for case in cases if case.expect is not None]
    labels = labelled[0][1].candidates or family_labels
    for case, expect in labelled:
        if (expect.candidates or family_labels) != labels:
            raise PromptkitError(
                f"Case {case.id!r} chooses among {list(expect.candidates or family_labels)}, the others among "
                f"{list(labels)}; an adapter learns one set of labels."
            )
        unknown = [label for label in expect.labels if label not in labels]
        if unknown:
            raise PromptkitError(f"Case {case.id!r} expects {unknown[0]!r}, which is not one of the labels {list(labels)}.")
    if len(labels) < 2:
        raise PromptkitError(f"A classifier needs at least two candidate labels (got {list(labels)}).")
    return tuple(labels)


def _check_splits(data: TuningData) -> None:
    """Refuses splits that cannot train, stop early or be judged."""
    for split in ("validation", "test"):
        if not data.split(split):
            raise PromptkitError(
                f"No case falls in the {split} split; name some cases `{split}-…`, or add cases (those whose id "
                "names no split go 10% to test and 10% to validation, by a hash of the id)."
            )
    answers = [case.acceptable[0] for case in data.split("train")]
    taught = [label for label in data.labels if label in {case.acceptable[0] for case in data.cases}]
    if len(taught) < 2:
        raise PromptkitError(f"Every case expects {taught[0]!r}; a classifier needs examples of at least two labels.")
    for label in taught:
        count = answers.count(label)
        if count < MIN_EXAMPLES_PER_LABEL:
            raise PromptkitError(
                f"Only {count} training case(s) expect {label!r}; each label needs at least "
                f"{MIN_EXAMPLES_PER_LABEL}. Add labelled cases (ids starting `train-`)."
            )


def _test_metrics(model: GemmaModel, data: TuningData, test: Sequence[TuningCase]) -> ClassifierMetrics:
    """Accuracy, macro-F1, ROC-AUC and confusion of the model's label probabilities on the test cases."""
    likelihoods = outcome_likelihoods(model.companions.scorer, [case.prefix for case in test], data.labels)
    return classifier_metrics([case.acceptable for case in test], likelihoods, labels=data.labels)


def _metrics_json(metrics: ClassifierMetrics) -> dict[str, Any]:
    """Metrics as `compare` writes them, JSON-ready (lists, not tuples, so they equal their stored copy)."""
    data: dict[str, Any] = json.loads(json.dumps(dataclasses.asdict(metrics)))
    return data

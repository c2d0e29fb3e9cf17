"""Results of a columns × cases matrix: cells, per-column summaries, JSON.

A column is a prompt version, alone or with an adapter (`promptkit.columns`);
a comparison without adapters has one plain column per version, and its
JSON is what it always was.

The JSON layout is the `compare` command's contract: keys may
be added, never renamed or removed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from promptkit.columns import Column, plain_columns
from promptkit.evaluation.checks import CheckResult
from promptkit.evaluation.outcomes import ClassifierMetrics, classifier_metrics
from promptkit.templates import TestCase, Version


@dataclasses.dataclass(frozen=True)
class Cell:
    """One version rendered with one case, completed and checked.

    Attributes:
        version: the version number.
        case: the case id.
        prompt: the rendered prompt; None when rendering failed.
        completion: the greedy (or the version's own setting) completion.
        checks: each expectation part, checked.
        outcome_likelihoods: candidate label → normalised likelihood.
        acceptable: the labels the case counts as right.
        samples: K seeded sampled completions, for stability.
        agreement: share of samples reaching the most common outcome.
        error: why the cell failed (rendering, prompt too long, …), else None.
        adapter: the adapter of its column; None for the model alone.
    """

    version: int
    case: str
    prompt: str | None
    completion: str = ""
    checks: tuple[CheckResult, ...] = ()
    outcome_likelihoods: Mapping[str, float] = dataclasses.field(default_factory=dict)
    acceptable: tuple[str, ...] = ()
    samples: tuple[str, ...] = ()
    agreement: float | None = None
    error: str | None = None
    adapter: str | None = None

    @property
    def column(self) -> Column:
        """The column it belongs to."""
        return Column(self.version, self.adapter)

    @property
    def passed(self) -> bool | None:
        """False on error, else whether every check held; None when nothing is checked."""
        if self.error is not None:
            return False
        if not self.checks:
            return None
        return all(check.passed for check in self.checks)

    @property
    def expected_likelihood(self) -> float | None:
        """Total likelihood of the acceptable labels, when both are known."""
        if not self.acceptable or not self.outcome_likelihoods:
            return None
        return float(sum(self.outcome_likelihoods.get(label, 0.0) for label in self.acceptable))

    def to_json(self) -> dict[str, Any]:
        """The cell in the `compare` JSON layout."""
        return {
            "version": self.version,
            "case": self.case,
            "completion": self.completion,
            "checks": [
                {"name": check.name, "passed": check.passed, "description": check.description} for check in self.checks
            ],
            "outcome_likelihoods": dict(self.outcome_likelihoods),
            "error": self.error,
            "passed": self.passed,
            "expected_likelihood": self.expected_likelihood,
            "agreement": self.agreement,
            "samples": list(self.samples),
            "adapter": self.adapter,
            "column": str(self.column),
        }


@dataclasses.dataclass(frozen=True)
class VersionSummary:
    """How one version did over all cases.

    Attributes:
        pass_rate: share of checked cells that passed (errors fail); None
            when no case has expectations.
        expected_likelihood: mean likelihood of the expected outcome over
            cells that have one.
        agreement: mean agreement rate over sampled cells.
        metrics: classifier metrics over cells with labels and likelihoods.
        errors: cells that failed.
    """

    pass_rate: float | None
    expected_likelihood: float | None
    agreement: float | None
    metrics: ClassifierMetrics | None
    errors: int

    def to_json(self) -> dict[str, Any]:
        """The summary in the `compare` JSON layout."""
        data: dict[str, Any] = {
            "pass_rate": self.pass_rate,
            "expected_likelihood": self.expected_likelihood,
            "agreement": self.agreement,
            "errors": self.errors,
        }
        if self.metrics is not None:
            data["metrics"] = dataclasses.asdict(self.metrics)
        return data


def summarise(cells: Sequence[Cell], *, labels: Sequence[str]) -> VersionSummary:
    """Summarises one version's cells.

    Args:
        cells: the version's cells.
        labels: the candidate labels, for classifier metrics.

    Returns:
        The summary.
    """
    verdicts = [cell.passed for cell in cells if cell.passed is not None]
    expected = [value for cell in cells if (value := cell.expected_likelihood) is not None]
    agreements = [cell.agreement for cell in cells if cell.agreement is not None]
    labelled = [cell for cell in cells if cell.expected_likelihood is not None]
    metrics = None
    if labelled and labels:
        metrics = classifier_metrics(
            [cell.acceptable for cell in labelled], [cell.outcome_likelihoods for cell in labelled], labels=labels
        )
    return VersionSummary(
        pass_rate=float(np.mean(verdicts)) if verdicts else None,
        expected_likelihood=float(np.mean(expected)) if expected else None,
        agreement=float(np.mean(agreements)) if agreements else None,
        metrics=metrics,
        errors=sum(cell.error is not None for cell in cells),
    )


@dataclasses.dataclass(frozen=True)
class MatrixResult:
    """A whole comparison: every cell and each column's summary.

    Attributes:
        model: the model's name (an adapter column's cells ran with this
            model and the column's adapter merged in).
        family: the template family's name.
        versions: the versions of the columns, each once, in the order asked.
        cases: the cases, in order.
        cells: one per column × case, column-major.
        summary: column → summary.
        labels: the candidate labels scored.
        columns: the columns compared, the baseline first; empty means one
            plain column per version (and is filled in so).
    """

    model: str
    family: str
    versions: tuple[Version, ...]
    cases: tuple[TestCase, ...]
    cells: tuple[Cell, ...]
    summary: Mapping[Column, VersionSummary]
    labels: tuple[str, ...] = ()
    columns: tuple[Column, ...] = ()

    def __post_init__(self) -> None:
        if not self.columns:
            object.__setattr__(self, "columns", plain_columns(tuple(version.number for version in self.versions)))
        # A summary keyed by version numbers (as before adapter columns) is keyed by their plain columns.
        keys: list[Column | int] = list(self.summary)
        if any(not isinstance(key, Column) for key in keys):
            summary = {key if isinstance(key, Column) else Column(key): value for key, value in self.summary.items()}
            object.__setattr__(self, "summary", summary)

    def cell(self, column: Column | int, case: str) -> Cell:
        """The cell of a column (a version number: its plain column) and case id."""
        wanted = column if isinstance(column, Column) else Column(column)
        for cell in self.cells:
            if cell.column == wanted and cell.case == case:
                return cell
        raise KeyError((wanted, case))

    def version(self, column: Column) -> Version:
        """The prompt version of a column."""
        return next(version for version in self.versions if version.number == column.version)

    def to_json(self) -> dict[str, Any]:
        """The result in the `compare` JSON layout, plus extra keys."""
        return {
            "model": self.model,
            "family": self.family,
            "versions": [version.number for version in self.versions],
            "version_labels": {str(version.number): version.label for version in self.versions},
            "cases": [case.id for case in self.cases],
            "labels": list(self.labels),
            "cells": [cell.to_json() for cell in self.cells],
            "summary": {str(column): summary.to_json() for column, summary in self.summary.items()},
            "columns": [str(column) for column in self.columns],
        }

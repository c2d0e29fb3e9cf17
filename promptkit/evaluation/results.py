"""Results of a versions × cases matrix: cells, per-version summaries, JSON.

The JSON layout is the `compare` command's contract (issue 6 §3): keys may
be added, never renamed or removed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

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
    """A whole comparison: every cell and each version's summary.

    Attributes:
        model: the model's name.
        family: the template family's name.
        versions: the versions compared, in the order asked.
        cases: the cases, in order.
        cells: one per version × case, version-major.
        summary: version number → summary.
        labels: the candidate labels scored.
    """

    model: str
    family: str
    versions: tuple[Version, ...]
    cases: tuple[TestCase, ...]
    cells: tuple[Cell, ...]
    summary: Mapping[int, VersionSummary]
    labels: tuple[str, ...] = ()

    def cell(self, version: int, case: str) -> Cell:
        """The cell of a version number and case id."""
        for cell in self.cells:
            if cell.version == version and cell.case == case:
                return cell
        raise KeyError((version, case))

    def to_json(self) -> dict[str, Any]:
        """The result in the `compare` JSON layout (issue 6 §3), plus extra keys."""
        return {
            "model": self.model,
            "family": self.family,
            "versions": [version.number for version in self.versions],
            "version_labels": {str(version.number): version.label for version in self.versions},
            "cases": [case.id for case in self.cases],
            "labels": list(self.labels),
            "cells": [cell.to_json() for cell in self.cells],
            "summary": {str(number): summary.to_json() for number, summary in self.summary.items()},
        }

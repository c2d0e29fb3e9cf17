"""The versions × cases matrix: batching, failing cells, progress, store, summaries."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pytest

from promptkit.columns import Column
from promptkit.errors import PromptError
from promptkit.evaluation.matrix import run_matrix, version_settings
from promptkit.generation import Completion, GenerationSettings, StopReason
from promptkit.models.api import ModelInfo
from promptkit.models.gemma_model import GemmaModel
from promptkit.models.scoring import ContinuationScorer
from promptkit.store import Store
from promptkit.templates import TestCase


class FakeModel:
    """Answers "Avoid." for soups, "Likely good." otherwise; refuses long prompts."""

    info = ModelInfo("fake", "fake", "CPU", "float32", 100, 0.0)

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def tokenize(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def token_spans(self, ids, *, offset=0, source=None):
        return []

    def generate(self, prompts: Sequence[str], *, settings: GenerationSettings, on_progress=None) -> list[Completion]:
        self.batches.append(list(prompts))
        if on_progress is not None:
            on_progress(0.5)  # Half-way through decoding, before any failure below.
        if any(len(prompt) > 100 for prompt in prompts):
            raise PromptError("The prompt exceeds fake's context of 100 tokens.")
        outputs = []
        for prompt in prompts:
            answer = " Avoid." if "soup" in prompt.lower() else " Likely good."
            if not settings.greedy and settings.seed == 1 and "Analyze" in prompt:
                answer = " Maybe."  # Version 2 disagrees with itself under sampling.
            outputs.append(Completion(prompt, answer, (), StopReason.STOP_SEQUENCE, {"total_s": 0.0}))
        return outputs


class FakeScorer:
    """Prefers " Avoid" after prompts about soup."""

    def score(self, requests):
        return [-1.0 if ("soup" in prefix.lower()) == (text == " Avoid") else -3.0 for prefix, text in requests]


def _cases(mini_family) -> list[TestCase]:
    too_long = TestCase("huge", {"dish": "x" * 200}, mini_family.cases[0].expect)
    return [*mini_family.cases, too_long]


def test_cells_are_batched_across_versions(mini_family) -> None:
    model = FakeModel()
    result = run_matrix(model, mini_family, versions=mini_family.versions, cases=mini_family.cases, batch_size=8)
    assert len(model.batches) == 1 and len(model.batches[0]) == 4
    assert [(cell.version, cell.case) for cell in result.cells] == [(1, "soup"), (1, "bread"), (2, "soup"), (2, "bread")]


def test_failing_cell_is_marked_and_the_rest_complete(mini_family) -> None:
    result = run_matrix(FakeModel(), mini_family, versions=mini_family.versions, cases=_cases(mini_family), scorer=FakeScorer())
    huge = result.cell(1, "huge")
    assert huge.error is not None and "context" in huge.error and huge.passed is False
    soup = result.cell(2, "soup")
    assert soup.error is None and soup.completion == " Avoid." and soup.passed is True
    assert soup.outcome_likelihoods["Avoid"] > 0.8
    summary = result.summary[Column(1)]
    assert summary.errors == 1
    assert summary.pass_rate == pytest.approx(2 / 3)
    assert summary.expected_likelihood == pytest.approx(1 / (1 + math.exp(-2)))


def test_render_error_is_a_cell_error(mini_family) -> None:
    missing = TestCase("missing", {}, None)
    result = run_matrix(FakeModel(), mini_family, versions=mini_family.versions[:1], cases=[missing])
    assert "dish" in result.cell(1, "missing").error
    assert result.cell(1, "missing").prompt is None


def test_progress_counts_up_to_the_total(mini_family) -> None:
    calls: list[tuple[int, int]] = []
    run_matrix(
        FakeModel(), mini_family, versions=mini_family.versions, cases=_cases(mini_family),
        scorer=FakeScorer(), samples=2, batch_size=2, progress=lambda done, total: calls.append((done, total)),
    )
    done = [d for d, _ in calls]
    assert done == sorted(done)
    assert {t for _, t in calls} == {6 * (1 + 2) + 6}
    assert calls[-1][0] == calls[-1][1]
    # Batches of 2 report half of a batch (one completion) before they finish,
    # including the one that fails and is retried one prompt at a time.
    assert 1.0 in done and len(done) == len(set(done))


def test_progress_moves_inside_a_batch(mini_family) -> None:
    calls: list[float] = []
    run_matrix(
        FakeModel(), mini_family, versions=mini_family.versions, cases=mini_family.cases,
        batch_size=8, progress=lambda done, total: calls.append(done),
    )
    assert calls[0] == 0 and calls[-1] == 4
    assert 2.0 in calls  # Half of the one batch of four, before it finished.


def test_stability_agreement_per_version(mini_family) -> None:
    result = run_matrix(FakeModel(), mini_family, versions=mini_family.versions, cases=mini_family.cases, samples=2)
    assert result.summary[Column(1)].agreement == 1.0
    assert result.summary[Column(2)].agreement == 0.5
    assert len(result.cell(2, "soup").samples) == 2


def test_every_cell_is_saved_to_the_store(mini_family, templates_dir: Path, tmp_path: Path) -> None:
    with Store.open(url=f"sqlite:///{tmp_path / 'store.db'}") as store:
        store.import_library(templates_dir=templates_dir)
        run_matrix(FakeModel(), mini_family, versions=mini_family.versions, cases=_cases(mini_family), store=store)
        runs = store.list_runs(family="mini")
    assert len(runs) == 6
    by_key = {(run.version, run.variables["dish"][:5]): run for run in runs}
    soup = by_key[(2, "Onion")]
    assert soup.as_completion() == Completion(soup.prompt, " Avoid.", (), StopReason.STOP_SEQUENCE, {"total_s": 0.0})
    assert soup.case_id == "soup" and soup.generation == version_settings(mini_family.versions[1]).to_dict()
    huge = by_key[(1, "xxxxx")]
    assert huge.error is not None and huge.case_id is None  # Not a stored case.
    assert huge.as_completion() is None and huge.prompt and huge.seed is None


def test_tiny_model_end_to_end(tiny_gemma3: GemmaModel, mini_family) -> None:
    result = run_matrix(
        tiny_gemma3, mini_family, versions=mini_family.versions, cases=mini_family.cases,
        scorer=ContinuationScorer(tiny_gemma3), samples=2,
    )
    assert all(cell.error is None for cell in result.cells)
    for cell in result.cells:
        assert set(cell.outcome_likelihoods) == {"Avoid", "Likely good"}
        assert sum(cell.outcome_likelihoods.values()) == pytest.approx(1.0)
        assert len(cell.samples) == 2
    data = result.to_json()
    assert set(data) >= {"model", "versions", "cases", "cells", "summary"}
    assert set(data["summary"]["1"]) >= {"pass_rate", "expected_likelihood", "agreement"}
    # Greedy completions in the matrix equal the model's own one-prompt output.
    alone = tiny_gemma3.generate([result.cell(2, "soup").prompt], settings=GenerationSettings(max_new_tokens=6))
    assert result.cell(2, "soup").completion == alone[0].text

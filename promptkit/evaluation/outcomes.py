"""Sampling-free outcome likelihoods and classifier metrics ("LLM as classifier").

The model's summed log-probability of each full candidate (e.g. ` Avoid`,
` You have to try it`) after a prefix, normalised over the candidates, says
how likely each outcome is without sampling. Over a labelled case set those
likelihoods give accuracy, macro F1, one-vs-rest ROC-AUC and a confusion
matrix and a reliability curve, all computed here in numpy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from promptkit.evaluation.calibration import Calibration, reliability
from promptkit.models.api import CandidateScorer


def outcome_prefix(prompt: str, completion: str, *, line: str | None) -> str:
    """The text after which the candidate outcomes are scored.

    Args:
        prompt: the rendered prompt.
        completion: the generated completion ("" to score right after the prompt).
        line: the named output line, e.g. `Recommendation:`; None scores the
            candidates as the next tokens after the prompt.

    Returns:
        Prompt and completion up to and including the named line's prefix.
        When neither has that line, it is appended on a new line after the
        completion's first line (the model's own analysis), so every cell
        still gets comparable likelihoods.
    """
    if line is None:
        return prompt
    text = prompt + completion
    search_from = prompt.rfind("\n") + 1  # The named line may start in the prompt.
    at = 0
    for candidate in text[search_from:].splitlines(keepends=True):
        stripped = candidate.lstrip()
        if stripped.startswith(line):
            start = search_from + at + (len(candidate) - len(stripped))
            return text[: start + len(line)]
        at += len(candidate)
    first_line = completion.split("\n", 1)[0]
    return f"{prompt}{first_line.rstrip()}\n{line}"


def candidate_text(prefix: str, label: str) -> str:
    """The continuation that spells `label` after `prefix`: a space follows a colon."""
    return f" {label}" if prefix.endswith(":") else label


def normalise(logprobs: Mapping[str, float]) -> dict[str, float]:
    """Turns summed log-probabilities into probabilities over the candidates.

    Args:
        logprobs: label → summed log-probability.

    Returns:
        label → probability; the values sum to 1.
    """
    labels = list(logprobs)
    values = np.array([logprobs[label] for label in labels], dtype=np.float64)
    weights = np.exp(values - values.max())
    return dict(zip(labels, (weights / weights.sum()).tolist()))


def outcome_likelihoods(
    scorer: CandidateScorer, prefixes: Sequence[str], candidates: Sequence[str]
) -> list[dict[str, float]]:
    """Normalised likelihood of each candidate after each prefix, in one scoring call.

    Args:
        scorer: scores `(prefix, continuation)` pairs.
        prefixes: one per cell.
        candidates: the labels, e.g. `("Avoid", "Likely good")`.

    Returns:
        One label → probability mapping per prefix.
    """
    requests = [(prefix, candidate_text(prefix, label)) for prefix in prefixes for label in candidates]
    scores = scorer.score(requests) if requests else []
    width = len(candidates)
    return [
        normalise(dict(zip(candidates, scores[row * width : (row + 1) * width])))
        for row in range(len(prefixes))
    ]


@dataclasses.dataclass(frozen=True)
class ClassifierMetrics:
    """How well the likeliest candidate matches the labelled answers.

    Attributes:
        labels: the classes, in the confusion matrix's order.
        accuracy: share of cases whose likeliest label is acceptable.
        macro_f1: F1 averaged over classes.
        roc_auc: one-vs-rest ROC-AUC averaged over classes that have both
            positive and negative cases; None when no class has.
        confusion: `confusion[i][j]` counts cases of true class i predicted j.
        calibration: the likeliest label's probability against how often it
            is right (`promptkit.evaluation.calibration`); None without cases.
    """

    labels: tuple[str, ...]
    accuracy: float
    macro_f1: float
    roc_auc: float | None
    confusion: list[list[int]]
    calibration: Calibration | None = None


def classifier_metrics(
    acceptable: Sequence[Sequence[str]], likelihoods: Sequence[Mapping[str, float]], *, labels: Sequence[str]
) -> ClassifierMetrics:
    """Scores likelihoods against labelled cases.

    Args:
        acceptable: per case, the labels counted right (a case may accept
            `Avoid` or `Not suitable for you`).
        likelihoods: per case, label → probability.
        labels: every candidate label.

    Returns:
        The metrics. A case's true class is its predicted label when that
        is acceptable, else its first acceptable label.
    """
    labels = tuple(labels)
    index = {label: i for i, label in enumerate(labels)}
    probabilities = np.array([[row.get(label, 0.0) for label in labels] for row in likelihoods], dtype=np.float64)
    predicted = probabilities.argmax(axis=1) if len(probabilities) else np.zeros(0, dtype=int)
    truth = np.array(
        [p if labels[p] in ok else index[ok[0]] for p, ok in zip(predicted, acceptable)], dtype=int
    )
    confusion = np.zeros((len(labels), len(labels)), dtype=int)
    np.add.at(confusion, (truth, predicted), 1)
    accuracy = float(np.mean(truth == predicted)) if len(truth) else 0.0
    return ClassifierMetrics(
        labels=labels,
        accuracy=accuracy,
        macro_f1=macro_f1(confusion),
        roc_auc=roc_auc_ovr(truth, probabilities),
        confusion=confusion.tolist(),
        calibration=reliability(
            probabilities.max(axis=1).tolist() if len(probabilities) else [], (truth == predicted).tolist()
        ),
    )


def macro_f1(confusion: np.ndarray) -> float:
    """F1 averaged over the classes that occur as truth or prediction.

    Args:
        confusion: `(classes, classes)` counts, rows true, columns predicted.
    """
    true_positive = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(axis=0)
    actual = confusion.sum(axis=1)
    present = (predicted + actual) > 0
    if not present.any():
        return 0.0
    f1 = 2 * true_positive[present] / (predicted[present] + actual[present])
    return float(f1.mean())


def binary_roc_auc(positive: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC-AUC as the Mann-Whitney statistic; tied scores count half.

    Args:
        positive: `(cases,)` booleans.
        scores: `(cases,)` the positive class's scores.

    Returns:
        The area, or None when there are no positives or no negatives.
    """
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    start = 0
    while start < len(scores):  # Average ranks over runs of tied scores.
        end = start
        while end + 1 < len(scores) and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def roc_auc_ovr(truth: np.ndarray, probabilities: np.ndarray) -> float | None:
    """One-vs-rest ROC-AUC averaged over the classes where it is defined.

    Args:
        truth: `(cases,)` true class indices.
        probabilities: `(cases, classes)`.
    """
    areas = [
        area
        for column in range(probabilities.shape[1] if probabilities.ndim == 2 else 0)
        if (area := binary_roc_auc(truth == column, probabilities[:, column])) is not None
    ]
    return float(np.mean(areas)) if areas else None

"""Step scores: what the model thought at each token of a completion.

For every completion token: its probability, the entropy of the model's
next-token distribution there, the token's rank in it, and the likeliest
alternatives. The places where the completion could easily have gone
another way ("forks") are where a prompt fix has to act. Scores come from
`promptkit.models.scoring.ContinuationScorer.step_scores`; this module is
plain Python (the chart is in `promptkit.step_figures`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

FORK_PROBABILITY = 0.5


@dataclasses.dataclass(frozen=True)
class Alternative:
    """A token the model could have written at a step, and its log-probability."""

    id: int
    text: str
    logprob: float


@dataclasses.dataclass(frozen=True)
class StepScore:
    """One completion token and the model's distribution where it was written.

    Attributes:
        id: the token id.
        text: its text; `start`, `end` its character offsets into the completion.
        logprob: its natural-log probability.
        entropy: entropy of the next-token distribution at that step, in nats.
        rank: 1 when it was the model's likeliest token, 2 for the runner-up, ….
        alternatives: the likeliest tokens at that step, likeliest first
            (the token itself among them when it ranks high enough).
    """

    id: int
    text: str
    start: int
    end: int
    logprob: float
    entropy: float
    rank: int
    alternatives: tuple[Alternative, ...]

    @property
    def probability(self) -> float:
        """The token's probability."""
        return math.exp(self.logprob)

    def to_dict(self) -> dict[str, Any]:
        """The CLI's per-token step fields: entropy, rank, alternatives `[{"text", "logprob"}]`."""
        return {
            "entropy": self.entropy,
            "rank": self.rank,
            "alternatives": [{"text": a.text, "logprob": a.logprob} for a in self.alternatives],
        }


def within(steps: Sequence[StepScore], text: str) -> list[StepScore]:
    """The steps cut to `text`, as a stop sequence cuts a completion's tokens.

    Args:
        steps: step scores whose offsets count from the start of `text`.
        text: the completion as kept (it may end inside a token's text).

    Returns:
        The steps that start inside `text`; one that runs past its end keeps
        only its characters inside.
    """
    end = len(text)
    return [
        step if step.end <= end else dataclasses.replace(step, text=step.text[: end - step.start], end=end)
        for step in steps
        if step.start < end or (step.start == end and step.end == end)
    ]


def forks(steps: Sequence[StepScore], *, below: float = FORK_PROBABILITY) -> list[StepScore]:
    """The steps where the completion could have gone another way.

    Args:
        steps: a completion's step scores.
        below: a step is a fork when its token's probability is under this,
            or when the token was not the model's likeliest.

    Returns:
        Those steps, in completion order.
    """
    return [step for step in steps if is_fork(step, below=below)]


def fork_rows(steps: Sequence[StepScore], completion: str, *, context: int = 30) -> list[dict[str, Any]]:
    """A table of the forks: where, what the model wrote, how sure, what else.

    Args:
        steps: the completion's step scores (offsets into `completion`).
        completion: the completion text.
        context: characters of completion shown before each fork.

    Returns:
        One row per fork: `after` (the text before it), `token`,
        `probability`, `rank`, `alternatives` (one line).
    """
    return [
        {
            "after": ("…" if step.start > context else "") + completion[max(0, step.start - context) : step.start],
            "token": step.text,
            "probability": step.probability,
            "rank": step.rank,
            "alternatives": alternatives_text(step),
        }
        for step in forks(steps)
    ]


def alternatives_text(step: StepScore, *, limit: int = 5) -> str:
    """`'Avoid' 41% · 'You' 38% · …`: a step's alternatives on one line."""
    return " · ".join(f"{a.text!r} {math.exp(a.logprob):.0%}" for a in step.alternatives[:limit])


def is_fork(step: StepScore, *, below: float = FORK_PROBABILITY) -> bool:
    """Whether the completion could easily have gone another way at this step."""
    return step.probability < below or step.rank > 1

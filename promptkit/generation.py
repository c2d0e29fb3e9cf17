"""Generation settings and results, plus the model-independent decoding rules.

Sampling and stop-sequence handling live here, in numpy and plain Python, so
every model that fits `promptkit.models.api.LanguageModel` decodes the same
way and the rules are testable without a model.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence

import numpy as np

from promptkit.errors import PromptError

BLANK_LINE = "\n\n"
DEFAULT_STOP_SEQUENCES = (BLANK_LINE,)


# Not enum.StrEnum: that would change str() of a member from "StopReason.X" to its value.
class StopReason(str, enum.Enum):  # noqa: UP042
    """Why a completion ended."""

    STOP_SEQUENCE = "stop_sequence"
    MAX_NEW_TOKENS = "max_new_tokens"
    END_OF_SEQUENCE = "end_of_sequence"


@dataclasses.dataclass(frozen=True, kw_only=True)
class GenerationSettings:
    """How to decode.

    Args:
        max_new_tokens: most tokens to generate per prompt.
        temperature: 0 for greedy decoding; above 0 samples.
        top_k: sample only among the k likeliest tokens (0: no limit).
        top_p: sample only within this cumulative probability (1: no limit).
        seed: makes sampled output reproducible.
        stop_sequences: the completion ends before the first of these; a blank
            line by default, because a base model otherwise writes the next
            few-shot example.
    """

    max_new_tokens: int = 64
    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0
    stop_sequences: tuple[str, ...] = DEFAULT_STOP_SEQUENCES

    def __post_init__(self) -> None:
        problems = []
        if self.max_new_tokens < 1:
            problems.append(f"max_new_tokens must be at least 1 (got {self.max_new_tokens})")
        if self.temperature < 0:
            problems.append(f"temperature must be 0 (greedy) or more (got {self.temperature})")
        if self.top_k < 0:
            problems.append(f"top_k must be 0 (off) or more (got {self.top_k})")
        if not 0 < self.top_p <= 1:
            problems.append(f"top_p must be in (0, 1] (got {self.top_p})")
        if self.seed < 0:
            problems.append(f"seed must be 0 or more (got {self.seed})")
        if any(stop == "" for stop in self.stop_sequences):
            problems.append("a stop sequence cannot be empty")
        if problems:
            raise PromptError("Invalid generation settings: " + "; ".join(problems) + ".")

    @property
    def greedy(self) -> bool:
        """Whether decoding takes the likeliest token at each step."""
        return self.temperature == 0

    def to_dict(self) -> dict[str, object]:
        """Returns the settings as JSON-ready data (how the store records them)."""
        return {**dataclasses.asdict(self), "stop_sequences": list(self.stop_sequences)}


@dataclasses.dataclass(frozen=True)
class GeneratedToken:
    """A generated token: text, offsets into the completion, log-probability."""

    id: int
    text: str
    start: int
    end: int
    logprob: float

    def to_dict(self) -> dict[str, object]:
        """Returns the token as JSON-ready data (how the store records it)."""
        return {"id": self.id, "text": self.text, "start": self.start, "end": self.end, "logprob": self.logprob}


@dataclasses.dataclass(frozen=True)
class Completion:
    """One prompt's completion.

    Attributes:
        prompt: the prompt it continues.
        text: the completion, stop sequence cut off.
        tokens: the generated tokens whose text lies in `text` (tokens after
            the cut are dropped; one straddling it is shortened).
        stop_reason: why decoding ended.
        timings: seconds spent, e.g. `{"prefill_s", "decode_s", "total_s"}`,
            and `new_tokens_per_s`.
    """

    prompt: str
    text: str
    tokens: tuple[GeneratedToken, ...]
    stop_reason: StopReason
    timings: dict[str, float]


def chosen_stop_sequences(defaults: Sequence[str], *, blank_line: bool, extra: str = "") -> tuple[str, ...]:
    """Combines a version's stop sequences with a user's choices.

    Args:
        defaults: the version's stop sequences.
        blank_line: whether to stop at a blank line (listed first when kept).
        extra: one more stop text; empty for none.

    Returns:
        The stop sequences, blank line first, then the other defaults, then `extra`.
    """
    return tuple(
        [BLANK_LINE] * blank_line + [stop for stop in defaults if stop != BLANK_LINE] + [extra] * bool(extra)
    )


def find_stop(text: str, stop_sequences: Sequence[str]) -> int | None:
    """Returns where the earliest stop sequence starts in `text`, if any."""
    positions = [text.find(stop) for stop in stop_sequences]
    found = [position for position in positions if position >= 0]
    return min(found) if found else None


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities over the last axis, computed stably in float64."""
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    logprobs: np.ndarray = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return logprobs


def choose_tokens(
    logprobs: np.ndarray, settings: GenerationSettings, rng: np.random.Generator
) -> np.ndarray:
    """Picks the next token of each row.

    Args:
        logprobs: log-probabilities, shape `(batch, vocabulary)`.
        settings: greedy, or temperature / top-k / top-p sampling.
        rng: the random generator (seeded once per request).

    Returns:
        Token ids, shape `(batch,)`.
    """
    if settings.greedy:
        best: np.ndarray = logprobs.argmax(axis=-1)
        return best
    scaled = logprobs / settings.temperature
    choices = np.empty(len(scaled), dtype=np.int64)
    for row, values in enumerate(scaled):
        order = np.argsort(-values, kind="stable")
        if settings.top_k:
            order = order[: settings.top_k]
        probabilities = np.exp(values[order] - values[order[0]])
        probabilities /= probabilities.sum()
        if settings.top_p < 1:
            keep = int(np.searchsorted(np.cumsum(probabilities), settings.top_p)) + 1
            order, probabilities = order[:keep], probabilities[:keep]
            probabilities /= probabilities.sum()
        choices[row] = order[rng.choice(len(order), p=probabilities)]
    return choices


def trim_at_stop(
    tokens: Sequence[GeneratedToken], text: str, stop_at: int
) -> tuple[str, tuple[GeneratedToken, ...]]:
    """Cuts a completion (and its tokens) where a stop sequence starts."""
    kept = []
    for token in tokens:
        if token.start >= stop_at:
            break
        if token.end > stop_at:
            token = dataclasses.replace(token, text=token.text[: stop_at - token.start], end=stop_at)
        kept.append(token)
    return text[:stop_at], tuple(kept)

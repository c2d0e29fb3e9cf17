"""The model contract: what promptkit's components use of a loaded model (LIT's model/component split).

A loaded model is a `LanguageModel`: it tokenizes, maps tokens to
character spans, checks prompts against its context and generates. Its
heavier capabilities are its `Companions`, made on first use and shared by
every caller through `LanguageModel.companions`: gradients of target losses
(`GradientBackend`), continuation scores (`ContinuationScoring`: candidate
likelihoods, step scores, occlusion) and attention weights
(`AttentionBackend`). `promptkit.models.GemmaModel` fits; so do the fakes
in tests.

Importing this module imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

import numpy as np

from promptkit.generation import Completion, GenerationSettings
from promptkit.models.integrated_gradients_path import IntegratedGradientsResult
from promptkit.steps import StepScore
from promptkit.tokenization import TokenSpan


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the UI and the CLI show about a loaded model."""

    name: str
    family: str
    device: str
    dtype: str
    context_length: int
    load_seconds: float
    note: str = ""


@dataclasses.dataclass(frozen=True)
class GradientResult:
    """Gradients of several target losses over one sequence.

    Attributes:
        losses: loss of each target mask, shape `(num_targets,)`.
        gradients: d loss / d embedding, shape `(num_targets, length, hidden)`.
        embeddings: the embedding lookup output, shape `(length, hidden)`.
    """

    losses: np.ndarray
    gradients: np.ndarray
    embeddings: np.ndarray


@dataclasses.dataclass(frozen=True)
class AttentionReading:
    """Attention weights from the positions that predict each target token, and those tokens' step scores.

    Attributes:
        weights: float32, shape `(layers, heads, rows, length)`: row i holds
            the weights of the position predicting target token i over the
            sequence positions (`<bos>` first); each (layer, head, row) sums
            to 1 over the positions before the predicted token and is 0 on
            the others.
        logprobs: each target token's log-probability, shape `(rows,)`.
        entropy: entropy of each step's next-token distribution (nats), shape `(rows,)`.
        rank: each target token's rank there (1: the likeliest), shape `(rows,)`.
        top_ids: the likeliest tokens per step, shape `(rows, top_k)`.
        top_logprobs: their log-probabilities, shape `(rows, top_k)`.
    """

    weights: np.ndarray
    logprobs: np.ndarray
    entropy: np.ndarray
    rank: np.ndarray
    top_ids: np.ndarray
    top_logprobs: np.ndarray


class Vocabulary(Protocol):
    """A model's tokens: special ids, encoding and character spans (`promptkit.tokenization.PieceVocabulary` fits)."""

    @property
    def bos_id(self) -> int:
        """`<bos>`, put before every prompt."""

    @property
    def eos_id(self) -> int:
        """`<eos>`, which ends a completion."""

    @property
    def pad_id(self) -> int:
        """Padding, never attended to."""

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`, without `<bos>`."""

    def spans(self, ids: Sequence[int], *, offset: int = 0, source: str | None = None) -> list[TokenSpan]:
        """One character span per token id, counted from `offset`; texts cut from `source` if given."""

    def piece_text(self, token_id: int) -> str:
        """The text a token stands for (to name the alternatives of a step)."""


class LossGradients(Protocol):
    """Gradients of target losses; all a contrastive method may ask for."""

    def gradients(self, token_ids: np.ndarray, target_masks: np.ndarray) -> GradientResult:
        """Gradients of each target mask's loss.

        Args:
            token_ids: shape `(length,)`, `<bos>` first.
            target_masks: bool, shape `(num_targets, length)`: the tokens whose loss each target sums.
        """


class GradientBackend(LossGradients, Protocol):
    """What the gradient salience methods need (`promptkit.models.gradients.GradientComputer` fits)."""

    def integrated_gradients(
        self, token_ids: np.ndarray, target_masks: np.ndarray, *, steps: int, batch_size: int, baseline: str
    ) -> IntegratedGradientsResult:
        """Integrated gradients of each target mask's loss along a path from `baseline` to the embeddings."""


class CandidateScorer(Protocol):
    """Scores whole continuations: what outcome likelihoods need."""

    def score(self, requests: Sequence[tuple[str, str]]) -> list[float]:
        """Summed log-probabilities of each `(prefix, continuation)` pair, in order."""


class StepScorer(Protocol):
    """Scores a continuation token by token: what step scores need."""

    def step_scores(self, prefix_ids: Sequence[int], continuation_ids: Sequence[int], *, top_k: int = 5) -> list[StepScore]:
        """One `StepScore` per continuation token."""


class LikelihoodScorer(Protocol):
    """Scores a continuation with pieces of its prefix left out: what occlusion needs."""

    def occluded_logprobs(
        self,
        prefix_ids: Sequence[int],
        pieces: Sequence[tuple[int, int]],
        continuation_ids: Sequence[int],
        *,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> tuple[float, list[float]]:
        """The continuation's summed log-probability after the prefix, and after it with each piece left out."""


class ContinuationScoring(CandidateScorer, StepScorer, LikelihoodScorer, Protocol):
    """Every continuation score (`promptkit.models.scoring.ContinuationScorer` fits)."""


class AttentionBackend(Protocol):
    """Reads attention weights and step scores (`promptkit.models.attention_weights.AttentionReader` fits)."""

    @property
    def num_layers(self) -> int:
        """The model's decoder blocks."""

    def read(self, token_ids: np.ndarray, num_targets: int) -> AttentionReading:
        """The attention from the positions predicting the last `num_targets` tokens of `token_ids`."""


class Companions(Protocol):
    """A model's shared helpers, each made on first use, so their compiled graphs are traced once per model."""

    @property
    def gradients(self) -> GradientBackend:
        """Gradients of target losses."""

    @property
    def scorer(self) -> ContinuationScoring:
        """Continuation scores."""

    @property
    def attention(self) -> AttentionBackend:
        """Attention weights."""


@runtime_checkable
class LanguageModel(Protocol):
    """A causal language model promptkit can generate with and explain.

    Calls that run the model hold `lock`, so threads sharing a model take turns.
    """

    @property
    def info(self) -> ModelInfo:
        """What to show about the model: name, family, device, context length."""

    @property
    def vocabulary(self) -> Vocabulary:
        """The model's tokens."""

    @property
    def lock(self) -> AbstractContextManager[bool]:
        """Held by every call that runs the model (re-entrant)."""

    @property
    def companions(self) -> Companions:
        """The model's gradients, scorer and attention reader, shared by every caller."""

    def tokenize(self, text: str) -> list[int]:
        """Token ids of `text`, without `<bos>`."""

    def token_spans(self, ids: Sequence[int], *, offset: int = 0, source: str | None = None) -> list[TokenSpan]:
        """One character span per token id, counted from `offset`; texts cut from `source` if given."""

    def prompt_ids(self, prompts: Sequence[str], *, new_tokens: int) -> list[list[int]]:
        """`<bos>` + tokens of each prompt, checked against the context length.

        Raises:
            PromptError: a prompt is empty, or it plus `new_tokens` does not fit the context.
        """

    def generate(
        self,
        prompts: Sequence[str],
        *,
        settings: GenerationSettings,
        on_progress: Callable[[float], None] | None = None,
    ) -> list[Completion]:
        """Completes each prompt; one call may batch prompts of any lengths.

        `on_progress`, when given, is called now and then with the fraction
        of the call done (0 to 1), so a caller can show progress inside a batch.
        """

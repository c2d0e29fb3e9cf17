"""Contrastive salience: why the model wrote the target span rather than a foil.

"Why *You have to try it* and not *Avoid*?" Contrast is an option of the
target, not a method of its own (as in Inseq): any method whose
declaration allows it explains the loss difference L(span) − L(foil)
instead of L(span). The selected span of the target is replaced by the
foil; both sequences share `<bos>`, the prompt and the target text before
the span, token for token. At a shared position the gradient of the
difference is the span's gradient minus the foil's, and the method scores
that (contrastive attribution as in Yin & Neubig, 2022, and Inseq).
Grad·Input keeps its sign convention: negative scores lowered L(span)
relative to L(foil), i.e. pushed the model towards the span over the foil.

The span's own tokens and whatever follows them are not shared by the two
sequences, so they score 0 (they stay in the result, so offsets and
segments match a plain result for the same target).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from promptkit.errors import SalienceError
from promptkit.models.api import GradientResult, LanguageModel, LossGradients
from promptkit.salience.results import SalienceResult
from promptkit.tokenization import TokenSpan


def foil_in_place(replaced: str, foil: str) -> str:
    """The foil as it stands in place of `replaced`.

    A span that starts with whitespace (Gemma's tokens carry their leading
    space) hands it to a foil typed without one, so `"Avoid."` competes with
    `" You have to try it."` on equal terms.
    """
    lead = replaced[: len(replaced) - len(replaced.lstrip())]
    return foil if foil[:1].isspace() else lead + foil


@dataclasses.dataclass(frozen=True)
class ContrastSequences:
    """The span's sequence and the foil's: the same context, then the span or the foil.

    Attributes:
        context: `<bos>`, the prompt and the target tokens before the span, shape `(shared,)`.
        span: the span's token ids.
        foil: the foil's token ids, as it stands in place of the span.
    """

    context: tuple[int, ...]
    span: tuple[int, ...]
    foil: tuple[int, ...]

    def span_sequence(self) -> tuple[np.ndarray, np.ndarray]:
        """Context + span: ids `(length,)` and the mask `(1, length)` marking the span."""
        return _sequence(self.context, self.span)

    def foil_sequence(self) -> tuple[np.ndarray, np.ndarray]:
        """Context + foil: ids `(length,)` and the mask `(1, length)` marking the foil."""
        return _sequence(self.context, self.foil)


def contrast_sequences(
    model: LanguageModel, prompt_ids: Sequence[int], target_ids: Sequence[int], target: str, target_spans: Sequence[TokenSpan],
    span: tuple[int, int], foil: str,
) -> ContrastSequences:
    """The two sequences that contrast the selected span with `foil`, checked.

    Args:
        model: `info`, `vocabulary.bos_id`, `tokenize` (see `promptkit.models.api.LanguageModel`).
        prompt_ids: the prompt's token ids.
        target_ids: the target's token ids.
        target: the target text.
        target_spans: the target's token spans (`start`, `end`), offsets into the target.
        span: `(first, last)`: the selected target tokens.
        foil: what the model could have written instead of the span.

    Returns:
        The shared context and both continuations.

    Raises:
        SalienceError: an empty foil, a foil that is the span itself, or a
            sequence longer than the model's context.
    """
    if not foil.strip():
        raise SalienceError("The contrast text is empty; type what the model could have written instead.")
    first, last = span
    replaced = target[target_spans[first].start : target_spans[last - 1].end]
    if foil.strip() == replaced.strip():
        raise SalienceError(
            f"The contrast text {_shortened(foil.strip())!r} is the explained text itself; type what the model "
            "could have written instead."
        )
    foil_ids = model.tokenize(foil_in_place(replaced, foil))
    context = (model.vocabulary.bos_id, *prompt_ids, *target_ids[:first])
    longest = len(context) + max(last - first, len(foil_ids))
    if longest > model.info.context_length:
        raise SalienceError(
            f"Prompt + target is {longest} tokens, more than {model.info.name}'s context of "
            f"{model.info.context_length}; shorten the prompt, the target or the contrast text."
        )
    return ContrastSequences(context, tuple(target_ids[first:last]), tuple(foil_ids))


@dataclasses.dataclass(frozen=True)
class ContrastGradientResult:
    """What `ContrastiveGradients.gradients` returns.

    Attributes:
        losses: the span's own losses L(span), shape `(num_targets,)`.
        gradients: d(L(span) − L(foil)) / d embedding, shape `(num_targets, length, hidden)`.
        embeddings: the span sequence's embeddings, shape `(length, hidden)`.
    """

    losses: np.ndarray
    gradients: np.ndarray
    embeddings: np.ndarray


@dataclasses.dataclass(frozen=True)
class ContrastiveGradients:
    """A gradient backend whose gradients are those of L(span) − L(foil).

    Given to a method that allows a contrast in place of the model's
    backend, so the method scores the contrast as it scores a plain target.

    Attributes:
        backend: the model's gradient backend.
        foil: the foil sequence's gradients: `.gradients` of shape `(1, foil_length, hidden)`.
        shared: positions the span's and the foil's sequences share.
    """

    backend: LossGradients
    foil: GradientResult
    shared: int

    def gradients(self, token_ids: np.ndarray, target_masks: np.ndarray) -> ContrastGradientResult:
        """Gradients of the span's loss minus the foil's, at the shared positions.

        Args:
            token_ids: the span's sequence, shape `(length,)`.
            target_masks: bool, shape `(num_targets, length)`, marking the span.

        Returns:
            The span's losses and embeddings, and the gradient difference,
            zero from the first position not shared.
        """
        span = self.backend.gradients(token_ids, target_masks)
        difference = np.zeros_like(span.gradients)
        difference[:, : self.shared] = span.gradients[:, : self.shared] - self.foil.gradients[:, : self.shared]
        return ContrastGradientResult(span.losses, difference, span.embeddings)


def odds_sentence(result: SalienceResult) -> str:
    """Says in one sentence which of span and foil the model prefers, and by how much.

    Args:
        result: a contrastive result (`details` hold `log_odds`, `params`
            the foil).

    Returns:
        Plain text, e.g. 'The model finds "Avoid." 12 times as likely as
        "You have to try it." here (log-odds 2.48 in its favour).' Texts
        longer than 60 characters are shortened with an ellipsis.
    """
    start, end = result.target_span
    span, foil = result.text[start:end].strip(), str(result.params["contrast"]).strip()
    log_odds = result.details["log_odds"]
    favoured, other = (span, foil) if log_odds >= 0 else (foil, span)
    ratio = math.exp(min(abs(log_odds), 50.0))
    times = "over a million times" if ratio > 1e6 else f"{ratio:,.0f} times" if ratio >= 10 else f"{ratio:.1f} times"
    # The margin is unsigned: a signed number next to "favoured" read as a contradiction.
    return (
        f'The model finds "{_shortened(favoured)}" {times} as likely as "{_shortened(other)}" here '
        f"(log-odds {abs(log_odds):.2f} in its favour)."
    )


def _shortened(text: str, *, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _sequence(context: Sequence[int], continuation: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    ids = np.array([*context, *continuation], dtype=np.int32)
    mask = np.zeros((1, len(ids)), dtype=bool)
    mask[0, len(context) :] = True
    return ids, mask

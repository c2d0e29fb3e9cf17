"""Contrastive salience: why the model wrote the target span rather than a foil.

"Why *You have to try it* and not *Avoid*?" The selected span of the target
is replaced by the foil; both sequences share `<bos>`, the prompt and the
target text before the span, token for token. A shared token's score is the
method applied to the gradient of the loss difference
L(span) − L(foil), i.e. the span's gradient minus the foil's at that
position (contrastive attribution as in Yin & Neubig, 2022, and Inseq).
Grad·Input keeps its sign convention: negative scores lowered L(span)
relative to L(foil), i.e. pushed the model towards the span over the foil.

The span's own tokens and whatever follows them are not shared by the two
sequences, so they score 0 (they stay in the result, so offsets and
segments match a plain result for the same target).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from promptkit.errors import SalienceError
from promptkit.salience.methods import GradientBackend, get_method
from promptkit.salience.results import SalienceResult, scored_tokens
from promptkit.salience.targets import Selection, select_tokens

CONTRASTIVE_METHODS = ("grad_l2", "grad_dot_input")


def foil_in_place(replaced: str, foil: str) -> str:
    """The foil as it stands in place of `replaced`.

    A span that starts with whitespace (Gemma's tokens carry their leading
    space) hands it to a foil typed without one, so `"Avoid."` competes with
    `" You have to try it."` on equal terms.
    """
    lead = replaced[: len(replaced) - len(replaced.lstrip())]
    return foil if foil[:1].isspace() else lead + foil


def explain_contrast(
    model: Any, backend: GradientBackend, prompt: str, target: str, foil: str, *, selection: Selection, method: str
) -> SalienceResult:
    """Token salience of the selected span against `foil`.

    Args:
        model: `info`, `vocabulary.bos_id`, `tokenize`, `token_spans` (see
            `promptkit.model_api.LanguageModel`).
        backend: computes gradients (`.gradients(token_ids, target_masks)`).
        prompt: the prompt text.
        target: the completion or reference text that follows it.
        foil: what the model could have written instead of the span.
        selection: the span of `target` to contrast.
        method: one of `CONTRASTIVE_METHODS`.

    Returns:
        A result over prompt + target; `loss` is L(span), `details` holds
        `foil_loss` and `log_odds` = L(foil) − L(span) (positive: the model
        prefers the span), `params` holds the foil.

    Raises:
        SalienceError: unsupported method, empty prompt or foil, a foil
            that is the span itself, span not found, or a sequence longer
            than the model's context.
    """
    if method not in CONTRASTIVE_METHODS:
        raise SalienceError(
            f"Contrastive salience works with {' and '.join(CONTRASTIVE_METHODS)}, not {method}; pick one of those."
        )
    if not prompt:
        raise SalienceError("The prompt is empty; write or render a prompt first.")
    if not foil.strip():
        raise SalienceError("The contrast text is empty; type what the model could have written instead.")
    prompt_ids, target_ids = model.tokenize(prompt), model.tokenize(target)
    prompt_spans = model.token_spans(prompt_ids, source=prompt)
    target_spans = model.token_spans(target_ids, source=target)
    first, last = select_tokens(target, target_spans, selection)
    replaced = target[target_spans[first].start : target_spans[last - 1].end]
    foil_ids = model.tokenize(foil_in_place(replaced, foil))
    if foil.strip() == replaced.strip():
        raise SalienceError(
            f"The contrast text {_shortened(foil.strip())!r} is the explained text itself; type what the model "
            "could have written instead."
        )
    context = [model.vocabulary.bos_id, *prompt_ids, *target_ids[:first]]
    longest = len(context) + max(last - first, len(foil_ids))
    if longest > model.info.context_length:
        raise SalienceError(
            f"Prompt + target is {longest} tokens, more than {model.info.name}'s context of "
            f"{model.info.context_length}; shorten the prompt, the target or the contrast text."
        )
    span_out = _gradients(backend, context, target_ids[first:last])
    foil_out = _gradients(backend, context, foil_ids)
    shared = len(context)
    difference = span_out.gradients[0, :shared] - foil_out.gradients[0, :shared]
    if method == "grad_l2":
        shared_scores = np.linalg.norm(difference, axis=-1)
    else:
        shared_scores = (difference * span_out.embeddings[:shared]).sum(-1)
    scores = np.zeros(len(prompt_ids) + len(target_ids))
    scores[: shared - 1] = shared_scores[1:]  # Position 0 is <bos>, not a token of the text.
    span_loss, foil_loss = float(span_out.losses[0]), float(foil_out.losses[0])
    return SalienceResult(
        model=model.info.name,
        prompt=prompt,
        target=target,
        method=method,
        signed=get_method(method).signed,
        params={"contrast": foil},
        tokens=scored_tokens(prompt_spans, target_spans, scores, prompt_length=len(prompt)),
        target_tokens=(len(prompt_ids) + first, len(prompt_ids) + last),
        loss=span_loss,
        details={"foil_loss": foil_loss, "log_odds": foil_loss - span_loss},
    )


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


def _gradients(backend: GradientBackend, context: list[int], continuation: list[int]) -> Any:
    ids = np.array([*context, *continuation], dtype=np.int32)
    mask = np.zeros((1, len(ids)), dtype=bool)
    mask[0, len(context) :] = True
    return backend.gradients(ids, mask)

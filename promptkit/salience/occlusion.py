"""Occlusion: how much the explained span's likelihood depends on each piece of the prompt.

"What if the dislikes weren't there?" Each piece (a template part, a line, a
sentence…) before the span is left out in turn, by removing its tokens, and
the span is scored again given what remains. A piece's score is the change
of the span's loss, L(with every piece) − L(without this piece), in nats:
negative when leaving the piece out makes the span less likely, i.e. the
piece supported it, the sign convention of Grad·Input and integrated
gradients (whose scores approximate the same difference for a small step).
Unlike gradients it needs only the model's likelihoods, so any model that
scores continuations fits, and it measures what removal really does rather
than a local slope. It costs a pass per piece over the text after the
piece: the text before it is computed once and shared.

Token scores are the piece's score spread evenly over its tokens, so
summing them per piece at the granularity computed gives the piece scores
back exactly; other granularities or aggregations would not be occlusion
scores, so a result holds the one granularity it was computed at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from promptkit.errors import SalienceError
from promptkit.models.api import LanguageModel, LikelihoodScorer
from promptkit.salience.methods import OCCLUSION, get_method
from promptkit.salience.results import SalienceResult, TokenScore, scored_tokens
from promptkit.salience.segmentation import PartLike, assign_tokens
from promptkit.salience.targets import Selection, select_tokens

DEFAULT_MAX_PIECES = 128


def explain_occlusion(
    model: LanguageModel,
    scorer: LikelihoodScorer,
    prompt: str,
    target: str,
    *,
    selection: Selection,
    granularity: str,
    parts: Iterable[PartLike] = (),
    pattern: str | None = None,
    max_pieces: int = DEFAULT_MAX_PIECES,
    on_progress: Callable[[int, int], None] | None = None,
) -> SalienceResult:
    """Scores each piece before the selected span by leaving it out.

    Args:
        model: `info`, `vocabulary.bos_id`, `tokenize`, `token_spans`.
        scorer: scores continuations given token-id prefixes.
        prompt: the prompt text.
        target: the completion or reference text that follows it.
        selection: the span of `target` to explain.
        granularity: what a piece is (see `promptkit.salience.segmentation`).
        parts: template parts, for granularity `parts`.
        pattern: the regular expression, for granularity `custom`.
        max_pieces: most pieces to leave out, one forward pass each.
        on_progress: called with `(pieces left out so far, pieces)`.

    Returns:
        A signed result with method `occlusion`; `params` holds the
        granularity, `loss` is the span's loss with the whole prompt and
        `details` holds `pieces`, the number of pieces left out.

    Raises:
        SalienceError: an empty prompt or target, a span not found, a
            sequence longer than the model's context, or more pieces than
            `max_pieces` (choose a coarser granularity).
    """
    if not prompt:
        raise SalienceError("The prompt is empty; write or render a prompt first.")
    if not target.strip():
        raise SalienceError("The target is empty; there is nothing to explain.")
    prompt_ids, target_ids = model.tokenize(prompt), model.tokenize(target)
    length = 1 + len(prompt_ids) + len(target_ids)
    if length > model.info.context_length:
        raise SalienceError(
            f"Prompt + target is {length} tokens, more than {model.info.name}'s context of "
            f"{model.info.context_length}; shorten the prompt or the target."
        )
    target_spans = model.token_spans(target_ids, source=target)
    first, last = select_tokens(target, target_spans, selection)
    first, last = len(prompt_ids) + first, len(prompt_ids) + last
    tokens = scored_tokens(
        model.token_spans(prompt_ids, source=prompt), target_spans, np.zeros(len(prompt_ids) + len(target_ids)),
        prompt_length=len(prompt),
    )
    unscored = _result(model, prompt, target, tokens, (first, last), granularity, loss=float("nan"), pieces=0)
    segments = unscored.segments(granularity, parts=parts, pattern=pattern).segments
    owners = np.array(assign_tokens(segments, [token.start for token in tokens]))
    # Only tokens before the span condition it: those are the pieces to leave out.
    pieces = sorted(set(owners[:first].tolist()))
    if len(pieces) > max_pieces:
        raise SalienceError(
            f"Leaving out {len(pieces)} {granularity} one at a time takes {len(pieces)} passes of the model, more "
            f"than the {max_pieces} allowed; choose a coarser granularity (lines, sentences or paragraphs, or template parts on the Salience page)."
        )
    ids = [*prompt_ids, *target_ids]
    # Segment indices never fall along the tokens, so a piece's tokens are one
    # run; its range in `<bos>` + context is shifted by one.
    starts, ends = (np.searchsorted(owners[:first], pieces, side=side) for side in ("left", "right"))
    ranges = [(1 + int(start), 1 + int(end)) for start, end in zip(starts, ends)]
    whole, without = scorer.occluded_logprobs(
        [model.vocabulary.bos_id, *ids[:first]], ranges, ids[first:last], on_progress=on_progress
    )
    scores = np.zeros(len(tokens))
    for (start, end), logprob in zip(ranges, without):
        # L(with) − L(without) = log p(without) − log p(with).
        scores[start - 1 : end - 1] = (logprob - whole) / (end - start)
    scored = tuple(TokenScore(t.text, t.start, t.end, float(score)) for t, score in zip(tokens, scores))
    return _result(model, prompt, target, scored, (first, last), granularity, loss=-whole, pieces=len(pieces))


def _result(
    model: LanguageModel,
    prompt: str,
    target: str,
    tokens: tuple[TokenScore, ...],
    span: tuple[int, int],
    granularity: str,
    *,
    loss: float,
    pieces: int,
) -> SalienceResult:
    return SalienceResult(
        model=model.info.name,
        prompt=prompt,
        target=target,
        method=OCCLUSION,
        signed=get_method(OCCLUSION).signed,
        params={"granularity": granularity},
        tokens=tokens,
        target_tokens=span,
        loss=float(loss),
        details={"pieces": float(pieces)},
    )

"""Token-by-token attribution: how much each earlier token drove each token of the target (Inseq's view).

For a prompt and a target (a completion, generated or given), `M[i, j]` is
the attribution of target token i, through its log-probability, to token
j of `prompt + target` (`<bos>` not listed), for every j before i: the
prompt's tokens and the target's earlier ones. Later positions are absent,
not zero: `TokenMatrix.values` holds NaN there, and the JSON export gives
each row only its present entries (ragged rows).

Methods:
- gradient methods (`grad_l2`, `grad_dot_input`, `integrated_gradients`,
  any registered `compute`): row i is exactly the method's explanation of
  the one-token span i (`SalienceEngine.explain` with `TokenRange(i, i + 1)`),
  computed through its declaration with one one-token mask per row. Rows
  go `ROWS_PER_PASS` at a time: each block shares one forward pass and
  gets one backward pass per row from it (`GradientComputer.gradients`),
  so memory is bounded by one block's gradients, `ROWS_PER_PASS` × length
  × hidden × 4 bytes (8 × 2,257 × 640 × 4 = 46 MB for a 2,000-token prompt
  on Gemma 3 270M), plus one pass's activations, whatever the row count.
  `grad_dot_input` is linear in the loss, so a span's explanation is the
  column sum of its rows.
- `attention`: the weights of the position that predicts token i, per layer
  and head (`promptkit.models.attention_weights`), all rows from one
  forward pass; the matrix averages the chosen layers (`"all"`, `"N"` or
  `"A-B"`, counted from 0, inclusive) of the mean or max over heads
  (`"mean"`, `"max"`). Re-aggregating reads the kept weights, not the
  model. Weights on `<bos>` are not shown, so a row sums to at most 1;
  sliding-window layers give 0 outside their window.

Every row also carries its step scores (`promptkit.steps.StepScore`):
probability, log-probability, entropy, rank and the likeliest
alternatives. `TokenMatrix.segments` regroups columns and rows at any
granularity with any aggregation, without the model.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from promptkit.errors import SalienceError
from promptkit.models.api import AttentionReading, GradientBackend, Vocabulary
from promptkit.salience.aggregation import MIN_DOMAIN, SegmentScores, aggregate
from promptkit.salience.methods import SalienceMethod
from promptkit.salience.segmentation import PartLike, Segment, assign_tokens, segment_text
from promptkit.steps import Alternative, StepScore
from promptkit.tokenization import TokenSpan

# Rows per forward pass of a gradient method: GradientComputer's default, so each block is one pass.
ROWS_PER_PASS = 8
HEAD_AGGREGATIONS = ("mean", "max")


@dataclasses.dataclass(frozen=True)
class TokenMatrix:
    """Attribution of every target token to every token before it.

    Attributes:
        model: the model's name.
        prompt: the prompt text.
        target: the target text; offsets are into `text = prompt + target`.
        method: the method's name.
        signed: whether scores can be negative.
        params: the method's parameters (attention: `layers`, `heads`).
        tokens: prompt then target tokens (`<bos>` not listed), offsets into `text`.
        prompt_tokens: how many of `tokens` are the prompt's; row i explains
            `tokens[prompt_tokens + i]`.
        values: float64, shape `(target tokens, len(tokens))`; `values[i, j]`
            is NaN for `j >= prompt_tokens + i` (the token itself and later).
        steps: one step score per row, offsets into `target`.
        details: per row, the method's extra numbers (e.g. IG's completeness error).
        timings: seconds spent: `attribution_s`, `step_scores_s`, `total_s`.
    """

    model: str
    prompt: str
    target: str
    method: str
    signed: bool
    params: Mapping[str, Any]
    tokens: tuple[Segment, ...]
    prompt_tokens: int
    values: np.ndarray
    steps: tuple[StepScore, ...]
    details: tuple[Mapping[str, float], ...]
    timings: Mapping[str, float]

    @property
    def text(self) -> str:
        """prompt + target."""
        return self.prompt + self.target

    def to_stored(self) -> dict[str, Any]:
        """The matrix as plain JSON (absent cells as null), for the store; `from_stored` gives it back."""
        return {
            "model": self.model,
            "prompt": self.prompt,
            "target": self.target,
            "method": self.method,
            "signed": self.signed,
            "params": dict(self.params),
            "tokens": [[token.text, token.start, token.end] for token in self.tokens],
            "prompt_tokens": self.prompt_tokens,
            "values": [[None if np.isnan(value) else float(value) for value in row] for row in self.values],
            "steps": [
                {
                    "id": step.id, "text": step.text, "start": step.start, "end": step.end, "logprob": step.logprob,
                    "entropy": step.entropy, "rank": step.rank,
                    "alternatives": [[a.id, a.text, a.logprob] for a in step.alternatives],
                }
                for step in self.steps
            ],
            "details": [dict(row) for row in self.details],
            "timings": dict(self.timings),
        }

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any]) -> TokenMatrix:
        """Rebuilds a matrix from `to_stored`'s JSON; regrouping it works as for a fresh one.

        Raises:
            SalienceError: the JSON is not a stored matrix (a key missing, or
                rows that do not fit the tokens).
        """
        try:
            tokens = tuple(Segment(str(text), int(start), int(end)) for text, start, end in stored["tokens"])
            values = np.array(
                [[np.nan if value is None else float(value) for value in row] for row in stored["values"]],
                dtype=np.float64,
            ).reshape(len(stored["values"]), len(tokens))
            steps = tuple(
                StepScore(
                    id=int(step["id"]), text=str(step["text"]), start=int(step["start"]), end=int(step["end"]),
                    logprob=float(step["logprob"]), entropy=float(step["entropy"]), rank=int(step["rank"]),
                    alternatives=tuple(Alternative(int(i), str(t), float(p)) for i, t, p in step["alternatives"]),
                )
                for step in stored["steps"]
            )
            matrix = cls(
                model=str(stored["model"]), prompt=str(stored["prompt"]), target=str(stored["target"]),
                method=str(stored["method"]), signed=bool(stored["signed"]), params=dict(stored["params"]),
                tokens=tokens, prompt_tokens=int(stored["prompt_tokens"]), values=values, steps=steps,
                details=tuple(dict(row) for row in stored["details"]), timings=dict(stored["timings"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise SalienceError(f"The stored token matrix cannot be read ({error}); compute it again.") from None
        if len(steps) != len(values) or matrix.prompt_tokens + len(steps) != len(tokens):
            raise SalienceError("The stored token matrix has rows that do not fit its tokens; compute it again.")
        return matrix

    @property
    def row_tokens(self) -> tuple[Segment, ...]:
        """The target's tokens, one per row, offsets into `text`."""
        return self.tokens[self.prompt_tokens :]

    def segments(
        self,
        granularity: str = "tokens",
        *,
        aggregation: str = "sum",
        rows: str = "tokens",
        row_aggregation: str = "sum",
        pattern: str | None = None,
        parts: Iterable[PartLike] = (),
    ) -> SegmentMatrix:
        """Regroups columns and rows into pieces (no model call).

        A cell combines, over the rows of its row piece (`row_aggregation`),
        each row's combination of the column piece's tokens that precede
        that row's token (`aggregation`). For a row, the column pieces up to
        the one holding the token just before the row's are present (one
        without tokens scores 0), the later ones absent (NaN); a row piece
        has the columns any of its rows has. With sums, a row piece of
        `grad_dot_input` is the explanation of that span.

        Args:
            granularity: how columns group (`promptkit.salience.segmentation.GRANULARITIES`).
            aggregation: `"sum"`, `"mean"` or `"max"` over a column piece's tokens.
            rows: how the target's rows group, any granularity (pieces of the target).
            row_aggregation: `"sum"`, `"mean"` or `"max"` over a row piece's rows.
            pattern: the regular expression for `custom`.
            parts: template parts for `parts`.

        Returns:
            The grouped matrix; both groupings break where the prompt ends.

        Raises:
            SalienceError: an unknown granularity or aggregation, or an invalid pattern.
        """
        starts = [token.start for token in self.tokens]
        cut = (len(self.prompt),)
        columns = segment_text(self.text, granularity, token_starts=starts, pattern=pattern, parts=parts, cuts=cut)
        owners = assign_tokens(columns, starts)
        by_token_row = np.full((len(self.steps), len(columns)), np.nan)
        for row in range(len(self.steps)):
            before = self.prompt_tokens + row
            scores = aggregate(self.values[row, :before], owners[:before], len(columns), how=aggregation)
            # Columns are in text order, so those with a token before the row's are a prefix.
            present = owners[before - 1] + 1
            by_token_row[row, :present] = scores[:present]
        row_pieces = [
            segment
            for segment in segment_text(self.text, rows, token_starts=starts, pattern=pattern, parts=parts, cuts=cut)
            if segment.end > len(self.prompt)  # A cluster across the prompt's end stays whole, in a row.
        ]
        row_owners = np.array(assign_tokens(row_pieces, [token.start for token in self.row_tokens]), dtype=np.int64)
        values = np.full((len(row_pieces), len(columns)), np.nan)
        for column in range(len(columns)):
            present = ~np.isnan(by_token_row[:, column])
            if present.any():
                combined = aggregate(
                    by_token_row[present, column], row_owners[present].tolist(), len(row_pieces), how=row_aggregation
                )
                has_rows = np.bincount(row_owners[present], minlength=len(row_pieces)) > 0
                values[has_rows, column] = combined[has_rows]
        row_scores = tuple(
            _row_score([step for step, owner in zip(self.steps, row_owners) if owner == index])
            for index in range(len(row_pieces))
        )
        kept = [index for index, row_score in enumerate(row_scores) if row_score is not None]
        return SegmentMatrix(
            rows=tuple(row_pieces[index] for index in kept),
            row_scores=tuple(row_score for row_score in row_scores if row_score is not None),
            columns=tuple(columns),
            column_tokens=np.bincount(owners, minlength=len(columns)),
            values=values[kept],
            signed=self.signed,
            prompt_length=len(self.prompt),
        )


@dataclasses.dataclass(frozen=True)
class RowScore:
    """The step scores of a row piece: a target token, or several (a word, a line…).

    A piece of several tokens has the product of their probabilities (the
    sum of their log-probabilities); its entropy, rank and alternatives are
    those of its least likely token, where it could most easily have gone
    another way.

    Attributes:
        logprob: the piece's log-probability.
        entropy: nats, at its least likely token.
        rank: that token's rank (1: the likeliest).
        alternatives: the likeliest tokens there, likeliest first.
        tokens: how many tokens the piece has.
    """

    logprob: float
    entropy: float
    rank: int
    alternatives: tuple[Alternative, ...]
    tokens: int

    @property
    def probability(self) -> float:
        """The piece's probability."""
        return float(np.exp(self.logprob))


def _row_score(steps: Sequence[StepScore]) -> RowScore | None:
    """The step scores of a row piece from its tokens' steps, None for a piece without tokens."""
    if not steps:
        return None
    weakest = min(steps, key=lambda step: step.logprob)
    return RowScore(
        logprob=float(sum(step.logprob for step in steps)),
        entropy=weakest.entropy,
        rank=weakest.rank,
        alternatives=weakest.alternatives,
        tokens=len(steps),
    )


@dataclasses.dataclass(frozen=True)
class SegmentMatrix:
    """A token matrix regrouped into row pieces (of the target) and column pieces (of the whole text).

    Attributes:
        rows: the row pieces, offsets into the text.
        row_scores: their step scores, one per row.
        columns: the column pieces, tiling the text.
        column_tokens: tokens per column piece, shape `(columns,)`.
        values: float64, shape `(rows, columns)`, NaN where a column piece
            is absent (it all comes at or after the row piece).
        signed: whether scores can be negative.
        prompt_length: characters in the prompt: columns starting there or
            later are pieces of the target.
    """

    rows: tuple[Segment, ...]
    row_scores: tuple[RowScore, ...]
    columns: tuple[Segment, ...]
    column_tokens: np.ndarray
    values: np.ndarray
    signed: bool
    prompt_length: int

    def domain(self) -> float:
        """D = max(1e-3, max |value|) over the present cells, for a colour scale."""
        present = self.values[~np.isnan(self.values)]
        return max(MIN_DOMAIN, float(np.abs(present).max(initial=0.0)))

    def present(self, row: int) -> int:
        """How many column pieces row `row` has: its present cells are `values[row, :present]`."""
        return int((~np.isnan(self.values[row])).sum())

    def row_explanation(self, row: int) -> SegmentScores:
        """Row `row` as segment scores over the text, for `text_heatmap_html` and `top_segments_figure`.

        Absent pieces score 0 and count as the explained span (outlined,
        and uncoloured unless self salience is on), like the target of a
        one-span explanation.
        """
        values = self.values[row]
        absent = np.isnan(values)
        return SegmentScores(
            segments=self.columns,
            scores=np.where(absent, 0.0, values),
            in_target=absent,
            signed=self.signed,
            token_counts=self.column_tokens,
        )


def attention_layers(spec: str | int, num_layers: int) -> range:
    """The layers an attention matrix averages.

    Args:
        spec: `"all"`, a layer `N` or `"N"`, or an inclusive range `"A-B"`,
            counted from 0 (the first decoder block).
        num_layers: the model's decoder blocks.

    Returns:
        The layer indices.

    Raises:
        SalienceError: a malformed spec or a layer the model does not have.
    """
    text = str(spec).strip()
    if text == "all":
        return range(num_layers)
    match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", text)
    if match is None:
        raise SalienceError(f"Layers {spec!r}: give all, a layer N or a range A-B (counted from 0).")
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) is not None else first
    if not first <= last < num_layers:
        raise SalienceError(f"Layers {spec!r} are not layers 0–{num_layers - 1} of this model, first to last.")
    return range(first, last + 1)


def attention_values(weights: np.ndarray, *, layers: str | int, heads: str) -> np.ndarray:
    """Attention weights aggregated over heads, then averaged over the chosen layers.

    Args:
        weights: shape `(layers, heads, rows, positions)`.
        layers: see `attention_layers`.
        heads: `"mean"` or `"max"` over each layer's heads.

    Returns:
        float64, shape `(rows, positions)`.

    Raises:
        SalienceError: an unknown head aggregation or bad layers.
    """
    if heads not in HEAD_AGGREGATIONS:
        raise SalienceError(f"Heads {heads!r}: combine them by {' or '.join(HEAD_AGGREGATIONS)}.")
    chosen = np.asarray(weights, dtype=np.float64)[list(attention_layers(layers, weights.shape[0]))]
    per_layer = chosen.mean(axis=1) if heads == "mean" else chosen.max(axis=1)
    averaged: np.ndarray = per_layer.mean(axis=0)
    return averaged


@dataclasses.dataclass
class PartialRows:
    """The rows of a gradient matrix computed so far, so a stopped computation resumes where it stopped.

    Attributes:
        scores: shape `(rows, length)`; rows `[0, done)` are filled.
        details: each filled row's details.
        done: how many rows are filled, a multiple of `ROWS_PER_PASS` until the last block.
    """

    scores: np.ndarray
    details: list[Mapping[str, float]]
    done: int = 0

    @classmethod
    def empty(cls, num_targets: int, length: int) -> PartialRows:
        """No row computed yet."""
        return cls(np.zeros((num_targets, length)), [])


def gradient_rows(
    method: SalienceMethod,
    backend: GradientBackend,
    token_ids: np.ndarray,
    num_targets: int,
    params: Mapping[str, Any],
    *,
    on_progress: Callable[[int, int], None] | None = None,
    partial: PartialRows | None = None,
) -> tuple[np.ndarray, tuple[Mapping[str, float], ...]]:
    """A gradient method's scores of each of the last `num_targets` tokens, `ROWS_PER_PASS` rows per pass.

    Args:
        method: a method with a `compute`.
        backend: its gradient backend.
        token_ids: `<bos>` + prompt + target ids, shape `(length,)`.
        num_targets: the target's tokens, the last ones of `token_ids`.
        params: the method's resolved parameters.
        on_progress: called with `(rows done, rows)` after each block,
            outside any backend call: an exception it raises (a stop) ends
            the computation there, with the model free.
        partial: rows already computed, resumed from and filled as blocks
            finish, so the rows done before a stop are kept in it.

    Returns:
        Scores of shape `(num_targets, length)` (position 0 is `<bos>`) and
        each row's details.
    """
    if method.compute is None:
        raise SalienceError(f"{method.name} reads no gradients.")
    length = len(token_ids)
    first = length - num_targets
    partial = partial or PartialRows.empty(num_targets, length)
    for begin in range(partial.done, num_targets, ROWS_PER_PASS):
        rows = range(begin, min(begin + ROWS_PER_PASS, num_targets))
        masks = np.zeros((len(rows), length), dtype=bool)
        masks[np.arange(len(rows)), [first + row for row in rows]] = True
        output = method.compute(backend, token_ids, masks, **params)
        partial.scores[rows.start : rows.stop] = output.scores
        partial.details.extend(output.details)
        partial.done = rows.stop
        if on_progress is not None:
            on_progress(rows.stop, num_targets)
    return partial.scores, tuple(partial.details)


def build_matrix(
    *,
    model_name: str,
    prompt: str,
    target: str,
    method: SalienceMethod,
    params: Mapping[str, Any],
    tokens: Sequence[Segment],
    prompt_tokens: int,
    sequence_scores: np.ndarray,
    steps: Sequence[StepScore],
    details: Sequence[Mapping[str, float]],
    timings: Mapping[str, float],
) -> TokenMatrix:
    """A `TokenMatrix` from per-row scores over the sequence positions.

    Args:
        model_name: the model's name.
        prompt: the prompt text.
        target: the target text.
        method: the method that scored.
        params: its parameters.
        tokens: prompt then target tokens, offsets into `prompt + target`.
        prompt_tokens: how many of them are the prompt's.
        sequence_scores: shape `(rows, positions)`, position 0 being `<bos>`
            and position p + 1 token p; positions past the row's own token's
            predictor may be missing or anything: they become NaN.
        steps: one step score per row.
        details: one mapping per row.
        timings: seconds spent.

    Returns:
        The matrix.
    """
    rows = len(tokens) - prompt_tokens
    values = np.full((rows, len(tokens)), np.nan)
    for row in range(rows):
        before = prompt_tokens + row
        values[row, :before] = sequence_scores[row, 1 : before + 1]
    return TokenMatrix(
        model=model_name,
        prompt=prompt,
        target=target,
        method=method.name,
        signed=method.signed,
        params=dict(params),
        tokens=tuple(tokens),
        prompt_tokens=prompt_tokens,
        values=values,
        steps=tuple(steps),
        details=tuple(details),
        timings=dict(timings),
    )


def reading_steps(reading: AttentionReading, target_spans: Sequence[TokenSpan], vocabulary: Vocabulary) -> list[StepScore]:
    """Step scores from an attention reading's arrays.

    Args:
        reading: an `AttentionBackend.read` result.
        target_spans: the target's token spans (`id`, `text`, `start`, `end`), offsets into the target.
        vocabulary: names the alternatives (`piece_text(id)`).

    Returns:
        One `StepScore` per target token.
    """
    return [
        StepScore(
            id=span.id,
            text=span.text,
            start=span.start,
            end=span.end,
            logprob=float(reading.logprobs[row]),
            entropy=float(reading.entropy[row]),
            rank=int(reading.rank[row]),
            alternatives=tuple(
                Alternative(int(token), vocabulary.piece_text(int(token)), float(value))
                for token, value in zip(reading.top_ids[row], reading.top_logprobs[row])
            ),
        )
        for row, span in enumerate(target_spans)
    ]

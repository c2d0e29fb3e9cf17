"""Sampling-free log-likelihood of continuations under a Gemma.

Each request is a prefix and a continuation; its score is the summed
log-probability of every continuation token given everything before it. The
continuation is tokenized on its own and appended to the prefix's tokens, so
a candidate's tokens never depend on how the prefix happens to end.

Requests run several at a time: one forward pass of the backbone over a
right-padded batch (causal attention means padding after a sequence cannot
change it). Only the hidden states that predict continuation tokens go
through the output projection, because the full vocabulary (262k for Gemma
3) times every position would not fit in memory. Sequence lengths, target
counts and batch sizes are rounded up to buckets so the compiled function is
reused instead of traced again for every call. `step_scores` reads more
of the same distributions: each token's entropy, rank and likeliest
alternatives (`promptkit.steps`); `occluded_logprobs` scores one
continuation after a prompt with each of many pieces left out, reusing the
prompt's cached keys and values (`promptkit.salience.occlusion`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from promptkit.errors import PromptError
from promptkit.models.backend import keras_modules
from promptkit.models.keras_gemma import KerasGemma
from promptkit.steps import Alternative, StepScore

# Rounding up to these keeps the number of distinct traced shapes small.
_LENGTH_BUCKET = 64
_TARGET_BUCKET = 8
DEFAULT_BATCH_SIZE = 8
# Step scores hold (positions, vocabulary) float32 log-probabilities: 128 × 262k is 134 MB.
_STEP_CHUNK = 128


@dataclasses.dataclass(frozen=True)
class ScoredContinuation:
    """How likely a continuation is after its prefix.

    Attributes:
        continuation: the continuation text.
        logprob: summed natural-log probability of all its tokens.
        token_ids: its tokens, shape `(num_tokens,)`.
        token_logprobs: each token's log-probability, same shape.
    """

    continuation: str
    logprob: float
    token_ids: tuple[int, ...]
    token_logprobs: tuple[float, ...]


class ContinuationScorer:
    """Scores continuations with a loaded Gemma, in compiled batches.

    Args:
        model: the model; its lock is held while it runs.
        batch_size: most sequences per forward pass.
    """

    def __init__(self, model: KerasGemma, *, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        if batch_size < 1:
            raise PromptError(f"batch_size must be at least 1 (got {batch_size}).")
        _, _, tf = keras_modules()
        self.model = model
        self.batch_size = batch_size
        self._tf = tf
        self._forward = tf.function(self._forward_fn, reduce_retracing=True)
        self._steps = tf.function(self._steps_fn, reduce_retracing=True)

    def score(self, requests: Sequence[tuple[str, str]]) -> list[float]:
        """Summed log-probabilities of each `(prefix, continuation)` pair, in order."""
        return [scored.logprob for scored in self.score_texts(requests)]

    def score_texts(self, requests: Sequence[tuple[str, str]]) -> list[ScoredContinuation]:
        """Scores `(prefix, continuation)` text pairs.

        Args:
            requests: pairs; the prefix may be empty (then only `<bos>`
                precedes the continuation), the continuation may not.

        Returns:
            One `ScoredContinuation` per pair, in order.

        Raises:
            PromptError: a continuation is empty, or a pair does not fit the
                model's context.
        """
        id_requests = []
        for prefix, continuation in requests:
            if not continuation:
                raise PromptError("A candidate continuation is empty; give each candidate some text.")
            prefix_ids = [self.model.vocabulary.bos_id, *self.model.tokenize(prefix)]
            id_requests.append((prefix_ids, self.model.tokenize(continuation)))
        scored = self.score_ids(id_requests)
        return [
            dataclasses.replace(item, continuation=continuation)
            for item, (_, continuation) in zip(scored, requests)
        ]

    def score_ids(self, requests: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[ScoredContinuation]:
        """Scores `(prefix_ids, continuation_ids)` pairs of token ids.

        Args:
            requests: pairs; each prefix starts with whatever the caller
                wants conditioned on (usually `<bos>`) and is not empty.

        Returns:
            One `ScoredContinuation` per pair, in order, with empty text.

        Raises:
            PromptError: a prefix or continuation is empty, or a pair does
                not fit the model's context.
        """
        self._check(requests)
        # Similar lengths share a batch, so little of each pass is padding.
        order = sorted(range(len(requests)), key=lambda i: len(requests[i][0]) + len(requests[i][1]))
        results: list[ScoredContinuation | None] = [None] * len(requests)
        with self.model.lock:
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                for index, scored in zip(chunk, self._score_batch([requests[i] for i in chunk])):
                    results[index] = scored
        return [result for result in results if result is not None]

    def occluded_logprobs(
        self,
        prefix_ids: Sequence[int],
        pieces: Sequence[tuple[int, int]],
        continuation_ids: Sequence[int],
        *,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> tuple[float, list[float]]:
        """The continuation's log-probability after the prefix, and after it with each piece left out.

        The prefix's keys and values are computed once; leaving out a piece
        then costs one pass over what follows it, since the tokens before it
        are shared. A piece at the end of a long prompt is nearly free.

        Args:
            prefix_ids: what precedes the continuation, `<bos>` first.
            pieces: `(start, end)` ranges of `prefix_ids` to leave out, one
                at a time, with `1 <= start < end <= len(prefix_ids)`.
            continuation_ids: the tokens to score.
            on_progress: called with `(pieces done, pieces)` after each piece.

        Returns:
            The summed log-probability with the whole prefix, and one per piece.

        Raises:
            PromptError: an empty prefix or continuation, a pair longer than
                the model's context, or a piece outside the prefix (or over `<bos>`).
        """
        self._check([(prefix_ids, continuation_ids)])
        prefix, continuation = [int(i) for i in prefix_ids], [int(i) for i in continuation_ids]
        for start, end in pieces:
            if not 1 <= start < end <= len(prefix):
                raise PromptError(
                    f"A piece to leave out must lie in the prompt after <bos> (got tokens {start}–{end} of {len(prefix)})."
                )
        if len(prefix) == 1:  # Only <bos>: nothing to cache, and no piece to leave out.
            return self.score_ids([(prefix, continuation)])[0].logprob, []
        tf, graphs = self._tf, self.model.graphs
        logprobs = []
        with self.model.lock:
            # Positions before the last prefix token are cached; each pass
            # feeds the token before its piece again, so the piece's first
            # prediction has a hidden state.
            cache = graphs.prefill(tf.constant([prefix[:-1]], tf.int32), tf.constant(len(prefix) + len(continuation)))
            for done, (start, end) in enumerate([(len(prefix), len(prefix)), *pieces]):
                fed = [prefix[start - 1], *prefix[end:], *continuation[:-1]]
                positions = np.arange(len(continuation), dtype=np.int32) + len(prefix) - end
                values = graphs.extend_logprobs(
                    tf.constant([fed], tf.int32), cache, tf.constant(start - 1),
                    tf.constant(positions), tf.constant(continuation, tf.int32),
                )
                logprobs.append(float(values.numpy().astype(np.float64).sum()))
                if on_progress is not None and done:
                    on_progress(done, len(pieces))
        return logprobs[0], logprobs[1:]

    def step_scores(self, prefix_ids: Sequence[int], continuation_ids: Sequence[int], *, top_k: int = 5) -> list[StepScore]:
        """What the model thought at each continuation token (teacher-forced).

        Args:
            prefix_ids: what precedes the continuation, usually `<bos>` + prompt tokens.
            continuation_ids: the completion's tokens, shape `(num_tokens,)`.
            top_k: how many alternatives to keep per step.

        Returns:
            One `StepScore` per continuation token, offsets into the
            continuation's decoded text.

        Raises:
            PromptError: an empty prefix or continuation, a pair longer than
                the model's context, a token id outside the vocabulary, or
                `top_k` outside [1, vocabulary size].
        """
        self._check([(prefix_ids, continuation_ids)])
        vocabulary = self.model.vocabulary
        if not 1 <= top_k <= vocabulary.size:
            raise PromptError(f"top_k must be between 1 and {vocabulary.size} (got {top_k}).")
        foreign = [int(token) for token in continuation_ids if not 0 <= int(token) < vocabulary.size]
        if foreign:
            raise PromptError(
                f"Token id {foreign[0]} is not in {self.model.info.name}'s vocabulary of {vocabulary.size} "
                "pieces; score another model's completion by its text, not its ids."
            )
        tf = self._tf
        sequence = [*prefix_ids, *continuation_ids]
        width = _round_up(len(sequence), _LENGTH_BUCKET)
        token_ids = np.full((1, width), vocabulary.pad_id, dtype=np.int32)
        token_ids[0, : len(sequence)] = sequence
        padding_mask = (np.arange(width) < len(sequence)).astype(np.int32)[None]
        outputs = []
        with self.model.lock:
            for start in range(0, len(continuation_ids), _STEP_CHUNK):
                chunk = continuation_ids[start : start + _STEP_CHUNK]
                count = _round_up(len(chunk), _TARGET_BUCKET)
                positions = np.zeros((1, count), dtype=np.int32)
                positions[0, : len(chunk)] = np.arange(len(chunk)) + len(prefix_ids) + start - 1
                targets = np.zeros((1, count), dtype=np.int32)
                targets[0, : len(chunk)] = chunk
                values = self._steps(
                    tf.constant(token_ids), tf.constant(padding_mask), tf.constant(positions), tf.constant(targets), top_k
                )
                outputs.append([value.numpy()[0, : len(chunk)] for value in values])
        chosen, entropy, rank, top_values, top_ids = (np.concatenate(column) for column in zip(*outputs))
        spans = self.model.token_spans(continuation_ids)
        return [
            StepScore(
                id=span.id,
                text=span.text,
                start=span.start,
                end=span.end,
                logprob=float(chosen[i]),
                entropy=float(entropy[i]),
                rank=int(rank[i]),
                alternatives=tuple(
                    Alternative(int(token), vocabulary.piece_text(int(token)), float(value))
                    for token, value in zip(top_ids[i], top_values[i])
                ),
            )
            for i, span in enumerate(spans)
        ]

    def _check(self, requests: Sequence[tuple[Sequence[int], Sequence[int]]]) -> None:
        limit = self.model.info.context_length
        for index, (prefix, continuation) in enumerate(requests, start=1):
            if not prefix or not continuation:
                raise PromptError(f"Request {index} has an empty prefix or continuation.")
            if len(prefix) + len(continuation) > limit:
                raise PromptError(
                    f"Request {index} is {len(prefix) + len(continuation)} tokens long, over "
                    f"{self.model.info.name}'s context of {limit} tokens; shorten the prompt."
                )

    def _score_batch(self, batch: list[tuple[Sequence[int], Sequence[int]]]) -> list[ScoredContinuation]:
        tf = self._tf
        lengths = [len(prefix) + len(continuation) for prefix, continuation in batch]
        width = _round_up(max(lengths), _LENGTH_BUCKET)
        targets = _round_up(max(len(continuation) for _, continuation in batch), _TARGET_BUCKET)
        rows = len(batch)
        pad = self.model.vocabulary.pad_id
        token_ids = np.full((rows, width), pad, dtype=np.int32)
        padding_mask = np.zeros((rows, width), dtype=np.int32)
        positions = np.zeros((rows, targets), dtype=np.int32)
        target_ids = np.zeros((rows, targets), dtype=np.int32)
        for row, (prefix, continuation) in enumerate(batch):
            sequence = [*prefix, *continuation]
            token_ids[row, : len(sequence)] = sequence
            padding_mask[row, : len(sequence)] = 1
            # The hidden state at position p predicts the token at p + 1.
            positions[row, : len(continuation)] = np.arange(len(prefix) - 1, len(sequence) - 1)
            target_ids[row, : len(continuation)] = continuation
        logprobs = self._forward(
            tf.constant(token_ids), tf.constant(padding_mask), tf.constant(positions), tf.constant(target_ids)
        ).numpy()
        scored = []
        for row, (_, continuation) in enumerate(batch):
            values = logprobs[row, : len(continuation)].astype(np.float64)
            scored.append(
                ScoredContinuation(
                    continuation="",
                    logprob=float(values.sum()),
                    token_ids=tuple(int(token) for token in continuation),
                    token_logprobs=tuple(float(value) for value in values),
                )
            )
        return scored

    def _steps_fn(self, token_ids: Any, padding_mask: Any, positions: Any, target_ids: Any, top_k: int) -> Any:
        """Per target: log-probability, entropy (nats), rank and the `top_k` likeliest tokens.

        Shapes as `_forward_fn`; returns `(batch, targets)` float32, float32,
        int32, and `(batch, targets, top_k)` float32 values and int32 ids.
        """
        tf = self._tf
        logprobs = self._log_softmax_at(token_ids, padding_mask, positions)  # (batch, targets, vocabulary)
        chosen = tf.gather(logprobs, target_ids, batch_dims=2)
        entropy = -tf.reduce_sum(tf.math.multiply_no_nan(logprobs, tf.exp(logprobs)), axis=-1)
        rank = 1 + tf.reduce_sum(tf.cast(logprobs > chosen[..., None], tf.int32), axis=-1)
        top = tf.math.top_k(logprobs, k=top_k)
        return chosen, entropy, rank, top.values, top.indices

    def _forward_fn(self, token_ids: Any, padding_mask: Any, positions: Any, target_ids: Any) -> Any:
        """Log-probabilities of the target tokens.

        Args:
            token_ids: `(batch, length)` int32, right-padded.
            padding_mask: `(batch, length)`, 1 on real tokens.
            positions: `(batch, targets)` positions whose hidden state
                predicts each target.
            target_ids: `(batch, targets)` the tokens to score.

        Returns:
            `(batch, targets)` float32 log-probabilities (padding entries
            are meaningless; callers slice them off).
        """
        logprobs = self._log_softmax_at(token_ids, padding_mask, positions)
        return self._tf.gather(logprobs, target_ids, batch_dims=2)

    def _log_softmax_at(self, token_ids: Any, padding_mask: Any, positions: Any) -> Any:
        """`(batch, targets, vocabulary)` float32 next-token log-probabilities at `positions`."""
        tf = self._tf
        backbone = self.model.backbone
        hidden = backbone({"token_ids": token_ids, "padding_mask": padding_mask})  # (batch, length, hidden)
        picked = tf.gather(hidden, positions, batch_dims=1)  # (batch, targets, hidden)
        # The reversed embedding is the causal LM's own output head,
        # including Gemma 2's final logit soft-capping.
        logits = backbone.token_embedding(picked, reverse=True)  # (batch, targets, vocabulary)
        return tf.nn.log_softmax(tf.cast(logits, "float32"))


def _round_up(value: int, bucket: int) -> int:
    return -(-value // bucket) * bucket

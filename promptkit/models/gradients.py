"""Gradients of a target's loss with respect to Gemma's token embeddings.

The only TensorFlow part of salience. Sequence = `<bos>` + prompt + target
tokens; a target mask marks the tokens to explain, and the loss of a mask is
the sum over its tokens of −log p(token | everything before it). Gradients
are taken with respect to the output of the token-embedding lookup, *before*
Gemma multiplies it by √hidden_dim, for Gemma 1, 2 and 3 alike: the forward
pass below re-runs the backbone's layers itself (`Gemma3CausalLM` has no
`score()`), so it also works where KerasHub offers no intercept hook.

Speed, on a CPU:
- Logits are computed only at the positions that predict a masked token, not
  over the whole sequence (the vocabulary projection is as costly as all
  transformer layers of Gemma 3 270M).
- Several masks of one sequence run as one batch, one row per mask, so
  they cost one batched forward and backward pass rather than one each.
- Only gradients with respect to the embeddings are requested; inside a
  compiled function the weight-gradient ops are pruned.
- Every function is traced once per model with dynamic batch and length
  dimensions, so a new prompt length never triggers a retrace.
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from typing import Any

import numpy as np

from promptkit.models.backend import keras_modules
from promptkit.models.gemma_model import GemmaModel


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
class IntegratedGradientsResult:
    """Integrated-gradients attributions of several target losses.

    Attributes:
        attributions: per-token attribution, shape `(num_targets, length)`.
        losses: loss at the input, shape `(num_targets,)`.
        baseline_losses: loss at the baseline, shape `(num_targets,)`.
        completeness_error: |Σ attributions − (loss − baseline loss)|, shape
            `(num_targets,)`; it shrinks as the number of steps grows.
    """

    attributions: np.ndarray
    losses: np.ndarray
    baseline_losses: np.ndarray
    completeness_error: np.ndarray


class GradientComputer:
    """Computes target-loss gradients for one loaded Gemma.

    Args:
        model: the loaded model; its `lock` is held while the model runs.
    """

    def __init__(self, model: GemmaModel) -> None:
        keras, _, tf = keras_modules()
        self._keras, self._tf = keras, tf
        self.model = model
        backbone = model.backbone
        self._hidden = int(backbone.hidden_dim)
        self._dtype = backbone.token_embedding.compute_dtype
        self.trace_count = 0
        self._trace_lock = threading.Lock()
        ids = tf.TensorSpec([None], tf.int32)
        weights = tf.TensorSpec([None, None], tf.float32)
        positions = tf.TensorSpec([None], tf.int32)
        rows = tf.TensorSpec([None, None, self._hidden], self._dtype)
        self._rows = tf.function(self._rows_fn, input_signature=[rows, ids, weights, positions])
        self._row_losses = tf.function(self._row_losses_fn, input_signature=[rows, ids, weights, positions])
        self._logits = tf.function(self._logits_fn, input_signature=[rows, positions])

    def _count_trace(self) -> None:
        # Runs only while tracing, so it counts compilations, not calls.
        with self._trace_lock:
            self.trace_count += 1

    def _embed(self, ids: Any) -> Any:
        """Embedding lookup, shape `(1, length, hidden)`."""
        return self.model.backbone.token_embedding(ids[None, :])

    def _logits_fn(self, embeddings: Any, positions: Any) -> Any:
        """Logits at `positions` from unscaled embeddings.

        Args:
            embeddings: shape `(rows, length, hidden)`.
            positions: sequence positions whose next-token logits are wanted,
                shape `(num_positions,)`.

        Returns:
            float32 logits, shape `(rows, num_positions, vocabulary)`.
        """
        self._count_trace()
        keras, tf = self._keras, self._tf
        backbone = self.model.backbone
        # Same scaling expression as the backbones, so the logits match theirs.
        x = embeddings * keras.ops.cast(keras.ops.sqrt(backbone.hidden_dim), embeddings.dtype)
        # No padding anywhere: every row is the whole sequence.
        padding_mask = tf.ones(tf.shape(embeddings)[:2], tf.int32)
        for layer in backbone.transformer_layers:
            x = layer(x, padding_mask=padding_mask)
        x = backbone.layer_norm(x)
        x = tf.gather(x, positions, axis=1)
        # `reverse=True` applies Gemma 2's final logit soft cap when configured.
        return tf.cast(backbone.token_embedding(x, reverse=True), tf.float32)

    def _losses(self, embeddings: Any, ids: Any, weights: Any, positions: Any) -> Any:
        """Per-row losses: Σ_p weights[r, p] · −log p(ids[positions[p] + 1]).

        Returns:
            shape `(rows,)`; `weights` has one row per embedding row.
        """
        tf = self._tf
        logits = self._logits_fn(embeddings, positions)
        targets = tf.gather(ids, positions + 1)
        # gather → (rows, P, P); its diagonal is each position's own target.
        picked = tf.linalg.diag_part(tf.gather(logits, targets, axis=2))
        nll = tf.reduce_logsumexp(logits, axis=-1) - picked
        return tf.reduce_sum(nll * weights, axis=1)

    def _rows_fn(self, embeddings: Any, ids: Any, weights: Any, positions: Any) -> tuple[Any, Any]:
        tf = self._tf
        with tf.GradientTape() as tape:
            tape.watch(embeddings)
            losses = self._losses(embeddings, ids, weights, positions)
        # Rows are independent, so the gradient of their summed losses is per row.
        return losses, tf.cast(tape.gradient(losses, embeddings), tf.float32)

    def _row_losses_fn(self, embeddings: Any, ids: Any, weights: Any, positions: Any) -> Any:
        return self._losses(embeddings, ids, weights, positions)

    def _inputs(self, token_ids: np.ndarray, target_masks: np.ndarray) -> tuple[Any, Any, Any]:
        """Checks inputs; returns ids, per-target weights and predicting positions."""
        tf = self._tf
        ids = np.asarray(token_ids, dtype=np.int32)
        masks = np.asarray(target_masks, dtype=bool)
        if ids.ndim != 1 or masks.ndim != 2 or masks.shape[1] != ids.shape[0]:
            raise ValueError(f"need ids (length,) and masks (targets, length); got {ids.shape}, {masks.shape}")
        if masks[:, 0].any() or not masks.any(axis=1).all():
            raise ValueError("every target mask needs a token, and position 0 (<bos>) cannot be a target")
        targets = np.flatnonzero(masks.any(axis=0))
        weights = masks[:, targets].astype(np.float32)
        return tf.constant(ids), tf.constant(weights), tf.constant(targets - 1, dtype=tf.int32)

    def gradients(self, token_ids: np.ndarray, target_masks: np.ndarray, *, max_rows: int = 8) -> GradientResult:
        """Gradients of every target mask's loss, one batch row per target.

        Args:
            token_ids: `<bos>` + prompt + target ids, shape `(length,)`.
            target_masks: bool, shape `(num_targets, length)`; row t marks the
                tokens whose −log p make up target t's loss.
            max_rows: most targets per batched forward/backward pass; more
                are split into several passes to bound memory.

        Returns:
            Losses, gradients and the embeddings they are taken against.
        """
        tf = self._tf
        ids, weights, positions = self._inputs(token_ids, target_masks)
        losses, gradients = [], []
        with self.model.lock:
            embeddings = self._embed(ids)
            for begin in range(0, int(weights.shape[0]), max_rows):
                rows = weights[begin : begin + max_rows]
                tiled = tf.repeat(embeddings, int(rows.shape[0]), axis=0)
                chunk_losses, chunk_gradients = self._rows(tiled, ids, rows, positions)
                losses.append(chunk_losses.numpy())
                gradients.append(chunk_gradients.numpy())
        return GradientResult(
            np.concatenate(losses), np.concatenate(gradients), tf.cast(embeddings[0], tf.float32).numpy()
        )

    def losses(self, embeddings: np.ndarray, token_ids: np.ndarray, target_masks: np.ndarray) -> np.ndarray:
        """Losses of each target mask for each row of (possibly altered) embeddings.

        Args:
            embeddings: shape `(rows, length, hidden)`.
            token_ids: shape `(length,)`; supplies the target tokens.
            target_masks: bool, shape `(rows, length)`.

        Returns:
            shape `(rows,)`.
        """
        ids, weights, positions = self._inputs(token_ids, target_masks)
        with self.model.lock:
            return self._row_losses(self._tf.constant(embeddings, self._dtype), ids, weights, positions).numpy()

    def integrated_gradients(
        self,
        token_ids: np.ndarray,
        target_masks: np.ndarray,
        *,
        steps: int = 16,
        batch_size: int = 8,
        baseline: str = "zero",
    ) -> IntegratedGradientsResult:
        """Integrated gradients along the straight path from a baseline (midpoint rule).

        The baseline keeps `<bos>` at its real embedding (the model never
        sees a sequence without it), so the attributions of the listed
        tokens sum to loss − baseline loss up to the completeness error.

        Args:
            token_ids: shape `(length,)`.
            target_masks: bool, shape `(num_targets, length)`.
            steps: path points per target.
            batch_size: path points (rows) per forward/backward batch.
            baseline: `"zero"`: every other token's embedding is zero.
                Gemma's RMSNorms make the loss vary over many decades of
                tiny α near an all-zero input, which no affordable number of
                points resolves, so its completeness error need not shrink
                with more steps. `"pad"`: every other token is `<pad>`; the
                path then stays away from zero and the error does shrink.

        Returns:
            Attributions, shape `(num_targets, length)`, with the losses at
            both ends of the path and the completeness error.
        """
        if baseline not in ("zero", "pad"):
            raise ValueError(f"unknown baseline {baseline!r}; use 'zero' or 'pad'")
        if steps < 1 or batch_size < 1:
            raise ValueError("steps and batch_size must be at least 1")
        tf = self._tf
        ids, weights, positions = self._inputs(token_ids, target_masks)
        with self.model.lock:
            embeddings = self._embed(ids)[0].numpy().astype(np.float32)
            if baseline == "zero":
                start = np.zeros_like(embeddings)
            else:
                pad = self._embed(tf.constant([self.model.vocabulary.pad_id], tf.int32))[0, 0].numpy()
                start = np.repeat(pad[None].astype(np.float32), len(embeddings), 0)
            start[0] = embeddings[0]
            alphas = (np.arange(steps, dtype=np.float32) + 0.5) / steps
            # Rows enumerate (target, path point) pairs, `batch_size` at a time.
            pairs = [(t, k) for t in range(weights.shape[0]) for k in range(steps)]
            total = np.zeros((weights.shape[0],) + embeddings.shape, np.float32)
            for begin in range(0, len(pairs), batch_size):
                chunk = pairs[begin : begin + batch_size]
                rows = np.stack([start + alphas[k] * (embeddings - start) for _, k in chunk])
                row_weights = tf.gather(weights, [t for t, _ in chunk])
                _, grads = self._rows(tf.constant(rows, self._dtype), ids, row_weights, positions)
                for (t, k), grad in zip(chunk, grads.numpy()):
                    total[t] += grad / steps
            count = int(weights.shape[0])
            ends = np.concatenate([np.repeat(embeddings[None], count, 0), np.repeat(start[None], count, 0)])
            end_losses = self._row_losses(
                tf.constant(ends, self._dtype), ids, tf.concat([weights, weights], 0), positions
            ).numpy()
        attributions = np.einsum("tlh,lh->tl", total, embeddings - start)
        losses, baseline_losses = np.split(end_losses, 2)
        error = np.abs(attributions.sum(axis=1) - (losses - baseline_losses))
        return IntegratedGradientsResult(attributions, losses, baseline_losses, error)

    def forward_logits(self, token_ids: np.ndarray) -> np.ndarray:
        """Next-token logits at every position, through this module's forward.

        Args:
            token_ids: shape `(length,)`.

        Returns:
            float32, shape `(length, vocabulary)`; equal to the causal LM's own.
        """
        ids = self._tf.constant(np.asarray(token_ids, np.int32))
        with self.model.lock:
            logits = self._logits(self._embed(ids), self._tf.range(len(token_ids)))
        return logits.numpy()[0]


_COMPUTERS: weakref.WeakKeyDictionary[GemmaModel, GradientComputer] = weakref.WeakKeyDictionary()
_COMPUTERS_LOCK = threading.Lock()


def gradient_computer(model: GemmaModel) -> GradientComputer:
    """The model's shared `GradientComputer`, so its graphs are traced once per model.

    Args:
        model: a loaded model; the computer is dropped along with it.

    Returns:
        The same computer for every call with the same model.
    """
    with _COMPUTERS_LOCK:
        if model not in _COMPUTERS:
            _COMPUTERS[model] = GradientComputer(model)
        return _COMPUTERS[model]

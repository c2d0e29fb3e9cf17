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
- Several masks of one sequence share one forward pass: a persistent tape
  records it once and each mask gets its own backward pass from it, so k
  masks cost F + k·B rather than k·(F + B). The backward pass through the
  vocabulary projection is shared too: each position's loss depends only on
  its own final hidden state, so one pass gives every position's hidden
  gradient and each mask's pass starts from its positions' share of it.
- Only gradients with respect to the embeddings are requested; inside a
  compiled function the weight-gradient ops are pruned.
- Every function has dynamic batch and length dimensions, so a new prompt
  length never triggers a retrace. The shared-forward function unrolls its
  backward passes, so it is traced once per number of masks (at most
  `max_rows` of them); a `tf.while_loop` over masks measured no faster
  than separate calls.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from promptkit.models.api import GradientResult
from promptkit.models.backend import keras_modules
from promptkit.models.integrated_gradients import integrated_gradients as _integrated_gradients
from promptkit.models.integrated_gradients_path import IntegratedGradientsResult
from promptkit.models.keras_gemma import KerasGemma


class GradientComputer:
    """Computes target-loss gradients for one loaded Gemma.

    Args:
        model: the loaded model; its `lock` is held while the model runs.
    """

    def __init__(self, model: KerasGemma) -> None:
        keras, _, tf = keras_modules()
        self._keras, self.tf = keras, tf
        self.model = model
        backbone = model.backbone
        self._hidden = int(backbone.hidden_dim)
        self.dtype = backbone.token_embedding.compute_dtype
        self.trace_count = 0
        self._trace_lock = threading.Lock()
        self._ids_spec = tf.TensorSpec([None], tf.int32)
        self._positions_spec = tf.TensorSpec([None], tf.int32)
        weights = tf.TensorSpec([None, None], tf.float32)
        rows = tf.TensorSpec([None, None, self._hidden], self.dtype)
        signature = [rows, self._ids_spec, weights, self._positions_spec]
        self.rows = tf.function(self._rows_fn, input_signature=signature)
        self.row_losses = tf.function(self._row_losses_fn, input_signature=signature)
        self._logits = tf.function(self._logits_fn, input_signature=[rows, self._positions_spec])
        self._shared: dict[int, Any] = {}

    def _count_trace(self) -> None:
        # Runs only while tracing, so it counts compilations, not calls.
        with self._trace_lock:
            self.trace_count += 1

    def embed(self, ids: Any) -> Any:
        """Embedding lookup of ids `(length,)`, shape `(1, length, hidden)`."""
        return self.model.backbone.token_embedding(ids[None, :])

    def _final_hidden(self, embeddings: Any, positions: Any) -> Any:
        """Final-norm hidden states at `positions` from unscaled embeddings.

        Args:
            embeddings: shape `(rows, length, hidden)`.
            positions: sequence positions whose next-token logits are wanted,
                shape `(num_positions,)`.

        Returns:
            shape `(rows, num_positions, hidden)`.
        """
        keras, tf = self._keras, self.tf
        backbone = self.model.backbone
        # Same scaling expression as the backbones, so the logits match theirs.
        x = embeddings * keras.ops.cast(keras.ops.sqrt(backbone.hidden_dim), embeddings.dtype)
        # No padding anywhere: every row is the whole sequence.
        padding_mask = tf.ones(tf.shape(embeddings)[:2], tf.int32)
        for layer in backbone.transformer_layers:
            x = layer(x, padding_mask=padding_mask)
        return tf.gather(backbone.layer_norm(x), positions, axis=1)

    def _hidden_logits(self, hidden: Any) -> Any:
        """float32 logits `(rows, num_positions, vocabulary)` of final hidden states."""
        # `reverse=True` applies Gemma 2's final logit soft cap when configured.
        return self.tf.cast(self.model.backbone.token_embedding(hidden, reverse=True), self.tf.float32)

    def _logits_fn(self, embeddings: Any, positions: Any) -> Any:
        """float32 logits `(rows, num_positions, vocabulary)` at `positions` from unscaled embeddings."""
        self._count_trace()
        return self._hidden_logits(self._final_hidden(embeddings, positions))

    def _position_losses(self, embeddings: Any, ids: Any, positions: Any) -> Any:
        """−log p(ids[positions[p] + 1]) at each position, shape `(rows, num_positions)`."""
        return self._hidden_losses(self._logits_fn(embeddings, positions), ids, positions)

    def _hidden_losses(self, logits: Any, ids: Any, positions: Any) -> Any:
        """−log p(ids[positions[p] + 1]) from logits `(rows, P, vocabulary)`, shape `(rows, P)`."""
        tf = self.tf
        targets = tf.gather(ids, positions + 1)
        # gather → (rows, P, P); its diagonal is each position's own target.
        picked = tf.linalg.diag_part(tf.gather(logits, targets, axis=2))
        return tf.reduce_logsumexp(logits, axis=-1) - picked

    def _losses(self, embeddings: Any, ids: Any, weights: Any, positions: Any) -> Any:
        """Per-row losses: Σ_p weights[r, p] · −log p(ids[positions[p] + 1]).

        Returns:
            shape `(rows,)`; `weights` has one row per embedding row.
        """
        return self.tf.reduce_sum(self._position_losses(embeddings, ids, positions) * weights, axis=1)

    def _shared_fn(self, embeddings: Any, ids: Any, weights: Any, positions: Any) -> tuple[Any, Any]:
        """Losses and gradients of several targets from one forward pass.

        Args:
            embeddings: shape `(1, length, hidden)`.
            weights: shape `(num_targets, num_positions)`, num_targets static.

        Returns:
            losses `(num_targets,)`, float32 gradients `(num_targets, length, hidden)`.
        """
        tf = self.tf
        self._count_trace()
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(embeddings)
            hidden = self._final_hidden(embeddings, positions)
            nll = self._hidden_losses(self._hidden_logits(hidden), ids, positions)
        # Position p's loss depends on hidden[p] alone, so one backward pass
        # through the vocabulary projection gives every position's gradient.
        hidden_gradient = tape.gradient(nll, hidden)
        seeds = tf.cast(weights, hidden_gradient.dtype)
        # Target t's loss is weights[t]·nll: its gradient is the backward pass
        # through the layers seeded with the weighted hidden gradient.
        gradients = [
            tape.gradient(hidden, embeddings, output_gradients=hidden_gradient * seeds[t][None, :, None])[0]
            for t in range(weights.shape[0])
        ]
        return tf.linalg.matvec(weights, nll[0]), tf.cast(tf.stack(gradients), tf.float32)

    def _shared_function(self, num_targets: int) -> Any:
        """The compiled `_shared_fn` for `num_targets` targets, traced on first use."""
        tf = self.tf
        with self._trace_lock:
            if num_targets not in self._shared:
                embeddings = tf.TensorSpec([1, None, self._hidden], self.dtype)
                weights = tf.TensorSpec([num_targets, None], tf.float32)
                self._shared[num_targets] = tf.function(
                    self._shared_fn, input_signature=[embeddings, self._ids_spec, weights, self._positions_spec]
                )
            return self._shared[num_targets]

    def one_target_graph(self) -> Any:
        """The compiled graph `gradients` runs for one target (a salience view's), for warming it up."""
        return self._shared_function(1)

    def _rows_fn(self, embeddings: Any, ids: Any, weights: Any, positions: Any) -> tuple[Any, Any]:
        """Losses `(rows,)` and float32 gradients `(rows, length, hidden)` of rows with their own embeddings."""
        tf = self.tf
        with tf.GradientTape() as tape:
            tape.watch(embeddings)
            losses = self._losses(embeddings, ids, weights, positions)
        # Rows are independent, so the gradient of their summed losses is per row.
        return losses, tf.cast(tape.gradient(losses, embeddings), tf.float32)

    def _row_losses_fn(self, embeddings: Any, ids: Any, weights: Any, positions: Any) -> Any:
        return self._losses(embeddings, ids, weights, positions)

    def inputs(self, token_ids: np.ndarray, target_masks: np.ndarray) -> tuple[Any, Any, Any]:
        """Checks inputs; returns ids, per-target weights and predicting positions.

        Returns:
            ids `(length,)`, weights `(num_targets, num_positions)` and the
            positions predicting a masked token `(num_positions,)`.
        """
        tf = self.tf
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
        """Gradients of every target mask's loss, one shared forward pass per `max_rows` targets.

        Args:
            token_ids: `<bos>` + prompt + target ids, shape `(length,)`.
            target_masks: bool, shape `(num_targets, length)`; row t marks the
                tokens whose −log p make up target t's loss.
            max_rows: most targets per forward pass; more are split into
                several passes, which bounds the graphs traced (one per count).

        Returns:
            Losses, gradients and the embeddings they are taken against.
        """
        tf = self.tf
        ids, weights, positions = self.inputs(token_ids, target_masks)
        losses, gradients = [], []
        with self.model.lock:
            embeddings = self.embed(ids)
            for begin in range(0, int(weights.shape[0]), max_rows):
                rows = weights[begin : begin + max_rows]
                shared = self._shared_function(int(rows.shape[0]))
                chunk_losses, chunk_gradients = shared(embeddings, ids, rows, positions)
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
        ids, weights, positions = self.inputs(token_ids, target_masks)
        with self.model.lock:
            losses: np.ndarray = self.row_losses(self.tf.constant(embeddings, self.dtype), ids, weights, positions).numpy()
            return losses

    def integrated_gradients(
        self,
        token_ids: np.ndarray,
        target_masks: np.ndarray,
        *,
        steps: int = 16,
        batch_size: int = 8,
        baseline: str = "zero",
    ) -> IntegratedGradientsResult:
        """Integrated gradients of every target mask's loss; see `promptkit.models.integrated_gradients`.

        Args:
            token_ids: shape `(length,)`.
            target_masks: bool, shape `(num_targets, length)`.
            steps: path points per target.
            batch_size: path points per forward/backward batch.
            baseline: `"zero"` or `"pad"` (`integrated_gradients_path.BASELINES`).

        Returns:
            Attributions `(num_targets, length)`, the losses at both ends of
            the path and the completeness error.
        """
        return _integrated_gradients(
            self, token_ids, target_masks, steps=steps, batch_size=batch_size, baseline=baseline
        )

    def forward_logits(self, token_ids: np.ndarray) -> np.ndarray:
        """Next-token logits at every position, through this module's forward.

        Args:
            token_ids: shape `(length,)`.

        Returns:
            float32, shape `(length, vocabulary)`; equal to the causal LM's own.
        """
        ids = self.tf.constant(np.asarray(token_ids, np.int32))
        with self.model.lock:
            logits = self._logits(self.embed(ids), self.tf.range(len(token_ids)))
        first: np.ndarray = logits.numpy()[0]
        return first

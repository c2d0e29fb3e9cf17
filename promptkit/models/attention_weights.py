"""Gemma's own attention weights, read from one forward pass, with the step scores of the same pass.

KerasHub's attention layers (`CachedGemmaAttention` for Gemma 1 and 2,
`CachedGemma3Attention` for Gemma 3) return only their output, never the
softmax they computed. So the forward pass below runs the backbone's
decoder blocks itself, as `promptkit.models.gradients` does, and before
each block recomputes that block's attention probabilities from the
block's own sublayers: `pre_attention_norm`, the query and key
projections, Gemma 3's query/key RMSNorms, the layer's rotary embedding
(`_apply_rope`), the query scaling, Gemma 2's attention-logit soft cap,
the causal mask and, on sliding-window layers, the window. The block
itself then runs unchanged, so the hidden states (and the step scores read
from them) are the model's. Recomputing queries only at the positions that
predict a token, and keys once per layer, adds a few percent to the pass.

Sliding-window layers (Gemma 2's every other layer, five in six of Gemma
3's) let position t attend to positions t − window + 1 … t only; weights
on earlier positions are exactly 0 on those layers. Gemma 3 270M's window
is 512 tokens, so only longer sequences see it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from promptkit.models.api import AttentionReading
from promptkit.models.backend import keras_modules
from promptkit.models.keras_gemma import KerasGemma

# Next-token distributions are (rows, vocabulary) float32: 32 rows of Gemma 3's 262k are 34 MB.
_STEP_ROWS = 32


class AttentionReader:
    """Reads attention weights and step scores of one loaded Gemma (Gemma 1, 2 or 3).

    Args:
        model: the loaded model; its `lock` is held while it runs.
        top_k: alternatives kept per step.
    """

    def __init__(self, model: KerasGemma, *, top_k: int = 5) -> None:
        keras, _, tf = keras_modules()
        self._keras, self.tf = keras, tf
        self.model = model
        self.top_k = top_k
        self._read = tf.function(
            self._read_fn, input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.int32)]
        )

    @property
    def num_layers(self) -> int:
        """The backbone's decoder blocks."""
        return len(self.model.backbone.transformer_layers)

    def read(self, token_ids: np.ndarray, num_targets: int) -> AttentionReading:
        """Attention weights and step scores for the last `num_targets` tokens of a sequence.

        Args:
            token_ids: `<bos>` + prompt + target ids, shape `(length,)`.
            num_targets: how many tokens at the end are explained (the target's).

        Returns:
            The reading; its weights span positions `0 … length − 2` (the last
            token is predicted, never attended to), shape
            `(layers, heads, num_targets, length − 1)`.

        Raises:
            ValueError: no target token, or a target that would include `<bos>`.
        """
        ids = np.asarray(token_ids, dtype=np.int32)
        if ids.ndim != 1 or not 1 <= num_targets < len(ids):
            raise ValueError(f"need ids (length,) and 1 ≤ num_targets < length; got {ids.shape}, {num_targets}")
        tf = self.tf
        with self.model.lock:
            outputs = self._read(tf.constant(ids[:-1]), tf.constant(ids[-num_targets:]))
        weights, logprobs, entropy, rank, top_logprobs, top_ids = (value.numpy() for value in outputs)
        return AttentionReading(weights, logprobs, entropy, rank, top_ids, top_logprobs)

    def _read_fn(self, ids: Any, targets: Any) -> tuple[Any, ...]:
        """The compiled pass: ids `(length,)` whose last `rows` positions predict `targets` `(rows,)`.

        Returns:
            weights `(layers, heads, rows, length)` float32, then per row the
            target's log-probability, the entropy, the rank, and the `top_k`
            likeliest tokens' log-probabilities and ids.
        """
        tf, keras = self.tf, self._keras
        backbone = self.model.backbone
        first = tf.shape(ids)[0] - tf.shape(targets)[0]
        embeddings = backbone.token_embedding(ids[None, :])
        # Same scaling expression as the backbones (and `promptkit.models.gradients`).
        x = embeddings * keras.ops.cast(keras.ops.sqrt(backbone.hidden_dim), embeddings.dtype)
        padding_mask = tf.ones(tf.shape(x)[:2], tf.int32)
        weights = []
        for layer in backbone.transformer_layers:
            weights.append(self._probabilities(layer.attention, layer.pre_attention_norm(x), first))
            x = layer(x, padding_mask=padding_mask)
        hidden = backbone.layer_norm(x)[0, first:]
        steps = self._step_scores(hidden, targets)
        return (tf.stack(weights), *steps)

    def _probabilities(self, attention: Any, x: Any, first: Any) -> Any:
        """One layer's attention probabilities from positions `first …` over all positions.

        Args:
            attention: the decoder block's attention layer.
            x: its input, the block's pre-attention-normed hidden states, shape `(1, length, hidden)`.
            first: the first query position.

        Returns:
            float32, shape `(heads, length − first, length)`.
        """
        tf = self.tf
        query = attention.query_dense(x[:, first:])
        key = attention.key_dense(x)
        if getattr(attention, "use_query_key_norm", False):  # Gemma 3
            query, key = attention.query_norm(query), attention.key_norm(key)
        query = attention._apply_rope(query, first)
        key = attention._apply_rope(key, 0)
        if attention.query_head_dim_normalize:
            scale = 1 / np.sqrt(attention.head_dim)
        else:
            scale = 1 / np.sqrt(attention.hidden_dim // attention.num_query_heads)
        query = query * tf.cast(scale, query.dtype)
        heads, kv_heads = attention.num_query_heads, attention.num_key_value_heads
        rows, length = tf.shape(query)[1], tf.shape(key)[1]
        # Query head n reads key/value head n // (heads / kv_heads), as in the layer.
        grouped = tf.reshape(query, (1, rows, kv_heads, heads // kv_heads, attention.head_dim))
        logits = tf.cast(tf.einsum("btkgh,bskh->bkgts", grouped, key), tf.float32)
        if attention.logit_soft_cap is not None:  # Gemma 2
            logits = tf.tanh(logits / attention.logit_soft_cap) * attention.logit_soft_cap
        queries = tf.range(first, length)[:, None]
        keys = tf.range(length)[None, :]
        allowed = keys <= queries
        if attention.use_sliding_window_attention:
            allowed = tf.logical_and(allowed, queries - keys < attention.sliding_window_size)
        probabilities = tf.nn.softmax(tf.where(allowed, logits, -np.inf), axis=-1)
        return tf.reshape(probabilities, (heads, rows, length))

    def _step_scores(self, hidden: Any, targets: Any) -> tuple[Any, ...]:
        """Per target: log-probability, entropy, rank, and the top-k log-probabilities and ids.

        Args:
            hidden: final-norm hidden states predicting the targets, shape `(rows, hidden)`.
            targets: the target ids, shape `(rows,)`.

        Returns:
            `(rows,)` float32, float32, int32, then `(rows, top_k)` float32 and int32;
            the vocabulary is projected `_STEP_ROWS` rows at a time.
        """
        tf = self.tf
        rows = tf.shape(targets)[0]

        def chunk(start: Any, arrays: tuple[Any, ...]) -> tuple[Any, Any]:
            end = tf.minimum(start + _STEP_ROWS, rows)
            logits = self.model.backbone.token_embedding(hidden[None, start:end], reverse=True)[0]
            logprobs = tf.nn.log_softmax(tf.cast(logits, tf.float32))
            chosen = tf.gather(logprobs, targets[start:end, None], batch_dims=1)[:, 0]
            entropy = -tf.reduce_sum(tf.math.multiply_no_nan(logprobs, tf.exp(logprobs)), axis=-1)
            rank = 1 + tf.reduce_sum(tf.cast(logprobs > chosen[:, None], tf.int32), axis=-1)
            top = tf.math.top_k(logprobs, k=self.top_k)
            values = (chosen, entropy, rank, top.values, top.indices)
            return end, tuple(array.write(array.size(), value) for array, value in zip(arrays, values))

        dtypes = (tf.float32, tf.float32, tf.int32, tf.float32, tf.int32)
        arrays = tuple(tf.TensorArray(dtype, size=0, dynamic_size=True, infer_shape=False) for dtype in dtypes)
        _, arrays = tf.while_loop(lambda start, _: start < rows, chunk, (tf.constant(0), arrays))
        return tuple(array.concat() for array in arrays)

"""One decode position through a KerasHub Gemma backbone, with matmul-shaped projections.

KerasHub's layers project through `EinsumDense`. TensorFlow runs those
einsums as batched matmuls that, for one token per row, streamed the
weights at 5–10 GB/s in a profile on a 2-core CPU, and for the query's
`btd,ndh->btnh` it first transposes the kernel, copying it on every call.
Decoding at batch 1 reads every weight once per token, so it is bound by
memory bandwidth, and those einsums cost it about a fifth of its speed.
This step computes the same layers with plain 2-D matmuls: the query, key
and value kernels of each layer side by side in one copied matrix (71 MB
for Gemma 3 270M), the other kernels as stored through reshapes that copy
nothing. Attention for the single query position is two matmuls per
key/value head, the cache is written with a native scatter. The layers' own
norms, rotary embedding and softmax are reused, so the arithmetic is
KerasHub's.

Tests compare it with `call_with_cache` on tiny Gemma 1, 2 and 3 models.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from promptkit.models.backend import keras_modules


def _plain_dense(layer: Any) -> bool:
    """Whether an `EinsumDense` is only its kernel: no bias, quantization or LoRA."""
    return (
        getattr(layer, "bias", None) is None
        and not getattr(layer, "quantization_mode", None)
        and not getattr(layer, "lora_enabled", False)
    )


def _columns(kernel: Any) -> Any:
    """A `(heads, hidden, head_dim)` kernel as `(hidden, heads·head_dim)`, heads in order."""
    _, _, tf = keras_modules()
    heads, hidden, head_dim = kernel.shape
    return tf.reshape(tf.transpose(kernel, [1, 0, 2]), [hidden, heads * head_dim])


def _kernel(layer: Any, like: Any) -> Any:
    """The layer's kernel in the dtype of `like` (a no-op unless the policy is mixed)."""
    _, _, tf = keras_modules()
    return tf.cast(layer.kernel, like.dtype)


class DecodeStep:
    """The decode step of one Gemma backbone (Gemma 1, 2 or 3).

    The query/key/value copies are made here, so weights changed after
    construction are not seen (as with `DecodeGraphs`' output-kernel copy).

    Args:
        backbone: a `keras_hub.models.GemmaBackbone` or `Gemma3Backbone`.
        is_gemma3: whether the cache is Gemma 3's tuple of `(key, value)`
            pairs rather than Gemma 1/2's single tensor.
    """

    def __init__(self, backbone: Any, *, is_gemma3: bool) -> None:
        self.keras, _, tf = keras_modules()
        self.tf = tf
        self.backbone = backbone
        self.is_gemma3 = is_gemma3
        # Per layer, the query, key and value kernels side by side as one
        # (hidden, (heads + 2·kv_heads)·head_dim) matrix: one matmul instead of
        # three head-batched ones, which ran at a quarter of the memory
        # bandwidth. A copy (71 MB for Gemma 3 270M), made once.
        self._qkv_kernels = []
        for block in backbone.transformer_layers:
            projections = (block.attention.query_dense, block.attention.key_dense, block.attention.value_dense)
            columns = tf.concat([_columns(layer.kernel) for layer in projections], axis=1)
            self._qkv_kernels.append(tf.Variable(columns, trainable=False))

    @staticmethod
    def supports(backbone: Any) -> bool:
        """Whether every projection is a plain kernel; otherwise decode through KerasHub."""
        for block in backbone.transformer_layers:
            attention = block.attention
            layers = [attention.query_dense, attention.key_dense, attention.value_dense, attention.output_dense]
            layers += [block.gating_ffw, block.gating_ffw_2, block.ffw_linear]
            if not all(_plain_dense(layer) for layer in layers):
                return False
        return True

    def __call__(self, token_column: Any, cache: Any, index: Any) -> tuple[Any, Any]:
        """Final-norm hidden states of one new token per row.

        Args:
            token_column: the tokens at `index`, shape `(batch, 1)`.
            cache: the key/value cache filled up to `index - 1`, in the
                causal LM's own format.
            index: the position being fed, a scalar.

        Returns:
            Hidden states `(batch, 1, hidden)` and the cache with this
            position's keys and values added.
        """
        keras, tf, backbone = self.keras, self.tf, self.backbone
        x = backbone.token_embedding(token_column)
        x = x * keras.ops.cast(keras.ops.sqrt(backbone.hidden_dim), x.dtype)
        length = tf.shape(cache[0][0] if self.is_gemma3 else cache)[1 if self.is_gemma3 else 3]
        # Position `index` sees every filled position (`bool (batch, 1, length)`);
        # no row has padding inside the cache.
        mask = tf.broadcast_to(tf.range(length)[None, None, :] <= index, [tf.shape(x)[0], 1, length])
        caches = []
        for i, block in enumerate(backbone.transformer_layers):
            layer_cache = cache[i] if self.is_gemma3 else cache[:, i, ...]
            x, layer_cache = self._block(block, self._qkv_kernels[i], x, mask, layer_cache, index)
            caches.append(layer_cache)
        cache = tuple(caches) if self.is_gemma3 else tf.stack(caches, axis=1)
        return backbone.layer_norm(x), cache

    def _block(self, block: Any, qkv_kernel: Any, x: Any, mask: Any, cache: Any, index: Any) -> tuple[Any, Any]:
        """One decoder block, as `GemmaDecoderBlock.call` / `Gemma3DecoderBlock.call` with a cache."""
        tf = self.tf
        normalized = block.pre_attention_norm(x)
        attention, cache = self._attention(block.attention, qkv_kernel, normalized, mask, cache, index)
        if block.use_post_attention_norm:
            attention = block.post_attention_norm(attention)
        attention_x = x + attention
        rows = block.pre_ffw_norm(attention_x)[:, 0, :]
        gate = tf.matmul(rows, _kernel(block.gating_ffw, rows))
        up = tf.matmul(rows, _kernel(block.gating_ffw_2, rows))
        hidden = self.keras.activations.gelu(gate, approximate=True) * up
        hidden = tf.matmul(hidden, _kernel(block.ffw_linear, rows))
        hidden = hidden[:, None, :]
        if block.use_post_ffw_norm:
            hidden = block.post_ffw_norm(hidden)
        return hidden + attention_x, cache

    def _write(self, cache: Any, index: Any, update: Any) -> Any:
        """`cache (batch, length, kv_heads, head_dim)` with `update (batch, 1, kv_heads, head_dim)` at `index`."""
        tf = self.tf
        # A native scatter: KerasHub's `slice_update` runs as a separately
        # launched XLA computation, twice per layer and step.
        rows = tf.range(tf.shape(cache)[0])
        where = tf.stack([rows, tf.fill(tf.shape(rows), index)], axis=1)
        return tf.tensor_scatter_nd_update(cache, where, update[:, 0])

    def _attention(self, layer: Any, qkv_kernel: Any, x: Any, mask: Any, cache: Any, index: Any) -> tuple[Any, Any]:
        """The attention layer's `call` with a cache, for one position."""
        tf = self.tf
        heads, kv_heads, head_dim = layer.num_query_heads, layer.num_key_value_heads, layer.head_dim
        qkv = tf.matmul(x[:, 0, :], tf.cast(qkv_kernel, x.dtype))
        query, key, value = tf.split(qkv, [heads * head_dim, kv_heads * head_dim, kv_heads * head_dim], axis=1)
        query = tf.reshape(query, [-1, 1, heads, head_dim])
        key = tf.reshape(key, [-1, 1, kv_heads, head_dim])
        value = tf.reshape(value, [-1, 1, kv_heads, head_dim])
        if self.is_gemma3 and layer.use_query_key_norm:
            query, key = layer.query_norm(query), layer.key_norm(key)
        query, key = layer._apply_rope(query, index), layer._apply_rope(key, index)
        if self.is_gemma3:
            keys, values = self._write(cache[0], index, key), self._write(cache[1], index, value)
            cache = (keys, values)
        else:
            keys, values = self._write(cache[:, 0, ...], index, key), self._write(cache[:, 1, ...], index, value)
            cache = tf.stack((keys, values), axis=1)
        vectors = self._attend(layer, query, keys, values, mask, index)
        kernel = tf.reshape(_kernel(layer.output_dense, x), [heads * head_dim, -1])
        return tf.matmul(vectors, kernel)[:, None, :], cache

    def _attend(self, layer: Any, query: Any, keys: Any, values: Any, mask: Any, index: Any) -> Any:
        """The attention layer's `_compute_attention` for one query position.

        Args:
            query: shape `(batch, 1, heads, head_dim)`.
            keys, values: the whole cache, shape `(batch, length, kv_heads, head_dim)`.
            mask: `bool (batch, 1, length)`, the positions up to `index`.

        Returns:
            The attended values of all heads, shape `(batch, heads · head_dim)`.
        """
        tf = self.tf
        heads, kv_heads, head_dim = layer.num_query_heads, layer.num_key_value_heads, layer.head_dim
        normalization = 1 / np.sqrt(head_dim if layer.query_head_dim_normalize else layer.hidden_dim // heads)
        query = query * tf.cast(normalization, query.dtype)
        # Heads grouped by the key/value head they share, as KerasHub groups them.
        query = tf.reshape(query, [-1, kv_heads, heads // kv_heads, head_dim])
        # (batch, kv_heads, group, length): a matmul per key/value head, where
        # KerasHub's einsum transposes its operands on every call.
        logits = tf.matmul(query, tf.transpose(keys, [0, 2, 1, 3]), transpose_b=True)
        if layer.logit_soft_cap is not None:
            logits = tf.tanh(logits / layer.logit_soft_cap) * layer.logit_soft_cap
        if layer.use_sliding_window_attention:
            length = tf.shape(keys)[1]
            mask = mask & (tf.range(length) > index - layer.sliding_window_size)[None, None, :]
        weights = tf.cast(layer.softmax(logits, mask=mask[:, :, None, :]), values.dtype)
        # Every row attends at least to its own position, so KerasHub's wipe of
        # rows with nothing to attend to never applies here.
        vectors = tf.matmul(weights, tf.transpose(values, [0, 2, 1, 3]))
        return tf.reshape(vectors, [-1, heads * head_dim])

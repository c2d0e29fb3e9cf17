"""Compiled decode functions for a KerasHub Gemma causal LM (Gemma 1, 2 or 3).

The only graphs generation runs: a prefill that builds the key/value cache,
one decode step returning full log-probabilities (for sampling in numpy),
and a loop of several greedy steps in one graph (the per-token Python round
trip and the log-probability rows it would copy out cost as much as the
model on a CPU). Each is traced once per process with open batch and length
dimensions. Single-token steps go through `DecodeStep` (plain matmuls instead
of KerasHub's einsums); prefill and multi-token extends use KerasHub's layers.
"""

from __future__ import annotations

from typing import Any

from promptkit.models.backend import keras_modules
from promptkit.models.decode_step import DecodeStep


class DecodeGraphs:
    """The compiled prefill, step and greedy-loop functions of one causal LM.

    Args:
        causal_lm: a `keras_hub.models.GemmaCausalLM` or `Gemma3CausalLM`.

    Attributes:
        prefill: `(token_ids (batch, width), total) -> cache` with room for
            `total` positions.
        extend: `(token_ids (batch, width), cache, index) -> cache` with
            those tokens' keys and values added from `index` on.
        extend_logprobs: `(token_ids (1, width), cache, index, positions
            (targets,), targets (targets,)) -> logprobs (targets,)`: fed
            those tokens from `index` on, the log-probability of each target
            token after the fed position at that offset (for scoring many
            sequences that share a cached prefix).
        step: `(token_column (batch, 1), cache, index) -> (logprobs (batch,
            vocabulary), cache)`.
        greedy_steps: `(token_ids (batch, total), cache, index, lengths
            (batch,), steps) -> (token_ids, cache, tokens (batch, steps),
            logprobs (batch, steps))`.
    """

    def __init__(self, causal_lm: Any) -> None:
        _, keras_hub, tf = keras_modules()
        self.causal_lm = causal_lm
        self.backbone = causal_lm.backbone
        self._tf = tf
        self._is_gemma3 = isinstance(causal_lm, keras_hub.models.Gemma3CausalLM)
        self._decode_step = (
            DecodeStep(self.backbone, is_gemma3=self._is_gemma3) if DecodeStep.supports(self.backbone) else None
        )
        embedding = causal_lm.backbone.token_embedding
        # A (hidden, vocabulary) copy of the tied embedding: oneDNN multiplies a
        # row by it ~1.4× faster than by the transposed table, and this product
        # reads as many bytes as all transformer layers of Gemma 3 270M.
        self._output_kernel = (
            tf.Variable(tf.transpose(embedding.embeddings), trainable=False)
            if embedding.tie_weights
            else embedding.reverse_embeddings
        )
        xla = tf.as_dtype(self._output_kernel.dtype) == tf.float32
        # For several float32 rows XLA multiplies the (vocabulary, hidden)
        # table by the rows' transpose faster than the rows by the copy above
        # (8 rows: 44–50 against 60–73 ms on a 2-core CPU), and one row slower
        # (25 against 22 ms), so the greedy loop picks the product by batch size.
        self._table = embedding.embeddings if embedding.tie_weights and xla else None
        # Batch and length dimensions are left open so each function is traced
        # once per process (each trace of the 18-layer graph takes seconds).
        ids, scalar = tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([], tf.int32)
        cache = self._cache_spec()
        self.prefill = tf.function(self._prefill_fn, input_signature=[ids, scalar])
        self.extend = tf.function(self._extend_fn, input_signature=[ids, cache, scalar])
        column = tf.TensorSpec([None], tf.int32)
        self.extend_logprobs = tf.function(self._extend_logprobs_fn, input_signature=[ids, cache, scalar, column, column])
        # XLA multiplied float32 rows by the output kernel 10–15% faster than
        # oneDNN at batch 8 (which repacks the 0.67 GB kernel for few rows) and
        # no slower at batch 1; its bfloat16 product was 15× slower on a CPU.
        # Compiled once per batch size; inside the decode graphs a new batch
        # size's first call took ~0.1 s longer.
        self._logprobs = tf.function(self._logprobs_fn, jit_compile=xla)
        self._greedy_choice = tf.function(self._greedy_choice_fn, jit_compile=xla)
        self.step = tf.function(self._step_fn, input_signature=[ids, cache, scalar])
        self.greedy_steps = tf.function(
            self._greedy_steps_fn, input_signature=[ids, cache, scalar, tf.TensorSpec([None], tf.int32), scalar]
        )

    def _cache_spec(self) -> Any:
        """The key/value cache's structure, with open batch and length dimensions."""
        tf, backbone = self._tf, self.backbone
        dtype = self.causal_lm.compute_dtype
        if self._is_gemma3:
            layer = tf.TensorSpec([None, None, backbone.num_key_value_heads, backbone.head_dim], dtype)
            return tuple((layer, layer) for _ in range(backbone.num_layers))
        return tf.TensorSpec([None, backbone.num_layers, 2, None, backbone.num_key_value_heads, backbone.head_dim], dtype)

    def _prefill_fn(self, token_ids: Any, total: Any) -> Any:
        """Key/value cache of a prompt prefix, with room for `total` positions.

        Args:
            token_ids: the prefix every row has in full (no padding), shape
                `(batch, width)`.
            total: cache length, a scalar ≥ width.

        Returns:
            The cache; positions past `width` are zeros for decoding to fill.
        """
        tf = self._tf
        width = tf.shape(token_ids)[1]
        if self._is_gemma3:
            _, cache = self.causal_lm._build_cache(token_ids, None, None, tf.ones_like(token_ids, "bool"), None)
            # One (key, value) pair of (batch, length, heads, head_dim) per layer.
            return tf.nest.map_structure(lambda c: tf.pad(c, [[0, 0], [0, total - width], [0, 0], [0, 0]]), cache)
        _, cache = self.causal_lm._build_cache(token_ids)
        # One (batch, layers, 2, length, heads, head_dim) tensor.
        return tf.pad(cache, [[0, 0], [0, 0], [0, 0], [0, total - width], [0, 0], [0, 0]])

    def _extend_fn(self, token_ids: Any, cache: Any, index: Any) -> Any:
        """Adds the keys and values of several tokens per row to the cache.

        Args:
            token_ids: tokens at positions `index …`, shape `(batch, width)`.
            cache: the key/value cache filled up to `index - 1`.
            index: position of the first token, a scalar.

        Returns:
            The cache filled up to `index + width - 1`.
        """
        # Keras' own logits go unused, so the compiled graph drops them.
        _, _, cache = self.causal_lm.call_with_cache(token_ids=token_ids, cache=cache, cache_update_index=index)
        return cache

    def _extend_logprobs_fn(self, token_ids: Any, cache: Any, index: Any, positions: Any, targets: Any) -> Any:
        """Log-probabilities of `targets` after `token_ids` are fed from `index` on.

        Args:
            token_ids: one row of tokens at positions `index …`, shape `(1, width)`.
            cache: the key/value cache filled up to `index - 1`; it is not
                returned, so a shared prefix's cache can be reused.
            index: position of the first fed token, a scalar.
            positions: offsets into `token_ids` whose hidden state predicts
                each target, shape `(targets,)`.
            targets: the tokens to score, shape `(targets,)`.

        Returns:
            float32 log-probabilities, shape `(targets,)`.
        """
        tf = self._tf
        # Keras' own logits (every fed position × the vocabulary) go unused, so the graph drops them.
        _, hidden, _ = self.causal_lm.call_with_cache(token_ids=token_ids, cache=cache, cache_update_index=index)
        rows = tf.gather(hidden[0], positions)
        logprobs = self._logprobs(self._tf.cast(rows, self._output_kernel.dtype))
        return tf.gather(logprobs, targets, batch_dims=1)

    def _step_fn(self, token_column: Any, cache: Any, index: Any) -> tuple[Any, Any]:
        """Next-token log-probabilities after one decode step.

        Args:
            token_column: the token at `index`, shape `(batch, 1)`.
            cache: the key/value cache filled up to `index - 1`.
            index: the position being fed, a scalar.

        Returns:
            float32 log-probabilities, shape `(batch, vocabulary)`, and the cache.
        """
        hidden, cache = self._hidden_step(token_column, cache, index)
        return self._logprobs(self._tf.cast(hidden[:, 0, :], self._output_kernel.dtype)), cache

    def _hidden_step(self, token_column: Any, cache: Any, index: Any) -> tuple[Any, Any]:
        """Final hidden states `(batch, 1, hidden)` of one decode step, and the cache."""
        if self._decode_step is not None:
            return self._decode_step(token_column, cache, index)
        # Keras' own logits go unused, so the compiled graph drops them.
        _, hidden, cache = self.causal_lm.call_with_cache(token_ids=token_column, cache=cache, cache_update_index=index)
        return hidden, cache

    def _logprobs_fn(self, rows: Any) -> Any:
        """float32 next-token log-probabilities `(batch, vocabulary)` of final hidden states `(batch, hidden)`."""
        return self._tf.nn.log_softmax(self._logits(self._tf.matmul(rows, self._output_kernel)))

    def _logits(self, products: Any) -> Any:
        """float32 logits from the products of hidden states and the output kernel, any layout."""
        tf = self._tf
        soft_cap = self.backbone.token_embedding.logit_soft_cap
        if soft_cap is not None:  # Gemma 2's final logit soft cap.
            products = tf.tanh(products / soft_cap) * soft_cap
        return tf.cast(products, "float32")

    def _greedy_choice_fn(self, rows: Any, forced: Any, use_forced: Any) -> tuple[Any, Any]:
        """Each row's likeliest next token, or its forced one, with its log-probability.

        Args:
            rows: final hidden states, shape `(batch, hidden)`.
            forced: tokens a row must take (its own prompt's), shape `(batch,)`.
            use_forced: which rows take `forced`, `bool (batch,)`.

        Returns:
            The tokens, `int32 (batch,)`, and their float32 log-probabilities.
        """
        tf = self._tf

        def choose(logits: Any, vocabulary_axis: int) -> tuple[Any, Any]:
            best = tf.argmax(logits, axis=vocabulary_axis, output_type=tf.int32)
            token = tf.where(use_forced, forced, best)
            row = tf.range(tf.shape(token)[0])
            where = tf.stack([row, token] if vocabulary_axis == 1 else [token, row], axis=1)
            return token, tf.gather_nd(logits, where) - tf.reduce_logsumexp(logits, axis=vocabulary_axis)

        def by_rows() -> tuple[Any, Any]:
            return choose(self._logits(tf.matmul(rows, self._output_kernel)), 1)

        def by_columns() -> tuple[Any, Any]:
            # (vocabulary, batch), reduced over the vocabulary where it lies:
            # transposing 8 rows of 262,144 logits took XLA 12 ms.
            return choose(self._logits(tf.matmul(self._table, rows, transpose_b=True)), 0)

        if self._table is None:
            return by_rows()
        chosen: tuple[Any, Any] = tf.cond(tf.shape(rows)[0] > 1, by_columns, by_rows)
        return chosen

    def _greedy_steps_fn(self, token_ids: Any, cache: Any, index: Any, lengths: Any, steps: Any) -> tuple[Any, ...]:
        """Runs `steps` greedy decode steps in one graph.

        Args:
            token_ids: prompts so far, right-padded, shape `(batch, total)`.
            cache: the key/value cache filled up to `index - 1`.
            index: first position to fill, a scalar.
            lengths: each row's prompt length, shape `(batch,)`; a row whose
                prompt reaches past a position is fed its own token there.
            steps: positions to fill, a scalar.

        Returns:
            `token_ids` with `steps` more positions filled, the cache, and
            the chosen tokens and their log-probabilities, each shape
            `(batch, steps)`.
        """
        tf = self._tf
        rows = tf.range(tf.shape(token_ids)[0])

        def step(offset: Any, token_ids: Any, cache: Any, tokens: Any, logprobs: Any) -> tuple[Any, ...]:
            position = index + offset
            hidden, cache = self._hidden_step(tf.gather(token_ids, [position - 1], axis=1), cache, position - 1)
            forced = tf.gather(token_ids, position, axis=1)
            token, chosen = self._greedy_choice(
                tf.cast(hidden[:, 0, :], self._output_kernel.dtype), forced, position < lengths
            )
            where = tf.stack([rows, tf.fill(tf.shape(rows), position)], axis=1)
            token_ids = tf.tensor_scatter_nd_update(token_ids, where, token)
            return offset + 1, token_ids, cache, tokens.write(offset, token), logprobs.write(offset, chosen)

        _, token_ids, cache, tokens, logprobs = tf.while_loop(
            lambda offset, *_: offset < steps,
            step,
            (0, token_ids, cache, tf.TensorArray(tf.int32, size=steps), tf.TensorArray(tf.float32, size=steps)),
        )
        return token_ids, cache, tf.transpose(tokens.stack()), tf.transpose(logprobs.stack())

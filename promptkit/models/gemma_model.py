"""Wraps a KerasHub Gemma causal LM (Gemma 1, 2 or 3) as a `LanguageModel`.

Decoding runs one compiled step per token from Python, so stop sequences are
checked on text as it appears, each token's log-probability is recorded,
and sampling follows `promptkit.generation` exactly. Prompts of different
lengths share a batch the way KerasHub does it: right-padded, decoding
starts at the shortest prompt's end, and longer prompts are fed their own
next token until they reach theirs. Rows that finish leave the batch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from promptkit.errors import PromptError
from promptkit.generation import (
    Completion,
    GeneratedToken,
    GenerationSettings,
    StopReason,
    choose_tokens,
    find_stop,
    trim_at_stop,
)
from promptkit.model_api import ModelInfo
from promptkit.models.backend import keras_modules
from promptkit.tokenization import PieceVocabulary, TokenSpan

# Cache lengths are rounded up to this so compiled steps are reused across
# requests instead of being traced again for every new length.
_LENGTH_BUCKET = 128


class GemmaModel:
    """A loaded Gemma, safe to share between threads (calls are serialized).

    Args:
        causal_lm: a `keras_hub.models.GemmaCausalLM` or `Gemma3CausalLM`.
        info: what to show about it.
    """

    def __init__(self, causal_lm: Any, *, info: ModelInfo) -> None:
        _, keras_hub, tf = keras_modules()
        self.causal_lm = causal_lm
        self.info = info
        tokenizer = causal_lm.preprocessor.tokenizer
        self.vocabulary = PieceVocabulary(
            tokenizer.proto,
            bos_id=tokenizer.start_token_id,
            eos_id=tokenizer.end_token_id,
            pad_id=tokenizer.pad_token_id,
        )
        self.lock = threading.RLock()
        self._tf = tf
        self._is_gemma3 = isinstance(causal_lm, keras_hub.models.Gemma3CausalLM)
        self._prefill = tf.function(self._prefill_fn, reduce_retracing=True)
        self._step = tf.function(self._step_fn, reduce_retracing=True)

    @property
    def backbone(self) -> Any:
        """The KerasHub backbone (embedding, transformer layers, norm)."""
        return self.causal_lm.backbone

    def tokenize(self, text: str) -> list[int]:
        """Token ids of `text`, without `<bos>`."""
        return self.vocabulary.encode(text)

    def token_spans(self, ids: Sequence[int], *, offset: int = 0) -> list[TokenSpan]:
        """One character span per token id, counted from `offset`."""
        return self.vocabulary.spans(ids, offset=offset)

    def prompt_ids(self, prompts: Sequence[str], *, new_tokens: int) -> list[list[int]]:
        """`<bos>` + tokens of each prompt, checked against the context length.

        Raises:
            PromptError: a prompt is empty, or it plus `new_tokens` does not
                fit the model's context.
        """
        batches = []
        limit = self.info.context_length
        for index, prompt in enumerate(prompts, start=1):
            where = f"Prompt {index} of {len(prompts)}" if len(prompts) > 1 else "The prompt"
            if not prompt.strip():
                raise PromptError(f"{where} is empty; write or render a prompt first.")
            ids = [self.vocabulary.bos_id, *self.tokenize(prompt)]
            if len(ids) + new_tokens > limit:
                raise PromptError(
                    f"{where} is {len(ids)} tokens long; with {new_tokens} new tokens that "
                    f"exceeds {self.info.name}'s context of {limit} tokens. Shorten the "
                    "prompt or ask for fewer new tokens."
                )
            batches.append(ids)
        return batches

    def _prefill_fn(self, token_ids: Any, padding_mask: Any) -> Any:
        if self._is_gemma3:
            _, cache = self.causal_lm._build_cache(token_ids, None, None, padding_mask, None)
        else:
            _, cache = self.causal_lm._build_cache(token_ids)
        return cache

    def _step_fn(self, token_column: Any, cache: Any, index: Any) -> tuple[Any, Any]:
        logits, _, cache = self.causal_lm.call_with_cache(
            token_ids=token_column, cache=cache, cache_update_index=index
        )
        return self._tf.nn.log_softmax(self._tf.cast(logits[:, 0, :], "float32")), cache

    def generate(
        self, prompts: Sequence[str], *, settings: GenerationSettings
    ) -> list[Completion]:
        """Completes each prompt.

        Args:
            prompts: prompts of any lengths, decoded together as one batch.
            settings: decoding settings; each prompt gets its own random
                stream seeded by `settings.seed`, so a sampled completion does
                not depend on what else was in the batch.

        Returns:
            One `Completion` per prompt, in order.
        """
        prompts = list(prompts)
        if not prompts:
            return []
        prompt_ids = self.prompt_ids(prompts, new_tokens=settings.max_new_tokens)
        with self.lock:
            return self._decode(prompts, prompt_ids, settings)

    def _decode(
        self, prompts: list[str], prompt_ids: list[list[int]], settings: GenerationSettings
    ) -> list[Completion]:
        tf = self._tf
        started = time.perf_counter()
        lengths = [len(ids) for ids in prompt_ids]
        needed = max(lengths) + settings.max_new_tokens
        total = min(-(-needed // _LENGTH_BUCKET) * _LENGTH_BUCKET, self.info.context_length)
        token_ids = np.full((len(prompts), total), self.vocabulary.pad_id, dtype=np.int32)
        for row, ids in enumerate(prompt_ids):
            token_ids[row, : len(ids)] = ids
        cache = self._prefill(tf.constant(token_ids), tf.constant(token_ids != self.vocabulary.pad_id))
        prefilled = time.perf_counter()

        generated: list[list[tuple[int, float]]] = [[] for _ in prompts]
        reasons: list[StopReason | None] = [None] * len(prompts)
        generators = [np.random.default_rng(settings.seed) for _ in prompts]
        index = min(lengths)
        active = list(range(len(prompts)))  # Rows still decoding, in cache order.
        while index < total and active:
            logprobs, cache = self._step(
                tf.constant(token_ids[active, index - 1 : index]), cache, tf.constant(index - 1)
            )
            logprobs = logprobs.numpy()
            for position, row in enumerate(active):
                if index < lengths[row]:
                    continue  # Still reading its own prompt.
                token = int(choose_tokens(logprobs[position : position + 1], settings, generators[row])[0])
                token_ids[row, index] = token
                generated[row].append((token, float(logprobs[position, token])))
                reasons[row] = self._stop_reason(generated[row], settings)
            index += 1
            still = [position for position, row in enumerate(active) if reasons[row] is None]
            if still and len(still) < len(active):
                # Finished rows leave the batch so later steps compute less.
                kept = tf.constant(still, dtype="int32")
                cache = tf.nest.map_structure(lambda c: tf.gather(c, kept), cache)
            active = [active[position] for position in still]
        decoded = time.perf_counter()
        timings = {
            "prefill_s": prefilled - started,
            "decode_s": decoded - prefilled,
            "total_s": decoded - started,
        }
        return [
            self._completion(prompt, tokens, reason or StopReason.MAX_NEW_TOKENS, settings, timings)
            for prompt, tokens, reason in zip(prompts, generated, reasons)
        ]

    def _stop_reason(self, tokens: list[tuple[int, float]], settings: GenerationSettings) -> StopReason | None:
        if tokens[-1][0] == self.vocabulary.eos_id:
            return StopReason.END_OF_SEQUENCE
        if settings.stop_sequences:
            text = self.vocabulary.decode([token for token, _ in tokens])
            if find_stop(text, settings.stop_sequences) is not None:
                return StopReason.STOP_SEQUENCE
        if len(tokens) >= settings.max_new_tokens:
            return StopReason.MAX_NEW_TOKENS
        return None

    def _completion(
        self,
        prompt: str,
        tokens: list[tuple[int, float]],
        reason: StopReason,
        settings: GenerationSettings,
        timings: dict[str, float],
    ) -> Completion:
        spans = self.vocabulary.spans([token for token, _ in tokens])
        generated = tuple(
            GeneratedToken(span.id, span.text, span.start, span.end, logprob)
            for span, (_, logprob) in zip(spans, tokens)
        )
        text = "".join(span.text for span in spans)
        stop_at = find_stop(text, settings.stop_sequences)
        if stop_at is not None:
            text, generated = trim_at_stop(generated, text, stop_at)
        timings = dict(timings, new_tokens=float(len(tokens)))
        if timings["decode_s"] > 0:
            timings["new_tokens_per_s"] = len(tokens) / timings["decode_s"]
        return Completion(prompt, text, generated, reason, timings)

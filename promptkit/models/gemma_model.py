"""Wraps a KerasHub Gemma causal LM (Gemma 1, 2 or 3) as a `LanguageModel`.

Greedy decoding runs a compiled loop of several tokens per call
(`promptkit.models.decode_graphs`); stop sequences are checked on the text
between calls, and tokens past a stop are dropped. Sampling runs one
compiled step per token so that it follows `promptkit.generation` exactly.
Either way each token's log-probability is recorded. Prompts of different
lengths share a batch the way KerasHub does it: right-padded, decoding
starts at the shortest prompt's end, and longer prompts are fed their own
next token until they reach theirs. Rows that finish leave the batch.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from collections.abc import Callable, Sequence
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
from promptkit.models.api import ModelInfo
from promptkit.models.backend import keras_modules
from promptkit.models.companions import ModelCompanions
from promptkit.models.decode_graphs import DecodeGraphs
from promptkit.tokenization import PieceVocabulary, TokenSpan

# Greedy tokens per compiled call: large enough that the per-call overhead
# is small, small enough that few steps are wasted after a row stops.
_GREEDY_CHUNK = 8
# How long an exiting process waits for another thread's model call to end.
_EXIT_WAIT_S = 60.0
_LIVE_MODELS: weakref.WeakSet[GemmaModel] = weakref.WeakSet()


@atexit.register
def _hold_models_at_exit() -> None:
    """Waits for running model calls to end and keeps new ones from starting while Python shuts down.

    A daemon thread still inside TensorFlow when the interpreter finalizes is
    unwound by force, which TensorFlow's C++ code turns into an abort
    ("terminate called … FATAL: exception not rethrown"). Every model call
    holds its model's lock, so holding every lock here leaves other threads
    waiting in Python, where they simply stop with the process.
    """
    for model in list(_LIVE_MODELS):
        model.lock.acquire(timeout=_EXIT_WAIT_S)


class GemmaModel:
    """A loaded Gemma, safe to share between threads (calls are serialized).

    Args:
        causal_lm: a `keras_hub.models.GemmaCausalLM` or `Gemma3CausalLM`.
        info: what to show about it.
    """

    def __init__(self, causal_lm: Any, *, info: ModelInfo) -> None:
        _, _, tf = keras_modules()
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
        self.graphs = DecodeGraphs(causal_lm)
        self._companions = ModelCompanions(self)
        _LIVE_MODELS.add(self)

    @property
    def companions(self) -> ModelCompanions:
        """The model's gradients, scorer and attention reader, each made on first use and shared by every caller."""
        return self._companions

    @property
    def backbone(self) -> Any:
        """The KerasHub backbone (embedding, transformer layers, norm)."""
        return self.causal_lm.backbone

    def tokenize(self, text: str) -> list[int]:
        """Token ids of `text`, without `<bos>`."""
        return self.vocabulary.encode(text)

    def token_spans(self, ids: Sequence[int], *, offset: int = 0, source: str | None = None) -> list[TokenSpan]:
        """One character span per token id, counted from `offset`; texts cut from `source` if given."""
        return self.vocabulary.spans(ids, offset=offset, source=source)

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

    def generate(
        self,
        prompts: Sequence[str],
        *,
        settings: GenerationSettings,
        on_progress: Callable[[float], None] | None = None,
    ) -> list[Completion]:
        """Completes each prompt.

        Args:
            prompts: prompts of any lengths, decoded in as few batches as
                pays: see `length_groups`.
            settings: decoding settings; each prompt gets its own random
                stream seeded by `settings.seed`, so a sampled completion does
                not depend on what else was in the batch.
            on_progress: called after every few decoded tokens with the
                fraction of the call done, 0 to 1: each prompt counts its
                new tokens against `settings.max_new_tokens`, and a
                finished prompt counts as whole.

        Returns:
            One `Completion` per prompt, in order.
        """
        prompts = list(prompts)
        if not prompts:
            return []
        prompt_ids = self.prompt_ids(prompts, new_tokens=settings.max_new_tokens)
        completions: list[Completion | None] = [None] * len(prompts)
        max_gap = max(_GREEDY_CHUNK, settings.max_new_tokens)
        finished = 0
        with self.lock:
            for group in length_groups([len(ids) for ids in prompt_ids], max_gap=max_gap):

                def report(group_fraction: float, group_size: int = len(group), done: int = finished) -> None:
                    if on_progress is not None:
                        on_progress((done + group_size * group_fraction) / len(prompts))

                decoded = self._decode([prompts[i] for i in group], [prompt_ids[i] for i in group], settings, report)
                for index, completion in zip(group, decoded):
                    completions[index] = completion
                finished += len(group)
        return [completion for completion in completions if completion is not None]

    def _decode(
        self,
        prompts: list[str],
        prompt_ids: list[list[int]],
        settings: GenerationSettings,
        report: Callable[[float], None],
    ) -> list[Completion]:
        tf = self._tf
        started = time.perf_counter()
        lengths = [len(ids) for ids in prompt_ids]
        # `prompt_ids` checked that this fits the context; the graphs take any length.
        total = max(lengths) + settings.max_new_tokens
        token_ids = np.full((len(prompts), total), self.vocabulary.pad_id, dtype=np.int32)
        for row, ids in enumerate(prompt_ids):
            token_ids[row, : len(ids)] = ids
        cache = self._prefill(token_ids, prompt_ids, total)
        prefilled = time.perf_counter()

        generated: list[list[tuple[int, float]]] = [[] for _ in prompts]
        reasons: list[StopReason | None] = [None] * len(prompts)
        generators = [np.random.default_rng(settings.seed) for _ in prompts]
        index = min(lengths)
        active = list(range(len(prompts)))  # Rows still decoding, in cache order.
        while index < total and active:
            if settings.greedy:
                remaining = max(settings.max_new_tokens - len(generated[row]) + max(lengths[row] - index, 0) for row in active)
                steps = min(_GREEDY_CHUNK, total - index, remaining)
                chosen, cache = self._greedy_chunk(token_ids, active, lengths, cache, index, steps)
            else:
                steps = 1
                chosen, cache = self._sampled_step(token_ids, active, lengths, cache, index, settings, generators)
            for offset, (step_tokens, step_logprobs) in enumerate(chosen):
                for position, row in enumerate(active):
                    if index + offset < lengths[row] or reasons[row] is not None:
                        continue  # Still reading its own prompt, or already done.
                    generated[row].append((int(step_tokens[position]), float(step_logprobs[position])))
                    reasons[row] = self._stop_reason(generated[row], settings)
            index += steps
            still = [position for position, row in enumerate(active) if reasons[row] is None]
            if still and len(still) < len(active):
                # Finished rows leave the batch so later steps compute less.
                kept = tf.constant(still, dtype="int32")
                cache = tf.nest.map_structure(lambda c, kept=kept: tf.gather(c, kept), cache)
            active = [active[position] for position in still]
            report(_fraction_done(generated, reasons, settings.max_new_tokens))
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

    def _prefill(self, token_ids: np.ndarray, prompt_ids: list[list[int]], total: int) -> Any:
        """The cache of every prompt up to (not including) the shortest one's last token.

        Decoding starts at the shortest prompt's last token (KerasHub's
        scheme), so running the padded width would be wasted. Tokens that all
        prompts share (a template's few-shot examples, say) are run once and
        their keys and values copied to every row.

        Returns:
            The cache, with room for `total` positions.
        """
        tf = self._tf
        start = min(len(ids) for ids in prompt_ids) - 1
        shared = min(start, _shared_prefix_length(prompt_ids))
        cache = self.graphs.prefill(tf.constant(token_ids[:1, :shared]), tf.constant(total))
        if len(prompt_ids) > 1:
            cache = tf.nest.map_structure(lambda c: tf.repeat(c, len(prompt_ids), axis=0), cache)
        if shared < start:
            cache = self.graphs.extend(tf.constant(token_ids[:, shared:start]), cache, tf.constant(shared))
        return cache

    def _greedy_chunk(
        self, token_ids: np.ndarray, active: list[int], lengths: list[int], cache: Any, index: int, steps: int
    ) -> tuple[list[tuple[np.ndarray, np.ndarray]], Any]:
        """Fills positions `index … index + steps - 1` of the active rows greedily.

        Returns:
            Per position, the active rows' tokens and their log-probabilities
            (each shape `(len(active),)`), and the updated cache.
        """
        tf = self._tf
        ids, cache, tokens, logprobs = self.graphs.greedy_steps(
            tf.constant(token_ids[active]), cache, tf.constant(index),
            tf.constant([lengths[row] for row in active]), tf.constant(steps),
        )
        token_ids[active] = ids.numpy()
        return list(zip(tokens.numpy().T, logprobs.numpy().T)), cache

    def _sampled_step(
        self,
        token_ids: np.ndarray,
        active: list[int],
        lengths: list[int],
        cache: Any,
        index: int,
        settings: GenerationSettings,
        generators: list[np.random.Generator],
    ) -> tuple[list[tuple[np.ndarray, np.ndarray]], Any]:
        """Fills position `index` of the active rows by `choose_tokens`.

        Returns:
            Like `_greedy_chunk`, for one position.
        """
        tf = self._tf
        logprobs, cache = self.graphs.step(tf.constant(token_ids[active, index - 1 : index]), cache, tf.constant(index - 1))
        logprobs = logprobs.numpy()
        picked = token_ids[active, index].copy()
        for position, row in enumerate(active):
            if index >= lengths[row]:  # Rows still reading their prompt draw nothing.
                picked[position] = choose_tokens(logprobs[position : position + 1], settings, generators[row])[0]
        token_ids[active, index] = picked
        return [(picked, logprobs[np.arange(len(active)), picked])], cache

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


def length_groups(lengths: Sequence[int], *, max_gap: int) -> list[list[int]]:
    """Splits prompts into batches whose lengths differ by at most `max_gap`.

    A batch decodes from its shortest prompt's end and feeds each longer
    prompt's tail one decode step per token, so a prompt much longer than
    the shortest costs more steps in that batch than a batch of its own.

    Args:
        lengths: each prompt's length in tokens.
        max_gap: largest length difference allowed within a batch.

    Returns:
        Prompt indices per batch, shortest prompts first.
    """
    groups: list[list[int]] = []
    for index in sorted(range(len(lengths)), key=lengths.__getitem__):
        if groups and lengths[index] - lengths[groups[-1][0]] <= max_gap:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


def _fraction_done(
    generated: Sequence[Sequence[Any]], reasons: Sequence[StopReason | None], max_new_tokens: int
) -> float:
    """Mean over rows of new tokens / `max_new_tokens`, a stopped row counting 1."""
    shares = [1.0 if reason is not None else len(tokens) / max_new_tokens for tokens, reason in zip(generated, reasons)]
    return sum(shares) / len(shares)


def _shared_prefix_length(prompt_ids: Sequence[Sequence[int]]) -> int:
    """How many leading tokens all prompts have in common."""
    first = prompt_ids[0]
    length = min(len(ids) for ids in prompt_ids)
    for ids in prompt_ids[1:]:
        length = next((i for i in range(length) if ids[i] != first[i]), length)
    return length

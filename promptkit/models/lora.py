"""LoRA adapters on a loaded Gemma: trained on labelled cases, saved in the cache, merged for decoding.

Training never blocks generation: `train_adapter` trains a copy of the
model's weights, holding the model's lock only while copying them, so other
sessions keep generating (and scoring) with the loaded model meanwhile; the
price is a second copy of the weights in memory while it trains.
`backbone.enable_lora(rank)` on the copy freezes every weight and adds
low-rank factors to the query and value projections of every attention
layer; only those factors train. The loss is the negative log-likelihood of
each example's label tokens: the prompt's tokens carry no loss, and the
vocabulary projection is computed only at the positions that predict a
label token. Training is seeded (factor initialisation and batch order), so
the same seed and data give the same adapter; the validation split is
scored after every epoch and training stops early when its loss stops
improving, keeping the best epoch's factors.

An adapter is the factors `A (…, rank)` and `B (rank, out)` of each kernel
it modifies, stored in `cache_root()/adapters/NAME/`. Loading one
(`promptkit.models.loader`, model names `BASE+adapter:NAME`) adds
`(alpha / rank) · A @ B` to each kernel and leaves LoRA off, so an adapted
model decodes through the same compiled graphs as its base, with kernels of
the same shapes: no extra work per token.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from promptkit.errors import PromptError, PromptkitError
from promptkit.evaluation.outcomes import candidate_text, classifier_metrics, normalise
from promptkit.models.backend import keras_modules
from promptkit.models.gemma_model import GemmaModel
from promptkit.models.preset_cache import cache_root, is_complete, write_manifest

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_CONFIG_FILE = "adapter.json"
_FACTORS_FILE = "factors.npz"
_FORMAT = 1
# Rounding padded widths up to this keeps the number of distinct shapes small.
_LENGTH_BUCKET = 16
# Sequences per forward pass when scoring the validation split.
_SCORING_BATCH = 8


class TrainingCancelled(PromptkitError):
    """Training was cancelled by the caller; nothing was saved."""


@dataclasses.dataclass(frozen=True)
class TrainingSettings:
    """How to train an adapter.

    Attributes:
        rank: the rank of each low-rank factor pair (LoRA's r).
        epochs: most passes over the training split.
        learning_rate: Adam's learning rate.
        batch_size: examples per step.
        seed: seeds the factors' initialisation and the batch order.
        patience: epochs without a lower validation loss before stopping.
    """

    rank: int = 4
    epochs: int = 4
    learning_rate: float = 5e-4
    batch_size: int = 4
    seed: int = 0
    patience: int = 2

    def check(self) -> None:
        """Refuses settings that cannot train.

        Raises:
            PromptkitError: naming the setting and the values it takes.
        """
        if self.rank < 1:
            raise PromptkitError(f"The LoRA rank must be at least 1 (got {self.rank}); 4 is a good start.")
        if self.epochs < 1:
            raise PromptkitError(f"Train for at least 1 epoch (got {self.epochs}).")
        if not self.learning_rate > 0:
            raise PromptkitError(f"The learning rate must be above 0 (got {self.learning_rate}); 5e-4 is a good start.")
        if self.batch_size < 1:
            raise PromptkitError(f"The batch size must be at least 1 (got {self.batch_size}).")
        if self.patience < 1:
            raise PromptkitError(f"The early-stopping patience must be at least 1 epoch (got {self.patience}).")

    def to_json(self) -> dict[str, Any]:
        """The settings as JSON-ready data."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class LabelledExample:
    """One labelled case as token ids.

    Attributes:
        case_id: the case it comes from, for messages.
        prefix_ids: `<bos>` and the prompt's tokens, shape `(prefix,)`.
        labels: the candidate labels.
        label_ids: each candidate's tokens after the prefix, in `labels`' order.
        answer: index in `labels` of the label trained on.
        acceptable: the labels counted right (the answer among them).
    """

    case_id: str
    prefix_ids: tuple[int, ...]
    labels: tuple[str, ...]
    label_ids: tuple[tuple[int, ...], ...]
    answer: int
    acceptable: tuple[str, ...]

    def longest(self) -> int:
        """Tokens of the prefix with its longest candidate."""
        return len(self.prefix_ids) + max(len(ids) for ids in self.label_ids)


def labelled_example(
    model: GemmaModel, *, case_id: str, prefix: str, labels: Sequence[str], acceptable: Sequence[str]
) -> LabelledExample:
    """Tokenizes one case the way `ContinuationScorer` scores it.

    Args:
        model: gives the tokenizer and the context length.
        case_id: the case's id.
        prefix: the text after which the label comes (see
            `promptkit.evaluation.outcomes.outcome_prefix`).
        labels: the candidate labels.
        acceptable: the labels counted right; the first is trained on.

    Returns:
        The example.

    Raises:
        PromptError: the prefix with its longest label does not fit the
            model's context.
    """
    prefix_ids = (model.vocabulary.bos_id, *model.tokenize(prefix))
    label_ids = tuple(tuple(model.tokenize(candidate_text(prefix, label))) for label in labels)
    example = LabelledExample(
        case_id=case_id,
        prefix_ids=prefix_ids,
        labels=tuple(labels),
        label_ids=label_ids,
        answer=list(labels).index(acceptable[0]),
        acceptable=tuple(acceptable),
    )
    limit = model.info.context_length
    if example.longest() > limit:
        raise PromptError(
            f"Case {case_id!r} is {example.longest()} tokens long with its longest label, over "
            f"{model.info.name}'s context of {limit} tokens; shorten its values or the template."
        )
    return example


@dataclasses.dataclass(frozen=True)
class TrainingProgress:
    """Where training stands, reported after every step and after every epoch's validation.

    Attributes:
        step: steps done, over all epochs.
        steps: steps if every epoch runs.
        epoch: the current epoch, from 1.
        loss: the last step's training loss (mean label negative log-likelihood).
        validation_loss: the epoch's validation loss, in the report after
            validation; None in the reports after steps.
        validation_macro_f1: the epoch's validation macro-F1, likewise.
        seconds_left: estimated from the time per step so far, if every epoch runs.
    """

    step: int
    steps: int
    epoch: int
    loss: float
    validation_loss: float | None
    validation_macro_f1: float | None
    seconds_left: float


@dataclasses.dataclass(frozen=True)
class EpochRecord:
    """One epoch of training.

    Attributes:
        epoch: its number, from 1.
        loss: mean training loss over its steps.
        validation_loss: mean negative log-likelihood of the validation answers.
        validation_macro_f1: macro-F1 of the likeliest label on the validation split.
    """

    epoch: int
    loss: float
    validation_loss: float
    validation_macro_f1: float

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-ready data."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Adapter:
    """Trained low-rank factors and what they were trained on.

    Attributes:
        base_model: the name of the model trained on (`ModelInfo.name`).
        rank: the factors' rank.
        alpha: LoRA's scale numerator: a kernel gains `(alpha / rank) · A @ B`.
        factors: kernel variable path → `(A, B)`, float32; `A` has the
            kernel's shape with its last axis replaced by `rank`, `B` is
            `(rank, kernel's last axis)`.
        history: one record per epoch run.
        best_epoch: the epoch whose factors these are.
    """

    base_model: str
    rank: int
    alpha: float
    factors: Mapping[str, tuple[np.ndarray, np.ndarray]]
    history: tuple[EpochRecord, ...] = ()
    best_epoch: int = 0

    def deltas(self) -> dict[str, np.ndarray]:
        """Each modified kernel's change, `(alpha / rank) · A @ B`, float32, the kernel's shape."""
        scale = self.alpha / self.rank
        return {path: (scale * np.matmul(a, b)).astype(np.float32) for path, (a, b) in self.factors.items()}


def check_adapter_name(name: str) -> None:
    """Refuses a name that cannot name an adapter (it becomes a folder and part of a model name).

    Raises:
        PromptkitError: saying what a name may hold.
    """
    if not _NAME.match(name):
        raise PromptkitError(
            f"{name!r} cannot name an adapter: use 1–100 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )


def adapter_dir(name: str) -> Path:
    """Where adapter `name` is kept: `cache_root()/adapters/NAME`."""
    return cache_root() / "adapters" / name


def copy_backbone(model: GemmaModel) -> Any:
    """A backbone like the model's, with a copy of its weights.

    The model's lock is held only while the weights are copied.

    Args:
        model: the loaded model.

    Returns:
        A new `GemmaBackbone` or `Gemma3Backbone`.
    """
    source = model.backbone
    backbone = type(source).from_config(source.get_config())
    with model.lock:
        for target, weight in zip(backbone.weights, source.weights, strict=True):
            target.assign(weight)
    return backbone


def merge_adapter(backbone: Any, adapter: Adapter) -> None:
    """Adds the adapter's deltas to the backbone's kernels, in place; LoRA stays off.

    Args:
        backbone: a backbone of the architecture the adapter was trained on.
        adapter: the adapter.

    Raises:
        PromptkitError: the backbone has no kernel of that path or shape
            (the adapter belongs to another model).
    """
    _, _, tf = keras_modules()
    kernels = {weight.path: weight for weight in backbone.weights}
    for path, delta in adapter.deltas().items():
        kernel = kernels.get(path)
        if kernel is None or tuple(kernel.shape) != delta.shape:
            raise PromptkitError(
                f"The adapter does not fit this model: it changes {path} {delta.shape}, which this model "
                f"{'lacks' if kernel is None else 'has as ' + str(tuple(kernel.shape))}. Load it on "
                f"{adapter.base_model}, the model it was trained on."
            )
        kernel.assign(tf.cast(tf.cast(kernel, "float32") + delta, kernel.dtype))


def saved_adapters() -> list[tuple[str, str]]:
    """`(adapter name, base model name)` of each adapter saved in the cache, by name.

    Reads only each adapter's small description file, so it is cheap to call
    on every page; a damaged adapter is reported when it is loaded.
    """
    root = cache_root() / "adapters"
    found = []
    for directory in sorted(root.iterdir()) if root.is_dir() else ():
        try:
            config = json.loads((directory / _CONFIG_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # A folder being written (its name starts with "."), or not an adapter.
        if _NAME.match(directory.name) and isinstance(config, dict) and isinstance(config.get("base_model"), str):
            found.append((directory.name, config["base_model"]))
    return found


def adapter_note(name: str, adapter: Adapter) -> str:
    """What a model's note says about its adapter."""
    return f"LoRA adapter {name} (rank {adapter.rank}) on {adapter.base_model}"


def save_adapter(adapter: Adapter, directory: Path) -> None:
    """Writes an adapter's factors and description into `directory`, atomically.

    The files are written into a temporary folder beside it, with a
    manifest, and the folder is renamed into place: a crash leaves nothing
    that looks like an adapter.

    Args:
        adapter: the adapter.
        directory: where it goes; must not exist yet.

    Raises:
        PromptkitError: the directory exists already.
    """
    if directory.exists():
        raise PromptkitError(f"An adapter is already saved in {directory}; choose another name or delete that folder.")
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        paths = sorted(adapter.factors)
        arrays: dict[str, Any] = {}
        for index, path in enumerate(paths):
            arrays[f"a{index}"], arrays[f"b{index}"] = adapter.factors[path]
        np.savez(staging / _FACTORS_FILE, **arrays)
        config = {
            "format": _FORMAT,
            "base_model": adapter.base_model,
            "rank": adapter.rank,
            "alpha": adapter.alpha,
            "kernels": paths,
            "best_epoch": adapter.best_epoch,
            "history": [record.to_json() for record in adapter.history],
        }
        (staging / _CONFIG_FILE).write_text(json.dumps(config, indent=1), encoding="utf-8")
        write_manifest(staging)
        os.rename(staging, directory)
    except OSError as error:
        raise PromptkitError(f"Could not save the adapter in {directory}: {error}.") from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def read_adapter(directory: Path) -> Adapter:
    """Reads an adapter written by `save_adapter`.

    Raises:
        PromptkitError: there is none, or its files are incomplete or damaged.
    """
    if not directory.is_dir():
        raise PromptkitError(
            f"There is no adapter {directory.name!r} in {directory.parent}; `python -m promptkit tune` "
            "trains one (adapters are kept in the cache of the machine that trained them)."
        )
    if not is_complete(directory):
        raise PromptkitError(f"The adapter in {directory} is incomplete or damaged; delete it and train it again.")
    config = json.loads((directory / _CONFIG_FILE).read_text(encoding="utf-8"))
    with np.load(directory / _FACTORS_FILE) as arrays:
        factors = {path: (arrays[f"a{i}"], arrays[f"b{i}"]) for i, path in enumerate(config["kernels"])}
    return Adapter(
        base_model=config["base_model"],
        rank=int(config["rank"]),
        alpha=float(config["alpha"]),
        factors=factors,
        history=tuple(EpochRecord(**record) for record in config["history"]),
        best_epoch=int(config["best_epoch"]),
    )


def train_adapter(
    model: GemmaModel,
    train: Sequence[LabelledExample],
    validation: Sequence[LabelledExample],
    settings: TrainingSettings,
    *,
    progress: Callable[[TrainingProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Adapter:
    """Trains LoRA factors on a copy of the model's weights (the model itself is never changed).

    Args:
        model: the base model; generation with it goes on meanwhile.
        train: the examples trained on.
        validation: the examples scored after every epoch, for early stopping.
        settings: rank, epochs, learning rate, batch size, seed, patience.
        progress: called after every step and after every epoch's validation.
        should_stop: polled before every step; True cancels the training.

    Returns:
        The factors of the epoch with the lowest validation loss.

    Raises:
        PromptkitError: bad settings or no examples in a split.
        TrainingCancelled: `should_stop` said so.
    """
    settings.check()
    if not train or not validation:
        raise PromptkitError("Training needs at least one training and one validation example.")
    _, _, tf = keras_modules()
    trainer = _Trainer(model, settings)
    order = np.random.default_rng(settings.seed)
    steps_per_epoch = -(-len(train) // settings.batch_size)
    steps = steps_per_epoch * settings.epochs
    history: list[EpochRecord] = []
    best: tuple[float, int, dict[str, tuple[np.ndarray, np.ndarray]]] | None = None
    started, step = time.perf_counter(), 0

    def report(epoch: int, loss: float, record: EpochRecord | None = None) -> None:
        if progress is not None:
            seconds_left = (time.perf_counter() - started) / step * (steps - step)
            progress(
                TrainingProgress(
                    step=step,
                    steps=steps,
                    epoch=epoch,
                    loss=loss,
                    validation_loss=record.validation_loss if record else None,
                    validation_macro_f1=record.validation_macro_f1 if record else None,
                    seconds_left=seconds_left,
                )
            )

    for epoch in range(1, settings.epochs + 1):
        losses = []
        permutation = order.permutation(len(train))
        for start in range(0, len(train), settings.batch_size):
            if should_stop is not None and should_stop():
                raise TrainingCancelled("Training was cancelled; no adapter was saved.")
            batch = [train[int(i)] for i in permutation[start : start + settings.batch_size]]
            loss = trainer.step(*(tf.constant(array) for array in _answer_batch(batch, model.vocabulary.pad_id)))
            losses.append(loss)
            step += 1
            report(epoch, loss)
        validation_loss, validation_f1 = trainer.validate(validation)
        record = EpochRecord(epoch, float(np.mean(losses)), validation_loss, validation_f1)
        history.append(record)
        report(epoch, losses[-1], record)
        if best is None or validation_loss < best[0]:
            best = (validation_loss, epoch, trainer.factors())
        elif epoch - best[1] >= settings.patience:
            break
    assert best is not None  # At least one epoch ran.
    return Adapter(
        base_model=model.info.name,
        rank=settings.rank,
        alpha=float(trainer.alpha),
        factors=best[2],
        history=tuple(history),
        best_epoch=best[1],
    )


class _Trainer:
    """The LoRA-enabled copy of a backbone, its optimizer and its compiled step and scoring functions."""

    def __init__(self, model: GemmaModel, settings: TrainingSettings) -> None:
        keras, _, tf = keras_modules()
        self._tf = tf
        self._pad_id = model.vocabulary.pad_id
        self.backbone = copy_backbone(model)
        self.backbone.enable_lora(settings.rank)
        self.variables = list(self.backbone.trainable_variables)
        if not self.variables:
            raise PromptkitError(f"{model.info.name} has no layers LoRA can adapt (query and value projections).")
        # Backbone.enable_lora leaves each layer's alpha at its rank: the scale alpha / rank is 1.
        self.alpha = float(settings.rank)
        # enable_lora draws `A` from Keras' global random state; these draws
        # are seeded instead, so a training does not depend on what ran before.
        for index, variable in enumerate(self.variables):
            if variable.path.endswith("/lora_kernel_a"):
                initializer = keras.initializers.HeUniform(seed=settings.seed * 1_000 + index)
                variable.assign(initializer(variable.shape, dtype=variable.dtype))
        self.optimizer = keras.optimizers.Adam(learning_rate=settings.learning_rate)
        self.optimizer.build(self.variables)
        ids = tf.TensorSpec([None, None], tf.int32)
        self._step = tf.function(self._step_fn, input_signature=[ids, ids, ids, ids, tf.TensorSpec([None, None], tf.float32)])
        self._score = tf.function(self._label_logprobs, input_signature=[ids, ids, ids, ids])

    def step(self, token_ids: Any, padding_mask: Any, positions: Any, targets: Any, target_mask: Any) -> float:
        """One optimizer step on a batch (shapes as `_answer_batch`); returns its loss."""
        return float(self._step(token_ids, padding_mask, positions, targets, target_mask).numpy())

    def _step_fn(self, token_ids: Any, padding_mask: Any, positions: Any, targets: Any, target_mask: Any) -> Any:
        tf = self._tf
        with tf.GradientTape() as tape:
            logprobs = self._label_logprobs(token_ids, padding_mask, positions, targets)
            # Each example's loss is its answer's negative log-likelihood: the sum over its label tokens.
            loss = -tf.reduce_mean(tf.reduce_sum(logprobs * target_mask, axis=1))
        gradients = tape.gradient(loss, self.variables)
        self.optimizer.apply(gradients, self.variables)
        return loss

    def _label_logprobs(self, token_ids: Any, padding_mask: Any, positions: Any, targets: Any) -> Any:
        """Log-probabilities of the label tokens.

        Args:
            token_ids: `(batch, length)` int32, right-padded.
            padding_mask: `(batch, length)`, 1 on real tokens.
            positions: `(batch, targets)` positions whose hidden state
                predicts each label token.
            targets: `(batch, targets)` the label tokens.

        Returns:
            `(batch, targets)` float32; entries past a row's label are meaningless.
        """
        tf = self._tf
        hidden = self.backbone({"token_ids": token_ids, "padding_mask": padding_mask})  # (batch, length, hidden)
        picked = tf.gather(hidden, positions, batch_dims=1)  # (batch, targets, hidden)
        # The reversed embedding is the causal LM's own output head (with
        # Gemma 2's soft cap), computed at the label positions alone.
        logits = tf.cast(self.backbone.token_embedding(picked, reverse=True), "float32")  # (batch, targets, vocabulary)
        return tf.gather(tf.nn.log_softmax(logits), targets, batch_dims=2)

    def validate(self, examples: Sequence[LabelledExample]) -> tuple[float, float]:
        """The validation loss (mean answer negative log-likelihood) and macro-F1 of the likeliest label."""
        tf = self._tf
        pairs = [(example, index) for example in examples for index in range(len(example.labels))]
        scores: list[float] = []
        for start in range(0, len(pairs), _SCORING_BATCH):
            chunk = pairs[start : start + _SCORING_BATCH]
            arrays = _sequence_batch([(e.prefix_ids, e.label_ids[i]) for e, i in chunk], self._pad_id)
            logprobs = self._score(*(tf.constant(array) for array in arrays[:4])).numpy()
            scores += (logprobs * arrays[4]).sum(axis=1).tolist()
        likelihoods, losses, at = [], [], 0
        for example in examples:
            row = scores[at : at + len(example.labels)]
            at += len(example.labels)
            losses.append(-row[example.answer])
            likelihoods.append(normalise(dict(zip(example.labels, row))))
        metrics = classifier_metrics([e.acceptable for e in examples], likelihoods, labels=examples[0].labels)
        return float(np.mean(losses)), metrics.macro_f1

    def factors(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Kernel path → `(A, B)`, copied out of the LoRA variables."""
        values = {variable.path: np.array(variable.numpy(), dtype=np.float32) for variable in self.variables}
        return {
            path.removesuffix("/lora_kernel_a") + "/kernel": (value, values[path.removesuffix("_a") + "_b"])
            for path, value in values.items()
            if path.endswith("/lora_kernel_a")
        }


def _answer_batch(batch: Sequence[LabelledExample], pad_id: int) -> tuple[np.ndarray, ...]:
    """Each example's prefix followed by its answer's tokens (`_sequence_batch`' arrays)."""
    return _sequence_batch([(example.prefix_ids, example.label_ids[example.answer]) for example in batch], pad_id)


def _sequence_batch(pairs: Sequence[tuple[Sequence[int], Sequence[int]]], pad_id: int) -> tuple[np.ndarray, ...]:
    """Right-padded `(prefix, label)` sequences and where their label tokens are.

    Returns:
        `token_ids` and `padding_mask` `(batch, width)` int32, `positions`
        and `targets` `(batch, targets)` int32 (the position predicting
        each label token, and the token), and `target_mask` `(batch,
        targets)` float32, 1 on real label tokens.
    """
    width = -(-max(len(prefix) + len(label) for prefix, label in pairs) // _LENGTH_BUCKET) * _LENGTH_BUCKET
    count = max(len(label) for _, label in pairs)
    token_ids = np.full((len(pairs), width), pad_id, dtype=np.int32)
    padding_mask = np.zeros((len(pairs), width), dtype=np.int32)
    positions = np.zeros((len(pairs), count), dtype=np.int32)
    targets = np.zeros((len(pairs), count), dtype=np.int32)
    target_mask = np.zeros((len(pairs), count), dtype=np.float32)
    for row, (prefix, label) in enumerate(pairs):
        sequence = [*prefix, *label]
        token_ids[row, : len(sequence)] = sequence
        padding_mask[row, : len(sequence)] = 1
        # The hidden state at position p predicts the token at p + 1.
        positions[row, : len(label)] = np.arange(len(prefix) - 1, len(sequence) - 1)
        targets[row, : len(label)] = label
        target_mask[row, : len(label)] = 1.0
    return token_ids, padding_mask, positions, targets, target_mask

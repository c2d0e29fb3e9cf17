"""LoRA adapters on tiny Gemmas: training lowers the loss, is reproducible, changes only the adapter; merged decoding equals LoRA decoding; saved adapters reload."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from promptkit.errors import ModelLoadError, PromptError, PromptkitError
from promptkit.generation import GenerationSettings
from promptkit.models.gemma_model import GemmaModel
from promptkit.models.loader import (
    EMBEDDED_MODEL,
    adapter_model_name,
    load_model,
    split_adapter_name,
    with_adapter,
)
from promptkit.models.lora import (
    Adapter,
    LabelledExample,
    TrainingCancelled,
    TrainingProgress,
    TrainingSettings,
    adapter_dir,
    check_adapter_name,
    copy_backbone,
    labelled_example,
    save_adapter,
    train_adapter,
)
from promptkit.models.scoring import ContinuationScorer
from promptkit.templates import TestCase, load_family_file, render_template

ROOT = Path(__file__).parents[2]
FAST = TrainingSettings(rank=2, epochs=2, learning_rate=2e-2, batch_size=4, seed=7)


@functools.cache
def _dish_cases() -> tuple[str, tuple[str, ...], tuple[TestCase, ...]]:
    family = load_family_file(ROOT / "templates" / "dish-restrictions.yaml")
    return family.versions[0].text, family.candidate_labels, family.cases


def dish_examples(model: GemmaModel, split: str, per_label: int) -> list[LabelledExample]:
    """The first `per_label` cases of each label in a split of the shipped dish family, as examples."""
    text, labels, cases = _dish_cases()
    chosen: list[TestCase] = []
    for label in labels:
        chosen += [c for c in cases if c.id.startswith(f"{split}-") and c.expect and c.expect.labels[0] == label][:per_label]
    return [
        labelled_example(
            model,
            case_id=case.id,
            prefix=render_template(text, case.values).text,
            labels=labels,
            acceptable=case.expect.labels if case.expect else (),
        )
        for case in chosen
    ]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTKIT_CACHE", str(tmp_path / "cache"))


def _weights(model: GemmaModel) -> list[np.ndarray]:
    return [np.array(weight.numpy()) for weight in model.backbone.weights]


def test_training_lowers_the_loss_and_changes_only_the_adapter(tiny_model: GemmaModel) -> None:
    before = _weights(tiny_model)
    reports: list[TrainingProgress] = []
    adapter = train_adapter(
        tiny_model,
        dish_examples(tiny_model, "train", 6),
        dish_examples(tiny_model, "validation", 2),
        TrainingSettings(rank=2, epochs=3, learning_rate=2e-2, batch_size=4, seed=1, patience=3),
        progress=reports.append,
    )
    assert [record.epoch for record in adapter.history] == [1, 2, 3]
    assert adapter.history[-1].loss < adapter.history[0].loss
    assert adapter.history[-1].validation_loss < adapter.history[0].validation_loss
    # The loaded model is untouched; only the attention's query and value projections get factors.
    assert all(np.array_equal(a, b) for a, b in zip(before, _weights(tiny_model)))
    assert sorted({path.split("/", 1)[1] for path in adapter.factors}) == ["attention/query/kernel", "attention/value/kernel"]
    assert all(a.shape[-1] == 2 and b.shape[0] == 2 for a, b in adapter.factors.values())
    assert any(np.abs(b).max() > 0 for _, b in adapter.factors.values())  # B starts at zero: it trained.
    # Progress after each of the 9 steps (12 examples, batch 4) and after each epoch's validation.
    assert [r.step for r in reports if r.validation_loss is None] == list(range(1, 10))
    epoch_reports = [r for r in reports if r.validation_loss is not None]
    assert [(r.epoch, r.step, r.steps) for r in epoch_reports] == [(1, 3, 9), (2, 6, 9), (3, 9, 9)]
    assert epoch_reports[-1].seconds_left == 0 and all(r.validation_macro_f1 is not None for r in epoch_reports)


def test_the_same_seed_and_data_give_the_same_adapter(tiny_gemma3: GemmaModel) -> None:
    train, validation = dish_examples(tiny_gemma3, "train", 4), dish_examples(tiny_gemma3, "validation", 1)
    first = train_adapter(tiny_gemma3, train, validation, FAST)
    again = train_adapter(tiny_gemma3, train, validation, FAST)
    other = train_adapter(tiny_gemma3, train, validation, TrainingSettings(**{**FAST.to_json(), "seed": 8}))
    for path, (a, b) in first.factors.items():
        np.testing.assert_allclose(again.factors[path][0], a, atol=1e-6)
        np.testing.assert_allclose(again.factors[path][1], b, atol=1e-6)
    assert [r.loss for r in again.history] == pytest.approx([r.loss for r in first.history], abs=1e-5)
    assert any(not np.allclose(other.factors[path][0], a) for path, (a, _) in first.factors.items())


def test_early_stopping_keeps_the_best_epoch(tiny_gemma3: GemmaModel) -> None:
    # Trained on "Avoid" cases alone, the "Likely good" validation cases get worse from the first epoch on.
    examples = dish_examples(tiny_gemma3, "train", 6)
    avoid = [example for example in examples if example.answer == 0]
    likely_good = [example for example in examples if example.answer == 1]
    adapter = train_adapter(
        tiny_gemma3, avoid, likely_good, TrainingSettings(rank=2, epochs=6, learning_rate=0.3, batch_size=2, seed=3, patience=2)
    )
    losses = [record.validation_loss for record in adapter.history]
    assert len(losses) == 3 and losses[0] < losses[1] < losses[2]  # Stopped after 2 epochs without improvement.
    assert adapter.best_epoch == 1
    assert adapter.history[-1].loss < adapter.history[0].loss


def _trained(model: GemmaModel, name: str) -> Adapter:
    adapter = train_adapter(model, dish_examples(model, "train", 4), dish_examples(model, "validation", 1), FAST)
    save_adapter(adapter, adapter_dir(name))
    return adapter


def _lora_model(model: GemmaModel, adapter: Adapter) -> GemmaModel:
    """The base model with LoRA enabled and the adapter's factors loaded: the un-merged adapter."""
    backbone = copy_backbone(model)
    backbone.enable_lora(adapter.rank)
    by_path = {weight.path: weight for weight in backbone.weights}
    for path, (a, b) in adapter.factors.items():
        by_path[path.removesuffix("/kernel") + "/lora_kernel_a"].assign(a)
        by_path[path.removesuffix("/kernel") + "/lora_kernel_b"].assign(b)
    causal_lm = type(model.causal_lm)(backbone=backbone, preprocessor=model.causal_lm.preprocessor)
    return GemmaModel(causal_lm, info=model.info)


def test_merged_decoding_equals_lora_decoding_and_keeps_the_fast_path(tiny_gemma3: GemmaModel) -> None:
    adapter = _trained(tiny_gemma3, "merge-check")
    merged = with_adapter(tiny_gemma3, "merge-check")
    unmerged = _lora_model(tiny_gemma3, adapter)
    assert merged.info.name == "tiny:gemma3+adapter:merge-check" and "rank 2" in merged.info.note
    assert merged.graphs._decode_step is not None and unmerged.graphs._decode_step is None
    prompts = ["Diner: Vegan\nDish: Pad thai", "Can this diner eat the dish?\nDiner: No alcohol\nDish: Tiramisu"]
    settings = GenerationSettings(max_new_tokens=12, stop_sequences=())
    for fast, slow in zip(merged.generate(prompts, settings=settings), unmerged.generate(prompts, settings=settings)):
        assert [t.id for t in fast.tokens] == [t.id for t in slow.tokens]
        np.testing.assert_allclose([t.logprob for t in fast.tokens], [t.logprob for t in slow.tokens], atol=1e-4)
    requests = [(prompts[1], " Avoid"), (prompts[1], " Likely good")]
    np.testing.assert_allclose(
        ContinuationScorer(merged).score(requests), ContinuationScorer(unmerged).score(requests), atol=1e-4
    )
    base = ContinuationScorer(tiny_gemma3).score(requests)
    assert not np.allclose(ContinuationScorer(merged).score(requests), base, atol=1e-4)  # The adapter does something.


def test_a_saved_adapter_loads_by_name_in_a_fresh_process(tiny_gemma3: GemmaModel, tmp_path: Path) -> None:
    _trained(tiny_gemma3, "fresh")
    requests = [("Diner: Vegan\nDish: Pad thai\nAnswer:", " Avoid"), ("Diner: Vegan\nDish: Fruit salad\nAnswer:", " Likely good")]
    expected = ContinuationScorer(with_adapter(tiny_gemma3, "fresh")).score(requests)
    code = (
        "import json, sys\n"
        "from promptkit.models.loader import load_model\n"
        "from promptkit.models.scoring import ContinuationScorer\n"
        "model = load_model('tiny:gemma3+adapter:fresh')\n"
        "print(json.dumps([model.info.name, ContinuationScorer(model).score(json.loads(sys.argv[1]))]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(requests)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    name, scores = json.loads(result.stdout.strip().splitlines()[-1])
    assert name == "tiny:gemma3+adapter:fresh"
    np.testing.assert_allclose(scores, expected, atol=1e-5)


def test_loading_an_adapter_refuses_a_missing_damaged_or_foreign_one(tiny_gemma3: GemmaModel) -> None:
    with pytest.raises(ModelLoadError, match="no adapter 'nothing'"):
        load_model("tiny:gemma3+adapter:nothing")
    adapter = _trained(tiny_gemma3, "mine")
    with pytest.raises(ModelLoadError, match="trained on tiny:gemma3, not tiny:gemma2; load it as 'tiny:gemma3\\+adapter:mine'"):
        load_model("tiny:gemma2+adapter:mine")
    with pytest.raises(PromptkitError, match="already saved"):
        save_adapter(adapter, adapter_dir("mine"))
    factors = adapter_dir("mine") / "factors.npz"
    factors.write_bytes(factors.read_bytes()[:-10])
    with pytest.raises(ModelLoadError, match="incomplete or damaged"):
        load_model("tiny:gemma3+adapter:mine")


def test_adapter_model_names() -> None:
    assert adapter_model_name(EMBEDDED_MODEL, "dishes") == "embedded+adapter:dishes"
    assert split_adapter_name("embedded+adapter:dishes") == (EMBEDDED_MODEL, "dishes")
    assert split_adapter_name("gemma2_instruct_2b_en+adapter:x") == ("gemma2_instruct_2b_en", "x")
    assert split_adapter_name("tiny:gemma3") is None
    for bad in ("", "Dishes", "../up", "a b", "x" * 101):
        with pytest.raises(PromptkitError, match="cannot name an adapter"):
            check_adapter_name(bad)
    check_adapter_name("dishes-v1.2_b")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (TrainingSettings(rank=0), "LoRA rank must be at least 1"),
        (TrainingSettings(epochs=0), "at least 1 epoch"),
        (TrainingSettings(learning_rate=0), "learning rate must be above 0"),
        (TrainingSettings(batch_size=0), "batch size must be at least 1"),
        (TrainingSettings(patience=0), "patience must be at least 1"),
    ],
)
def test_bad_settings_are_refused_before_training(tiny_gemma3: GemmaModel, settings: TrainingSettings, message: str) -> None:
    with pytest.raises(PromptkitError, match=message):
        train_adapter(tiny_gemma3, dish_examples(tiny_gemma3, "train", 1), dish_examples(tiny_gemma3, "validation", 1), settings)


def test_an_example_longer_than_the_context_is_refused(tiny_gemma3: GemmaModel) -> None:
    with pytest.raises(PromptError, match=r"Case 'long' is .* tokens long with its longest label, over tiny:gemma3's context of 512"):
        labelled_example(tiny_gemma3, case_id="long", prefix="eggs " * 1000, labels=("Avoid", "Likely good"), acceptable=("Avoid",))


def test_cancelling_stops_before_the_next_step(tiny_gemma3: GemmaModel) -> None:
    steps: list[int] = []
    with pytest.raises(TrainingCancelled, match="cancelled; no adapter was saved"):
        train_adapter(
            tiny_gemma3,
            dish_examples(tiny_gemma3, "train", 6),  # 3 steps an epoch
            dish_examples(tiny_gemma3, "validation", 1),
            FAST,
            progress=lambda report: steps.append(report.step),
            should_stop=lambda: len(steps) >= 2,
        )
    assert steps == [1, 2]

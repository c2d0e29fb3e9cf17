"""LoRA on the real embedded Gemma 3 270M: a few training steps fit the training cases, and the merged adapter decodes like LoRA."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from promptkit.generation import GenerationSettings
from promptkit.models.gemma_model import GemmaModel
from promptkit.models.loader import with_adapter
from promptkit.models.lora import TrainingSettings, adapter_dir, save_adapter, train_adapter
from promptkit.models.scoring import ContinuationScorer
from tests.models.test_lora import _lora_model, dish_examples

pytestmark = pytest.mark.real_model


def test_a_few_steps_fit_the_training_cases(embedded_model: GemmaModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTKIT_CACHE", str(tmp_path))
    train = dish_examples(embedded_model, "train", 2)
    settings = TrainingSettings(rank=4, epochs=3, learning_rate=1e-3, batch_size=2, seed=0, patience=3)
    adapter = train_adapter(embedded_model, train, dish_examples(embedded_model, "validation", 1), settings)
    assert len(adapter.history) == 3 and adapter.history[-1].loss < adapter.history[0].loss
    save_adapter(adapter, adapter_dir("real"))
    adapted = with_adapter(embedded_model, "real")
    assert adapted.info.name == "embedded+adapter:real" and adapted.graphs._decode_step is not None

    def answer_logprobs(model: GemmaModel) -> np.ndarray:
        scorer = ContinuationScorer(model)
        return np.array([scorer.score_ids([(e.prefix_ids, e.label_ids[e.answer])])[0].logprob for e in train])

    assert answer_logprobs(adapted).mean() > answer_logprobs(embedded_model).mean()
    prompt = [embedded_model.vocabulary.decode(list(train[0].prefix_ids[1:]))]
    settings_ = GenerationSettings(max_new_tokens=4, stop_sequences=())
    fast = adapted.generate(prompt, settings=settings_)[0]
    slow = _lora_model(embedded_model, adapter).generate(prompt, settings=settings_)[0]
    assert [t.id for t in fast.tokens] == [t.id for t in slow.tokens]
    np.testing.assert_allclose([t.logprob for t in fast.tokens], [t.logprob for t in slow.tokens], atol=2e-3)

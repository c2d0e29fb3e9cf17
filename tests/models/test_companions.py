"""A loaded model's companions: made once on first use, shared by every caller, fitting the model contract."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from promptkit.models import GemmaModel
from promptkit.models.api import LanguageModel
from promptkit.models.attention_weights import AttentionReader
from promptkit.models.gradients import GradientComputer
from promptkit.models.scoring import ContinuationScorer


def test_a_gemma_fits_the_model_contract(tiny_model: GemmaModel) -> None:
    assert isinstance(tiny_model, LanguageModel)
    assert tiny_model.vocabulary.bos_id == tiny_model.prompt_ids(["a"], new_tokens=0)[0][0]


def test_each_companion_is_made_once_even_when_threads_ask_at_the_same_moment(tiny_gemma3: GemmaModel) -> None:
    companions = tiny_gemma3.companions
    with ThreadPoolExecutor(max_workers=4) as pool:
        scorers = list(pool.map(lambda _: companions.scorer, range(8)))
    assert all(scorer is scorers[0] for scorer in scorers)
    assert isinstance(scorers[0], ContinuationScorer) and scorers[0].model is tiny_gemma3
    assert isinstance(companions.gradients, GradientComputer) and companions.gradients is companions.gradients
    assert isinstance(companions.attention, AttentionReader) and companions.attention is companions.attention
    assert tiny_gemma3.companions is companions


def test_the_companions_compute_for_their_own_model(tiny_gemma3: GemmaModel) -> None:
    ids = np.array(tiny_gemma3.prompt_ids(["Menu item: quiche"], new_tokens=0)[0], np.int32)
    masks = np.zeros((1, len(ids)), bool)
    masks[0, -1] = True
    result = tiny_gemma3.companions.gradients.gradients(ids, masks)
    assert result.gradients.shape[:2] == (1, len(ids))
    # The last token's loss is minus its log-probability after the others, as the scorer gives it.
    (step,) = tiny_gemma3.companions.scorer.step_scores(ids[:-1].tolist(), ids[-1:].tolist())
    np.testing.assert_allclose(result.losses[0], -step.logprob, rtol=1e-4)

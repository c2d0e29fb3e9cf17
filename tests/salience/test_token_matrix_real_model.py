"""Token-by-token matrices on the real embedded Gemma 3 270M and the codelab v1 prompt (slow: marked real_model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from promptkit.generation import GenerationSettings
from promptkit.salience import ATTENTION, SalienceEngine, TokenRange

pytestmark = pytest.mark.real_model

EXAMPLES = Path(__file__).parents[1] / "models/data/codelab_prompts.jsonl"


@pytest.fixture(scope="module")
def codelab(embedded_model) -> tuple[str, str]:
    """The codelab's version-1 prompt and the model's greedy completion of it."""
    prompt = json.loads(EXAMPLES.read_text().splitlines()[0])["prompt"]
    completion = embedded_model.generate([prompt], settings=GenerationSettings(max_new_tokens=64))[0].text
    return prompt, completion


def test_each_row_is_the_one_token_explanation(embedded_model, codelab):
    prompt, completion = codelab
    engine = SalienceEngine(embedded_model)
    matrix = engine.token_matrix(prompt, completion, method="grad_l2")
    assert len(matrix.steps) >= 20 and np.isfinite(matrix.values[~np.isnan(matrix.values)]).all()
    for row in range(len(matrix.steps)):
        single = engine.explain(prompt, completion, selection=TokenRange(row, row + 1), method="grad_l2")
        before = matrix.prompt_tokens + row
        np.testing.assert_allclose(matrix.values[row, :before], single.scores[:before], rtol=2e-3, atol=1e-5)
        assert np.isnan(matrix.values[row, before:]).all()
    assert all(0 < step.probability <= 1 for step in matrix.steps)


def test_attention_rows_are_distributions(embedded_model, codelab):
    prompt, completion = codelab
    matrix = SalienceEngine(embedded_model).token_matrix(prompt, completion, method=ATTENTION, layers="17")
    ids = np.array([embedded_model.vocabulary.bos_id, *embedded_model.tokenize(prompt), *embedded_model.tokenize(completion)])
    weights = embedded_model.companions.attention.read(ids, len(matrix.steps)).weights
    assert weights.shape[:2] == (18, 4) and (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-4)
    before = matrix.prompt_tokens
    np.testing.assert_allclose(matrix.values[0, :before], weights[17, :, 0, 1 : before + 1].mean(0), atol=1e-6)

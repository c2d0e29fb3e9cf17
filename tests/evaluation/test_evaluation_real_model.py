"""On the real Gemma 3 270M: the few-shot fix lowers the faulty outcome's likelihood."""

from __future__ import annotations

import pytest

from promptkit.evaluation.matrix import run_matrix
from promptkit.evaluation.outcomes import outcome_likelihoods
from promptkit.models.gemma_model import GemmaModel
from promptkit.models.scoring import ContinuationScorer
from promptkit.templates import default_templates_dir, load_family_file, render_template

pytestmark = pytest.mark.real_model

VALUES = {"food_likes": "Cheese", "food_dislikes": "Can't eat eggs", "menu_item": "Quiche Lorraine"}
# The version-1 greedy analysis line (docs: embedded-gemma.md).
ANALYSIS = " it has cheese in it, which you don't like.\n"
FAULTY = "Recommendation: You have to try it."


@pytest.fixture(scope="module")
def menu():
    return load_family_file(default_templates_dir() / "menu-analysis.yaml")


def test_fix_lowers_the_likelihood_of_the_copied_recommendation(embedded_model: GemmaModel, menu) -> None:
    mistake, fixed = (render_template(v.text, VALUES).text for v in menu.versions[:2])
    scorer = ContinuationScorer(embedded_model)
    before, after = scorer.score([(mistake + ANALYSIS, FAULTY), (fixed + ANALYSIS, FAULTY)])
    # Reference values: about -1.5 and -5.3 (≈45× less likely).
    assert before == pytest.approx(-1.5, abs=0.3)
    assert after == pytest.approx(-5.3, abs=0.5)
    old, new = outcome_likelihoods(
        scorer, [mistake + ANALYSIS + "Recommendation:", fixed + ANALYSIS + "Recommendation:"], menu.candidate_labels
    )
    assert max(old, key=old.get) == "You have to try it"
    assert max(new, key=new.get) == "Avoid"
    assert new["You have to try it"] < old["You have to try it"] / 10


def test_matrix_shows_the_fix_passing(embedded_model: GemmaModel, menu) -> None:
    quiche = [case for case in menu.cases if case.id == "quiche-cant-eat-eggs"]
    result = run_matrix(
        embedded_model, menu, versions=menu.versions[:2], cases=quiche, scorer=ContinuationScorer(embedded_model)
    )
    mistake, fixed = result.cell(1, quiche[0].id), result.cell(2, quiche[0].id)
    assert "You have to try it" in mistake.completion and mistake.passed is False
    assert "Avoid" in fixed.completion and fixed.passed is True
    assert fixed.expected_likelihood > 0.9 > 0.1 > mistake.expected_likelihood


def test_step_scores_show_the_recommendation_as_a_fork_the_fix_moves(embedded_model: GemmaModel, menu) -> None:
    from promptkit.generation import GenerationSettings
    from promptkit.steps import forks

    scorer = ContinuationScorer(embedded_model)
    answers = {}
    for version in menu.versions[:2]:
        prompt = render_template(version.text, VALUES).text
        completion = embedded_model.generate([prompt], settings=GenerationSettings(max_new_tokens=40))[0]
        steps = scorer.step_scores(embedded_model.prompt_ids([prompt], new_tokens=0)[0], [t.id for t in completion.tokens])
        assert [s.rank for s in steps] == [1] * len(steps)  # Greedy: the likeliest token at every step.
        assert max(abs(s.logprob - t.logprob) for s, t in zip(steps, completion.tokens)) < 1e-3
        answer = next(s for s in steps if completion.text[: s.start].endswith("Recommendation:"))
        assert answer in forks(steps)  # The model hesitates exactly where the versions differ.
        answers[version.number] = {a.text: a.logprob for a in answer.alternatives}
    assert max(answers[1], key=answers[1].get) == " You"
    assert max(answers[2], key=answers[2].get) == " Avoid"
    assert answers[2].get(" You", -99.0) < answers[1][" You"] - 1  # The fix makes copying far less likely.

"""Step-score views: forks, their table and the chart (no model needed)."""

from __future__ import annotations

import math

from promptkit.step_figures import step_scores_figure
from promptkit.steps import Alternative, StepScore, alternatives_text, fork_rows, forks, within

COMPLETION = " Avoid <it>."


def _step(text: str, start: int, p: float, rank: int = 1) -> StepScore:
    alternatives = (Alternative(1, text, math.log(p)), Alternative(2, " You", math.log(min(p, 1 - p) or 1e-9)))
    return StepScore(1, text, start, start + len(text), math.log(p), 0.7, rank, alternatives)


STEPS = [_step(" Avoid", 0, 0.9), _step(" <it>", 6, 0.3), _step(".", 11, 0.6, rank=2)]


def test_forks_are_unsure_or_not_first_choice_steps():
    assert [step.text for step in forks(STEPS)] == [" <it>", "."]
    assert [step.text for step in forks(STEPS, below=0.95)] == [" Avoid", " <it>", "."]


def test_fork_rows_show_what_came_before_and_the_alternatives():
    rows = fork_rows(STEPS, COMPLETION, context=4)
    assert [row["after"] for row in rows] == ["…void", "…<it>"]
    assert rows[0]["token"] == " <it>" and rows[0]["rank"] == 1
    assert math.isclose(rows[0]["probability"], 0.3)
    assert rows[0]["alternatives"] == "' <it>' 30% · ' You' 30%"
    assert alternatives_text(STEPS[0], limit=1) == "' Avoid' 90%"


def test_figure_colours_forks_and_escapes_hover_text():
    figure = step_scores_figure(STEPS)
    bars, entropy = figure.data
    assert list(bars.marker.color) == ["#5b2c9f", "#c2410c", "#c2410c"]
    assert "&lt;it&gt;" in bars.hovertext[1] and "<it>" not in bars.hovertext[1]
    assert list(figure.layout.xaxis.ticktext) == [" Avoid", " <it>", "."]
    assert list(entropy.y) == [0.7, 0.7, 0.7]


def test_to_dict_is_the_cli_step_fields():
    assert STEPS[2].to_dict() == {
        "entropy": 0.7,
        "rank": 2,
        "alternatives": [{"text": ".", "logprob": math.log(0.6)}, {"text": " You", "logprob": math.log(0.4)}],
    }


def test_within_cuts_steps_as_a_stop_sequence_cuts_tokens():
    steps = [_step(" Avoid", 0, 0.9), _step(".\n\n", 6, 0.8), _step("Next", 9, 0.7)]
    kept = within(steps, " Avoid.")
    assert [(s.text, s.start, s.end) for s in kept] == [(" Avoid", 0, 6), (".", 6, 7)]
    assert kept[1].logprob == steps[1].logprob and kept[1].alternatives == steps[1].alternatives
    assert within(steps, " Avoid.\n\nNext") == steps

"""The rubric chart: one bar per version and criterion at the mean score, the count on hover."""

from __future__ import annotations

from promptkit.review.figures import rubric_figure


def test_rubric_figure_draws_each_versions_mean_per_criterion() -> None:
    summary = {
        "mode": "rubric",
        "rubric": {
            "tone": {"v1": {"mean": 3.5, "n": 4}, "v2": {"mean": 2.0, "n": 4}},
            "facts": {"v1": {"mean": 4.5, "n": 2}, "v2": {"mean": None, "n": 0}},
        },
    }
    figure = rubric_figure(summary)
    assert [bar.name for bar in figure.data] == ["v1", "v2"]
    assert [list(bar.x) for bar in figure.data] == [["tone", "facts"], ["tone", "facts"]]
    assert [list(bar.y) for bar in figure.data] == [[3.5, 4.5], [2.0, None]]  # nothing scored yet: no bar
    assert [list(bar.customdata) for bar in figure.data] == [[4, 2], [4, 0]]
    assert figure.layout.barmode == "group" and tuple(figure.layout.yaxis.range) == (0, 5)

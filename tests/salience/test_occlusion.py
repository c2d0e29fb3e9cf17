"""Occlusion on tiny Gemma: each piece's score is the span's loss with it minus without it."""

from __future__ import annotations

import numpy as np
import pytest

from promptkit.errors import SalienceError
from promptkit.models.scoring import ContinuationScorer
from promptkit.salience import LinePrefix, SalienceEngine, WholeTarget
from promptkit.salience.occlusion import explain_occlusion

PROMPT = "Taste-likes: Cheese\nTaste-dislikes: Can't eat eggs\nSuggestion: Quiche\nAnalysis:"
TARGET = " it has eggs.\nRecommendation: Avoid."
LINE = LinePrefix("Recommendation:")


class Part:
    def __init__(self, name: str, start: int, end: int) -> None:
        self.name, self.kind, self.start, self.end = name, "literal", start, end


def test_each_line_scores_the_loss_change_of_leaving_it_out(tiny_gemma3):
    scorer = ContinuationScorer(tiny_gemma3)
    result = SalienceEngine(tiny_gemma3, scorer=scorer).explain_occlusion(PROMPT, TARGET, selection=LINE, granularity="lines")
    # Checked against the plain batched scorer, with each line's tokens left out by hand.
    segments = result.segments("lines")
    first, last = result.target_tokens
    ids = [tiny_gemma3.vocabulary.bos_id, *tiny_gemma3.tokenize(PROMPT), *tiny_gemma3.tokenize(TARGET)]
    span = ids[1 + first : 1 + last]
    with_all = scorer.score_ids([(ids[: 1 + first], span)])[0].logprob
    assert result.loss == pytest.approx(-with_all, rel=1e-5)
    # The line "Taste-dislikes: …\n", left out by hand from the token ids.
    dislikes = next(i for i, s in enumerate(segments.segments) if s.text.startswith("Taste-dislikes"))
    segment = segments.segments[dislikes]
    kept = [ids[0]] + [i for i, t in zip(ids[1 : 1 + first], result.tokens) if not segment.start <= t.start < segment.end]
    without = scorer.score_ids([(kept, span)])[0].logprob
    assert segments.scores[dislikes] == pytest.approx(without - with_all, abs=1e-4)
    # Every line before the span was left out; the span itself and what follows score 0.
    before = [i for i, s in enumerate(segments.segments) if s.end <= result.target_span[0]]
    assert len(before) == result.details["pieces"] and np.count_nonzero(segments.scores[before]) >= 3
    assert (result.scores[first:] == 0).all()
    assert result.signed and result.method == "occlusion" and result.params == {"granularity": "lines"}


def test_template_parts_are_left_out_whole(tiny_gemma3):
    parts = [Part("likes", 0, 20), Part("dislikes", 20, 51), Part("rest", 51, len(PROMPT))]
    engine = SalienceEngine(tiny_gemma3)
    result = engine.explain_occlusion(PROMPT, TARGET, selection=WholeTarget(), granularity="parts", parts=parts)
    segments = result.segments("parts", parts=parts)
    assert [s.label for s in segments.segments if s.label] == ["likes", "dislikes", "rest"]
    assert result.details["pieces"] == 3
    # The "dislikes" part, left out by hand: its text gone from the prompt, tokens and all.
    ids = [tiny_gemma3.vocabulary.bos_id, *tiny_gemma3.tokenize(PROMPT)]
    inside = [20 <= t.start < 51 for t in result.tokens[: len(ids) - 1]]
    kept = [ids[0]] + [i for i, drop in zip(ids[1:], inside) if not drop]
    scorer = ContinuationScorer(tiny_gemma3)
    target = tiny_gemma3.tokenize(TARGET)
    with_all, without = (item.logprob for item in scorer.score_ids([(ids, target), (kept, target)]))
    assert segments.scores[1] == pytest.approx(without - with_all, abs=1e-4)


class CountingScorer:
    """Log-probability −5 when a left-out piece holds `needed`, else 0; counts its calls."""

    def __init__(self, needed: int) -> None:
        self.needed, self.calls = needed, 0

    def occluded_logprobs(self, prefix_ids, pieces, continuation_ids, *, on_progress=None):
        self.calls += 1
        without = []
        for done, (start, end) in enumerate(pieces, start=1):
            without.append(-5.0 if self.needed in prefix_ids[start:end] else 0.0)
            if on_progress is not None:
                on_progress(done, len(pieces))
        return 0.0, without


def test_only_the_piece_holding_what_the_span_needs_scores(tiny_gemma3):
    ids = tiny_gemma3.tokenize(PROMPT)
    needed = next(i for i, s in zip(ids, tiny_gemma3.token_spans(ids, source=PROMPT)) if s.text == "uic")
    scorer = CountingScorer(needed)
    progress: list[tuple[int, int]] = []
    result = explain_occlusion(
        tiny_gemma3, scorer, PROMPT, TARGET, selection=LINE, granularity="lines", on_progress=lambda *p: progress.append(p)
    )
    segments = result.segments("lines")
    scored = {s.text: score for s, score in zip(segments.segments, segments.scores) if score}
    assert scored == {"Suggestion: Quiche\n": pytest.approx(-5.0)}  # Leaving it out made the span less likely.
    assert progress[-1] == (result.details["pieces"], result.details["pieces"])
    assert [done for done, _ in progress] == list(range(1, len(progress) + 1))
    assert scorer.calls == 1


def test_results_are_cached_and_granularity_is_part_of_the_key(tiny_gemma3):
    scorer = CountingScorer(-1)
    engine = SalienceEngine(tiny_gemma3, scorer=scorer)
    lines = engine.explain_occlusion(PROMPT, TARGET, selection=LINE, granularity="lines")
    calls = scorer.calls
    assert engine.explain_occlusion(PROMPT, TARGET, selection=LINE, granularity="lines") is lines
    assert scorer.calls == calls
    engine.explain_occlusion(PROMPT, TARGET, selection=LINE, granularity="sentences")
    assert scorer.calls > calls


@pytest.mark.parametrize(
    ("prompt", "target", "kwargs", "message"),
    [
        ("", TARGET, {}, "prompt is empty"),
        (PROMPT, "  ", {}, "target is empty"),
        (PROMPT, TARGET, {"selection": LinePrefix("Verdict:")}, "Verdict:"),
        (PROMPT, TARGET, {"granularity": "tokens", "max_pieces": 5}, "choose a coarser granularity"),
        (PROMPT, TARGET, {"granularity": "nonsense"}, "Unknown granularity"),
        ("word " * 600, TARGET, {}, "context"),
    ],
)
def test_bad_requests_say_what_to_fix(tiny_gemma3, prompt, target, kwargs, message):
    scorer = CountingScorer(-1)
    options = {"selection": WholeTarget(), "granularity": "lines", **kwargs}
    with pytest.raises(SalienceError, match=message):
        explain_occlusion(tiny_gemma3, scorer, prompt, target, **options)
    assert scorer.calls == 0

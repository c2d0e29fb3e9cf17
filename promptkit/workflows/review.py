"""Reviewing as a team: set a blind pairwise task, judge its items, put the verdicts together."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any

from promptkit.errors import PromptkitError, StoreError
from promptkit.evaluation.checks import find_line, line_of_interest, matched_label, output_text
from promptkit.people import PermissionDenied, Role
from promptkit.review import blind_order, disputed_items, krippendorff_alpha, pair_summary, unblind
from promptkit.store import Store
from promptkit.store.records import JudgementRecord, ReviewTaskRecord
from promptkit.templates import Expectation, TestCase
from promptkit.workflows.compare import load_comparison


@dataclasses.dataclass(frozen=True)
class ReviewItem:
    """One thing a reviewer judges: a case's two completions, in the order this reviewer sees them.

    Attributes:
        task_id: the task.
        case_id: the case.
        values: the case's filled-in values, for context.
        pair: the task's version pair `(a, b)`; not shown to the reviewer.
        left_version: the version shown on the left (hidden from the reviewer).
        left: the completion shown on the left.
        right: the completion shown on the right.
        verdict: the reviewer's verdict so far as they gave it ("left", "right", "tie", "both_bad"), or None.
        comment: their comment so far.
    """

    task_id: int
    case_id: str
    values: dict[str, str]
    pair: tuple[int, int]
    left_version: int
    left: str
    right: str
    verdict: str | None
    comment: str

    @property
    def key(self) -> str:
        """The item's name, stable across runs: `case:a:b`."""
        return item_key(self.case_id, self.pair)


def item_key(case_id: str, pair: tuple[int, int]) -> str:
    """Names an item of a task: its case and version pair."""
    return f"{case_id}:v{pair[0]}:v{pair[1]}"


def set_review_task(
    store: Store,
    *,
    actor: str,
    comparison_id: int,
    pairs: Sequence[tuple[int, int]] | None = None,
    cases: Sequence[str] | None = None,
    reviewers: Sequence[str] = (),
) -> ReviewTaskRecord:
    """Turns a stored comparison into a blind pairwise review task.

    Args:
        store: the store.
        actor: who sets it (an editor's key).
        comparison_id: the comparison.
        pairs: version pairs; default every version against the baseline (the first).
        cases: case ids; default all of the comparison's.
        reviewers: people asked (keys); empty: every reviewer.

    Returns:
        The task.

    Raises:
        PermissionDenied: If the actor is not an editor.
        StoreError: If a pair, case or reviewer does not fit.
    """
    comparison = store.get_comparison(comparison_id)
    # A pair names two versions: the comparison's columns without an adapter.
    plain = [column.version for column in comparison.columns if column.adapter is None]
    if pairs is None:
        pairs = [(plain[0], other) for other in plain[1:]] if plain else []
    elif any(version not in plain and version in comparison.versions for pair in pairs for version in pair):
        raise StoreError(
            f"A review task pairs versions without adapters; comparison {comparison_id} has "
            f"{', '.join(f'v{n}' for n in plain) or 'none'}."
        )
    return store.create_review_task(
        actor=actor,
        comparison_id=comparison_id,
        pairs=list(pairs),
        cases=list(cases) if cases is not None else [case.id for case in comparison.cases],
        reviewers=reviewers,
    )


def review_items(store: Store, *, actor: str, task_id: int) -> list[ReviewItem]:
    """The items of a task as `actor` sees them: blind, in a left/right order randomised for them.

    Raises:
        PermissionDenied: If the actor may not review, or the task does not ask them.
    """
    store.require(actor, Role.REVIEWER, action="review completions")
    task = store.get_review_task(task_id)
    _check_asked(task, actor)
    stored = load_comparison(store, task.comparison_id)
    mine = {(j.case_id, (j.version_a, j.version_b)): j for j in store.list_judgements(task_id, reviewer=actor)}
    values = {case.id: dict(case.values) for case in stored.result.cases}
    items = []
    for case_id, pair in itertools.product(task.cases, task.pairs):
        swapped = blind_order(task_id=task_id, reviewer=actor, item_key=item_key(case_id, pair))
        left_version, right_version = (pair[1], pair[0]) if swapped else pair
        judged = mine.get((case_id, pair))
        items.append(
            ReviewItem(
                task_id=task_id,
                case_id=case_id,
                values=values[case_id],
                pair=pair,
                left_version=left_version,
                left=stored.result.cell(left_version, case_id).completion,
                right=stored.result.cell(right_version, case_id).completion,
                verdict=None if judged is None else _as_shown(judged),
                comment="" if judged is None else judged.comment,
            )
        )
    return items


def judge_item(
    store: Store, *, actor: str, task_id: int, case_id: str, pair: tuple[int, int], verdict: str, comment: str = ""
) -> JudgementRecord:
    """Saves a reviewer's verdict as they gave it ("left", "right", "tie", "both_bad"), unblinded for the store.

    Raises:
        PermissionDenied: If the actor may not review, or the task does not ask them.
        StoreError: If the item is not the task's.
        ValueError: If the verdict is not one of the four.
    """
    swapped = blind_order(task_id=task_id, reviewer=actor, item_key=item_key(case_id, pair))
    return store.judge(
        actor=actor,
        task_id=task_id,
        case_id=case_id,
        pair=pair,
        shown_left=pair[1] if swapped else pair[0],
        verdict=unblind(verdict, swapped=swapped),
        comment=comment,
    )


def task_summary(store: Store, *, actor: str, task_id: int) -> dict[str, Any]:
    """Puts a task's judgements together: win rates, sign tests, agreement, progress, disputed items.

    Reviewers see it once they have judged every item; editors at any time.

    Returns:
        The `reviews --task ID --json` layout (a contract: keys are added, never renamed).

    Raises:
        PermissionDenied: If the actor is a reviewer with items left, or not a reviewer at all.
    """
    person = store.require(actor, Role.REVIEWER, action="see a review task's results")
    task = store.get_review_task(task_id)
    judgements = store.list_judgements(task_id)
    items = [(case_id, pair) for case_id, pair in itertools.product(task.cases, task.pairs)]
    reviewers = sorted(set(task.reviewers) | {j.reviewer for j in judgements})
    done = {reviewer: sum(j.reviewer == reviewer for j in judgements) for reviewer in reviewers}
    if person.role < Role.EDITOR and done.get(actor, 0) < len(items):
        raise PermissionDenied(
            f"You see the other reviewers' verdicts once you have judged every item of task {task_id} "
            f"({done.get(actor, 0)} of {len(items)} done)."
        )
    item_of = {item_key(case, pair): (case, pair) for case, pair in items}
    by_item: dict[str, dict[str, str]] = {key: {} for key in item_of}
    for judgement in judgements:
        by_item[item_key(judgement.case_id, (judgement.version_a, judgement.version_b))][judgement.reviewer] = judgement.verdict
    names = {person.key: person.name for person in store.list_people()}
    disputed = disputed_items(by_item)
    return {
        "task_id": task.id,
        "comparison_id": task.comparison_id,
        "mode": task.mode,
        "pairs": [_pair_json(pair, [j.verdict for j in judgements if (j.version_a, j.version_b) == pair]) for pair in task.pairs],
        "rubric": {},
        "agreement": {
            "krippendorff_alpha": krippendorff_alpha(
                [[by_item[key].get(reviewer) for key in by_item] for reviewer in reviewers], level="nominal"
            )
            if reviewers
            else None,
            "n_items": len(items),
            "n_reviewers": len(reviewers),
        },
        "reviewers": [{"name": names.get(r, r), "key": r, "done": done[r], "total": len(items)} for r in reviewers],
        "disputed": [
            {
                "case": item_of[key][0],
                "a": item_of[key][1][0],
                "b": item_of[key][1][1],
                "verdicts": {names.get(r, r): v for r, v in by_item[key].items()},
            }
            for key in disputed
        ],
    }


def case_from_judgements(store: Store, *, actor: str, task_id: int, case_id: str, pair: tuple[int, int]) -> TestCase:
    """Makes a judged item's agreed answer the expected outcome of its test case (added or updated).

    The reviewers must agree: every decisive verdict on the item picks the
    same version. The label that version's completion gives (on the case's
    line, e.g. "Recommendation:") becomes the case's acceptable label.

    Returns:
        The case as stored now.

    Raises:
        PermissionDenied: If the actor is not an editor.
        PromptkitError: If the reviewers do not agree, or the preferred completion names none of the labels.
    """
    store.require(actor, Role.EDITOR, action="turn judgements into test cases")
    task = store.get_review_task(task_id)
    verdicts = [j.verdict for j in store.list_judgements(task_id) if j.case_id == case_id and (j.version_a, j.version_b) == pair]
    decisive = {verdict for verdict in verdicts if verdict in ("a", "b")}
    if len(decisive) != 1:
        counts = ", ".join(f"{v}: {verdicts.count(v)}" for v in ("a", "b", "tie", "both_bad") if v in verdicts) or "none yet"
        raise PromptkitError(
            f"The reviewers do not agree on which completion of {case_id!r} is better (verdicts {counts}); "
            "settle it, or edit the test case by hand."
        )
    winner = pair[0] if decisive == {"a"} else pair[1]
    stored = load_comparison(store, task.comparison_id)
    case = next(case for case in stored.result.cases if case.id == case_id)
    cell = stored.result.cell(winner, case_id)
    expect = case.expect or Expectation(line=line_of_interest(stored.result.cases))
    candidates = expect.candidates or stored.result.labels
    text = output_text(cell.prompt or "", cell.completion)
    subject = text if expect.line is None else find_line(text, expect.line)
    label = None if subject is None else matched_label(subject, candidates)
    if label is None:
        raise PromptkitError(
            f"The preferred completion of {case_id!r} (v{winner}) names none of the labels "
            f"({', '.join(candidates) or 'the family has none'}); edit the test case by hand."
        )
    updated = dataclasses.replace(case, expect=dataclasses.replace(expect, labels=(label,)))
    store.import_cases(family=stored.record.family, cases=(updated,))
    return store.get_case(family=stored.record.family, case_id=case_id)


def _pair_json(pair: tuple[int, int], verdicts: list[str]) -> dict[str, Any]:
    summary = pair_summary(verdicts)
    return {
        "a": pair[0],
        "b": pair[1],
        "wins_a": summary.wins_a,
        "wins_b": summary.wins_b,
        "ties": summary.ties,
        "both_bad": summary.both_bad,
        "win_rate_a": dataclasses.asdict(summary.win_rate_a),
        "p_value": summary.p_value,
    }


def _as_shown(judgement: JudgementRecord) -> str:
    if judgement.verdict in ("tie", "both_bad"):
        return judgement.verdict
    chosen = judgement.version_a if judgement.verdict == "a" else judgement.version_b
    return "left" if chosen == judgement.shown_left else "right"


def _check_asked(task: ReviewTaskRecord, actor: str) -> None:
    if task.reviewers and actor not in task.reviewers:
        raise PermissionDenied(f"Review task {task.id} asks {', '.join(task.reviewers)}, not you ({actor}).")

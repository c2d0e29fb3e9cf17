"""Reviewing as a team: set a blind pairwise or rubric task, judge its items, put the judgements together.

An item is a case's two completions (pairwise) or one completion (rubric) of
the task's comparison. A cell whose run failed has no completion to judge:
items that would show one are left out of the task.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any

from promptkit.errors import PromptkitError, StoreError
from promptkit.evaluation.checks import find_line, line_of_interest, matched_label, output_text
from promptkit.people import PermissionDenied, Role
from promptkit.review import (
    blind_order,
    disputed_items,
    disputed_rubric_items,
    krippendorff_alpha,
    pair_summary,
    rubric_order,
    score_means,
    unblind,
)
from promptkit.store import Store
from promptkit.store.records import ComparisonRecord, JudgementRecord, ReviewTaskRecord, RubricJudgementRecord
from promptkit.templates import Expectation, ReviewCriterion, TestCase
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


@dataclasses.dataclass(frozen=True)
class RubricItem:
    """One completion a reviewer scores on a rubric task's criteria, its version hidden.

    Attributes:
        task_id: the task.
        case_id: the case.
        values: the case's filled-in values, for context.
        version: the version that wrote it; not shown to the reviewer.
        completion: the completion.
        criteria: what to score, 1 (poor) to 5 (very good).
        scores: the reviewer's scores so far (criterion -> score), or None if not scored yet.
        comment: their comment so far.
    """

    task_id: int
    case_id: str
    values: dict[str, str]
    version: int
    completion: str
    criteria: tuple[ReviewCriterion, ...]
    scores: dict[str, int] | None
    comment: str

    @property
    def key(self) -> str:
        """The item's name, stable across runs: `case:vN`."""
        return rubric_item_key(self.case_id, self.version)


def item_key(case_id: str, pair: tuple[int, int]) -> str:
    """Names an item of a pairwise task: its case and version pair."""
    return f"{case_id}:v{pair[0]}:v{pair[1]}"


def rubric_item_key(case_id: str, version: int) -> str:
    """Names an item of a rubric task: its case and version."""
    return f"{case_id}:v{version}"


def set_review_task(
    store: Store,
    *,
    actor: str,
    comparison_id: int,
    pairs: Sequence[tuple[int, int]] | None = None,
    cases: Sequence[str] | None = None,
    reviewers: Sequence[str] = (),
    mode: str = "pairwise",
    versions: Sequence[int] | None = None,
) -> ReviewTaskRecord:
    """Turns a stored comparison into a review task: blind pairwise, or rubric scores on the family's criteria.

    Items whose completion is missing because the cell's run failed are left out.

    Args:
        store: the store.
        actor: who sets it (an editor's key).
        comparison_id: the comparison.
        pairs: version pairs (pairwise); default every version against the baseline (the first).
        cases: case ids; default all of the comparison's.
        reviewers: people asked (keys); empty: every reviewer.
        mode: "pairwise" (blind A/B) or "rubric" (1–5 per criterion of the family).
        versions: versions whose completions are scored (rubric); default all of the comparison's.

    Returns:
        The task.

    Raises:
        PermissionDenied: If the actor is not an editor.
        PromptkitError: If a rubric is asked of a family without criteria, or no item is left to judge.
        StoreError: If the mode, a pair, version, case or reviewer does not fit.
    """
    store.require(actor, Role.EDITOR, action="set a review task")
    comparison = store.get_comparison(comparison_id)
    # A task names versions: the comparison's columns without an adapter.
    plain = [column.version for column in comparison.columns if column.adapter is None]
    chosen_cases = list(dict.fromkeys(cases)) if cases is not None else [case.id for case in comparison.cases]
    failed = _failed_cells(comparison)
    if mode == "rubric":
        criteria = store.get_family(name=comparison.family).review_criteria
        if not criteria:
            raise PromptkitError(
                f"The family {comparison.family!r} defines no review criteria, so there is nothing to score. Add "
                "`review_criteria:` (name: question) to its template file, import it, and try again; or ask for a "
                "blind A/B review instead."
            )
        chosen_versions = list(dict.fromkeys(versions)) if versions is not None else plain
        _refuse_adapter_only(comparison_id, chosen_versions, plain, comparison.versions)
        _check_judgeable(comparison_id, _judgeable_completions(chosen_cases, chosen_versions, failed), failed)
        return store.create_review_task(
            actor=actor, comparison_id=comparison_id, cases=chosen_cases, reviewers=reviewers,
            mode="rubric", versions=chosen_versions, criteria=criteria,
        )
    chosen_pairs = (
        list(dict.fromkeys((a, b) for a, b in pairs)) if pairs is not None
        else [(plain[0], other) for other in plain[1:]] if plain else []
    )
    _refuse_adapter_only(comparison_id, [version for pair in chosen_pairs for version in pair], plain, comparison.versions)
    _check_judgeable(comparison_id, _judgeable_pairs(chosen_cases, chosen_pairs, failed), failed)
    return store.create_review_task(
        actor=actor, comparison_id=comparison_id, pairs=chosen_pairs, cases=chosen_cases, reviewers=reviewers, mode=mode
    )


def _refuse_adapter_only(
    comparison_id: int, chosen: Sequence[int], plain: Sequence[int], compared: Sequence[int]
) -> None:
    """Refuses a version the comparison ran only with an adapter: a task's items are plain columns."""
    if any(version not in plain and version in compared for version in chosen):
        raise StoreError(
            f"A review task judges versions without adapters; comparison {comparison_id} has "
            f"{', '.join(f'v{n}' for n in plain) or 'none'}."
        )


def _check_judgeable(comparison_id: int, judgeable: Sequence[object], failed: set[tuple[int, str]]) -> None:
    if not judgeable and failed:
        raise PromptkitError(
            f"Every completion this task would show failed to run in comparison {comparison_id} (for example "
            f"v{min(failed)[0]} on {min(failed)[1]!r}), so there is nothing to judge. Pick other versions or cases, "
            "or fix the prompts and run the comparison again."
        )


def _failed_cells(comparison: ComparisonRecord) -> set[tuple[int, str]]:
    """`(version, case)` of the cells whose run failed (no completion)."""
    return {(cell.version, cell.case_id) for cell in comparison.cells if cell.error is not None and cell.adapter is None}


def _judgeable_pairs(
    cases: Sequence[str], pairs: Sequence[tuple[int, int]], failed: set[tuple[int, str]]
) -> list[tuple[str, tuple[int, int]]]:
    """A pairwise task's items `(case, pair)` whose two completions exist."""
    return [(c, p) for c, p in itertools.product(cases, pairs) if not {(p[0], c), (p[1], c)} & failed]


def _judgeable_completions(
    cases: Sequence[str], versions: Sequence[int], failed: set[tuple[int, str]]
) -> list[tuple[str, int]]:
    """A rubric task's items `(case, version)` whose completion exists."""
    return [(c, v) for c, v in itertools.product(cases, versions) if (v, c) not in failed]


def _pair_items(store: Store, task: ReviewTaskRecord) -> list[tuple[str, tuple[int, int]]]:
    return _judgeable_pairs(task.cases, task.pairs, _failed_cells(store.get_comparison(task.comparison_id)))


def _rubric_items(store: Store, task: ReviewTaskRecord) -> list[tuple[str, int]]:
    return _judgeable_completions(task.cases, task.versions, _failed_cells(store.get_comparison(task.comparison_id)))


def review_items(store: Store, *, actor: str, task_id: int) -> list[ReviewItem]:
    """The items of a task as `actor` sees them: blind, in a left/right order randomised for them.

    Raises:
        PermissionDenied: If the actor may not review, or the task does not ask them.
    """
    store.require(actor, Role.REVIEWER, action="review completions")
    task = store.get_review_task(task_id)
    _check_asked(task, actor)
    if task.mode != "pairwise":
        raise PromptkitError(f"Review task {task_id} asks for rubric scores, not blind A/B verdicts.")
    stored = load_comparison(store, task.comparison_id)
    mine = {(j.case_id, (j.version_a, j.version_b)): j for j in store.list_judgements(task_id, reviewer=actor)}
    values = {case.id: dict(case.values) for case in stored.result.cases}
    items = []
    for case_id, pair in _judgeable_pairs(task.cases, task.pairs, _failed_cells(stored.record)):
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
        PromptkitError: If the item was left out because a completion failed to run.
    """
    store.require(actor, Role.REVIEWER, action="judge completions")
    task = store.get_review_task(task_id)
    _check_asked(task, actor)
    in_task = case_id in task.cases and tuple(pair) in task.pairs
    if in_task and (case_id, tuple(pair)) not in _pair_items(store, task):
        raise PromptkitError(f"v{pair[0]} vs v{pair[1]} on {case_id!r} is left out of task {task_id}: a completion failed to run.")
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


def rubric_items(store: Store, *, actor: str, task_id: int) -> list[RubricItem]:
    """The items of a rubric task as `actor` sees them: version names hidden, in an order shuffled for them.

    Raises:
        PermissionDenied: If the actor may not review, or the task does not ask them.
        PromptkitError: If the task is not a rubric task.
    """
    store.require(actor, Role.REVIEWER, action="review completions")
    task = store.get_review_task(task_id)
    _check_asked(task, actor)
    if task.mode != "rubric":
        raise PromptkitError(f"Review task {task_id} asks for blind A/B verdicts, not rubric scores.")
    stored = load_comparison(store, task.comparison_id)
    mine = {(j.case_id, j.version): j for j in store.list_rubric_judgements(task_id, reviewer=actor)}
    values = {case.id: dict(case.values) for case in stored.result.cases}
    judgeable = _judgeable_completions(task.cases, task.versions, _failed_cells(stored.record))
    by_key = {rubric_item_key(case, version): (case, version) for case, version in judgeable}
    items = []
    for key in rubric_order(task_id=task_id, reviewer=actor, item_keys=list(by_key)):
        case_id, version = by_key[key]
        judged = mine.get((case_id, version))
        items.append(
            RubricItem(
                task_id=task_id,
                case_id=case_id,
                values=values[case_id],
                version=version,
                completion=stored.result.cell(version, case_id).completion,
                criteria=task.criteria,
                scores=None if judged is None else dict(judged.scores),
                comment="" if judged is None else judged.comment,
            )
        )
    return items


def score_item(
    store: Store, *, actor: str, task_id: int, case_id: str, version: int, scores: dict[str, int], comment: str = ""
) -> RubricJudgementRecord:
    """Saves a reviewer's 1–5 scores of one completion of a rubric task, one per criterion.

    Raises:
        PermissionDenied: If the actor may not review, or the task does not ask them.
        PromptkitError: If the item was left out because its completion failed to run.
        StoreError: If the item is not the task's, or a criterion lacks a whole score from 1 to 5.
    """
    store.require(actor, Role.REVIEWER, action="judge completions")
    task = store.get_review_task(task_id)
    _check_asked(task, actor)
    in_task = case_id in task.cases and version in task.versions
    if in_task and (case_id, version) not in _rubric_items(store, task):
        raise PromptkitError(f"v{version} on {case_id!r} is left out of task {task_id}: its completion failed to run.")
    return store.judge_rubric(actor=actor, task_id=task_id, case_id=case_id, version=version, scores=scores, comment=comment)


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
    if task.mode == "rubric":
        return _rubric_summary(store, task, actor=actor, role=person.role)
    items = _pair_items(store, task)
    judgeable = set(items)
    judgements = [j for j in store.list_judgements(task_id) if (j.case_id, (j.version_a, j.version_b)) in judgeable]
    reviewers = sorted(set(task.reviewers) | {j.reviewer for j in judgements})
    done = {reviewer: sum(j.reviewer == reviewer for j in judgements) for reviewer in reviewers}
    _check_may_see(task_id, actor=actor, role=person.role, done=done.get(actor, 0), total=len(items))
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


def _check_may_see(task_id: int, *, actor: str, role: Role, done: int, total: int) -> None:
    if role < Role.EDITOR and done < total:
        raise PermissionDenied(
            f"You see the other reviewers' verdicts once you have judged every item of task {task_id} "
            f"({done} of {total} done)."
        )


def _rubric_summary(store: Store, task: ReviewTaskRecord, *, actor: str, role: Role) -> dict[str, Any]:
    """The `reviews --task ID --json` layout for a rubric task: mean scores, ordinal agreement, disputed items."""
    items = _rubric_items(store, task)
    judgeable = set(items)
    judgements = [j for j in store.list_rubric_judgements(task.id) if (j.case_id, j.version) in judgeable]
    reviewers = sorted(set(task.reviewers) | {j.reviewer for j in judgements})
    done = {reviewer: sum(j.reviewer == reviewer for j in judgements) for reviewer in reviewers}
    _check_may_see(task.id, actor=actor, role=role, done=done.get(actor, 0), total=len(items))
    names = {person.key: person.name for person in store.list_people()}
    criteria = [criterion.name for criterion in task.criteria]
    given = {(j.reviewer, j.case_id, j.version): j.scores for j in judgements}
    # One unit of agreement per item and criterion: reviewers score each criterion of each completion.
    units = [(case, version, criterion) for case, version in items for criterion in criteria]
    ratings = [[given.get((r, case, version), {}).get(criterion) for case, version, criterion in units] for r in reviewers]
    by_item = {
        (case, version): {r: dict(given[(r, case, version)]) for r in reviewers if (r, case, version) in given}
        for case, version in items
    }
    return {
        "task_id": task.id,
        "comparison_id": task.comparison_id,
        "mode": task.mode,
        "pairs": [],
        "rubric": {
            criterion: {
                f"v{version}": score_means([j.scores[criterion] for j in judgements if j.version == version])
                for version in task.versions
            }
            for criterion in criteria
        },
        "agreement": {
            "krippendorff_alpha": krippendorff_alpha(ratings, level="ordinal") if reviewers else None,
            "n_items": len(items),
            "n_reviewers": len(reviewers),
        },
        "reviewers": [{"name": names.get(r, r), "key": r, "done": done[r], "total": len(items)} for r in reviewers],
        "disputed": [
            {
                "case": case,
                "version": version,
                "spread": spread,
                "scores": {names.get(r, r): scores for r, scores in by_item[(case, version)].items()},
            }
            for (case, version), spread in disputed_rubric_items(by_item)
        ],
        "criteria": [criterion.to_dict() for criterion in task.criteria],
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
    if task.mode != "pairwise":
        raise PromptkitError(
            f"Review task {task_id} scored completions on a rubric; only a blind A/B verdict names the better "
            "completion to make a test case from."
        )
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

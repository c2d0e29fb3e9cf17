"""Store methods for review tasks and reviewers' judgements: set, listed, judged, read back."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptkit.errors import StoreError
from promptkit.people import PermissionDenied, Role
from promptkit.store import queries
from promptkit.store.records import JudgementRecord, ReviewTaskRecord, RubricJudgementRecord
from promptkit.store.schema import ComparisonRow, JudgementRow, PersonRow, ReviewTaskRow, RubricJudgementRow
from promptkit.templates.models import ReviewCriterion

T = TypeVar("T")
VERDICTS = ("a", "b", "tie", "both_bad")
MODES = ("pairwise", "rubric")
LOWEST_SCORE, HIGHEST_SCORE = 1, 5


class ReviewTasksMixin:
    """Review tasks and judgements; mixed into `Store`."""

    if TYPE_CHECKING:
        # Implemented by `Store` (and `PeopleMixin`); declared here so returns keep their types.
        def _read(self, work: Callable[[Session], T]) -> T: ...

        def _write(self, work: Callable[[Session], T]) -> T: ...

        def require(self, key: str, role: Role, *, action: str) -> object: ...

    def create_review_task(
        self,
        *,
        actor: str,
        comparison_id: int,
        pairs: Sequence[tuple[int, int]] = (),
        cases: Sequence[str],
        reviewers: Sequence[str] = (),
        mode: str = "pairwise",
        versions: Sequence[int] = (),
        criteria: Sequence[ReviewCriterion] = (),
    ) -> ReviewTaskRecord:
        """Sets a review of a stored comparison: blind pairwise, or rubric scores.

        Args:
            actor: Who sets it; an editor.
            comparison_id: The comparison; it must be finished.
            pairs: Version pairs `(a, b)` of the comparison, a ≠ b (pairwise).
            cases: Case ids of the comparison.
            reviewers: Keys of the people asked (each at least a reviewer); empty: every reviewer.
            mode: "pairwise" or "rubric".
            versions: Versions of the comparison whose completions are scored (rubric).
            criteria: What is scored (rubric).

        Raises:
            PermissionDenied: If the actor is not an editor.
            StoreError: If the mode is unknown, or a pair, version, case or reviewer is not one of the
                comparison's or the store's.
        """
        self.require(actor, Role.EDITOR, action="set a review task")
        if mode not in MODES:
            raise StoreError(f"a review task's mode is one of {', '.join(MODES)}, not {mode!r}.")
        if mode == "pairwise" and (not pairs or not cases):
            raise StoreError("a review task needs at least one pair of versions and one case.")
        if mode == "rubric" and (not versions or not cases or not criteria):
            raise StoreError("a rubric review task needs at least one version, one case and one criterion.")

        def work(session: Session) -> ReviewTaskRecord:
            comparison = session.get(ComparisonRow, comparison_id)
            if comparison is None or comparison.finished_at is None:
                raise StoreError(f"there is no finished comparison {comparison_id} to review.")
            for a, b in pairs:
                if a == b or a not in comparison.versions or b not in comparison.versions:
                    raise StoreError(
                        f"v{a} and v{b} are not two of comparison {comparison_id}'s versions "
                        f"({', '.join(f'v{n}' for n in comparison.versions)})."
                    )
            for version in versions:
                if version not in comparison.versions:
                    raise StoreError(
                        f"v{version} is not one of comparison {comparison_id}'s versions "
                        f"({', '.join(f'v{n}' for n in comparison.versions)})."
                    )
            known_cases = [case["id"] for case in comparison.cases]
            for case in cases:
                if case not in known_cases:
                    raise StoreError(f"comparison {comparison_id} has no case {case!r}; its cases: {', '.join(known_cases)}.")
            for reviewer in reviewers:
                role = session.scalar(select(PersonRow.role).where(PersonRow.key == reviewer))
                if role is None or Role.named(role) < Role.REVIEWER:
                    raise StoreError(f"{reviewer!r} is not a reviewer here; give them the reviewer role first.")
            row = ReviewTaskRow(
                comparison_id=comparison_id,
                mode=mode,
                pairs=[[a, b] for a, b in pairs],
                cases=list(cases),
                reviewers=list(reviewers),
                versions=list(versions),
                criteria=[criterion.to_dict() for criterion in criteria],
                created_by=actor,
            )
            session.add(row)
            session.flush()
            return _task(row)

        return self._write(work)

    def get_review_task(self, task_id: int) -> ReviewTaskRecord:
        """Returns a review task.

        Raises:
            StoreError: If there is no such task.
        """

        def work(session: Session) -> ReviewTaskRecord:
            row = session.get(ReviewTaskRow, task_id)
            if row is None:
                raise StoreError(f"there is no review task {task_id}.")
            return _task(row)

        return self._read(work)

    def list_review_tasks(self, *, reviewer: str | None = None, comparison_id: int | None = None) -> list[ReviewTaskRecord]:
        """Lists review tasks, newest first: all, a comparison's, or those asking `reviewer`."""

        def work(session: Session) -> list[ReviewTaskRecord]:
            query = select(ReviewTaskRow).order_by(ReviewTaskRow.id.desc())
            if comparison_id is not None:
                query = query.where(ReviewTaskRow.comparison_id == comparison_id)
            tasks = [_task(row) for row in session.scalars(query)]
            return [t for t in tasks if reviewer is None or not t.reviewers or reviewer in t.reviewers]

        return self._read(work)

    def judge(
        self,
        *,
        actor: str,
        task_id: int,
        case_id: str,
        pair: tuple[int, int],
        shown_left: int,
        verdict: str,
        comment: str = "",
    ) -> JudgementRecord:
        """Saves (or replaces) the actor's verdict on one item of a task.

        Args:
            actor: The reviewer; at least a reviewer, and asked by the task.
            task_id: The task.
            case_id: The case judged.
            pair: The task's pair `(a, b)`.
            shown_left: The version shown on the left (a or b).
            verdict: Unblinded: "a", "b", "tie" or "both_bad".
            comment: Optional words.

        Raises:
            PermissionDenied: If the actor may not review, or the task does not ask them.
            StoreError: If the item is not one of the task's, or the verdict is unknown.
        """
        self.require(actor, Role.REVIEWER, action="judge completions")
        if verdict not in VERDICTS:
            raise StoreError(f"a verdict is one of {', '.join(VERDICTS)}, not {verdict!r}.")

        def work(session: Session) -> JudgementRecord:
            task = session.get(ReviewTaskRow, task_id)
            if task is None:
                raise StoreError(f"there is no review task {task_id}.")
            if task.reviewers and actor not in task.reviewers:
                raise PermissionDenied(f"Review task {task_id} asks {', '.join(task.reviewers)}, not you ({actor}).")
            if task.mode != "pairwise" or list(pair) not in task.pairs or case_id not in task.cases or shown_left not in pair:
                raise StoreError(f"v{pair[0]} vs v{pair[1]} on {case_id!r} is not an item of review task {task_id}.")
            row = session.scalar(
                select(JudgementRow).where(
                    JudgementRow.task_id == task_id,
                    JudgementRow.reviewer == actor,
                    JudgementRow.case_key == case_id,
                    JudgementRow.version_a == pair[0],
                    JudgementRow.version_b == pair[1],
                )
            )
            if row is None:
                row = JudgementRow(task_id=task_id, reviewer=actor, case_key=case_id, version_a=pair[0], version_b=pair[1])
                session.add(row)
            row.shown_left, row.verdict, row.comment = shown_left, verdict, comment
            session.flush()
            return _judgement(row)

        return self._write(work)

    def list_judgements(self, task_id: int, *, reviewer: str | None = None) -> list[JudgementRecord]:
        """Lists a task's judgements in the order they were first given, of everyone or one reviewer."""

        def work(session: Session) -> list[JudgementRecord]:
            query = select(JudgementRow).where(JudgementRow.task_id == task_id)
            if reviewer is not None:
                query = query.where(JudgementRow.reviewer == reviewer)
            return [_judgement(row) for row in session.scalars(query.order_by(JudgementRow.id))]

        return self._read(work)


    def judge_rubric(
        self, *, actor: str, task_id: int, case_id: str, version: int, scores: Mapping[str, int], comment: str = ""
    ) -> RubricJudgementRecord:
        """Saves (or replaces) the actor's rubric scores of one completion of a task.

        Args:
            actor: The reviewer; at least a reviewer, and asked by the task.
            task_id: A rubric task.
            case_id: The case.
            version: The version whose completion is scored.
            scores: A score from 1 to 5 for every criterion of the task.
            comment: Optional words.

        Raises:
            PermissionDenied: If the actor may not review, or the task does not ask them.
            StoreError: If the item is not one of the task's, or a criterion lacks a whole score from 1 to 5.
        """
        self.require(actor, Role.REVIEWER, action="judge completions")

        def work(session: Session) -> RubricJudgementRecord:
            task = session.get(ReviewTaskRow, task_id)
            if task is None:
                raise StoreError(f"there is no review task {task_id}.")
            if task.reviewers and actor not in task.reviewers:
                raise PermissionDenied(f"Review task {task_id} asks {', '.join(task.reviewers)}, not you ({actor}).")
            if task.mode != "rubric" or version not in task.versions or case_id not in task.cases:
                raise StoreError(f"v{version} on {case_id!r} is not an item of rubric review task {task_id}.")
            names = [criterion["name"] for criterion in task.criteria]
            checked = {name: _checked_score(name, scores.get(name)) for name in names}
            unknown = sorted(set(scores) - set(names))
            if unknown:
                raise StoreError(f"review task {task_id} scores {', '.join(names)}, not {', '.join(unknown)}.")
            row = session.scalar(
                select(RubricJudgementRow).where(
                    RubricJudgementRow.task_id == task_id,
                    RubricJudgementRow.reviewer == actor,
                    RubricJudgementRow.case_key == case_id,
                    RubricJudgementRow.version == version,
                )
            )
            if row is None:
                row = RubricJudgementRow(task_id=task_id, reviewer=actor, case_key=case_id, version=version)
                session.add(row)
            row.scores, row.comment = checked, comment
            session.flush()
            return _rubric_judgement(row)

        return self._write(work)

    def list_rubric_judgements(self, task_id: int, *, reviewer: str | None = None) -> list[RubricJudgementRecord]:
        """Lists a rubric task's scores in the order they were first given, of everyone or one reviewer."""

        def work(session: Session) -> list[RubricJudgementRecord]:
            query = select(RubricJudgementRow).where(RubricJudgementRow.task_id == task_id)
            if reviewer is not None:
                query = query.where(RubricJudgementRow.reviewer == reviewer)
            return [_rubric_judgement(row) for row in session.scalars(query.order_by(RubricJudgementRow.id))]

        return self._read(work)


def _checked_score(criterion: str, score: object) -> int:
    # bool is an int to Python, but True is not a score anyone gave.
    if isinstance(score, bool) or not isinstance(score, int) or not LOWEST_SCORE <= score <= HIGHEST_SCORE:
        raise StoreError(
            f"give {criterion!r} a whole score from {LOWEST_SCORE} to {HIGHEST_SCORE} (got {score!r}); nothing was saved."
        )
    return score


def _rubric_judgement(row: RubricJudgementRow) -> RubricJudgementRecord:
    return RubricJudgementRecord(
        task_id=row.task_id,
        reviewer=row.reviewer,
        case_id=row.case_key,
        version=row.version,
        scores={str(name): int(score) for name, score in row.scores.items()},
        comment=row.comment,
        created_at=queries.utc(row.created_at),
    )


def _task(row: ReviewTaskRow) -> ReviewTaskRecord:
    return ReviewTaskRecord(
        id=row.id,
        comparison_id=row.comparison_id,
        mode=row.mode,
        pairs=tuple((int(a), int(b)) for a, b in row.pairs),
        cases=tuple(row.cases),
        reviewers=tuple(row.reviewers),
        created_by=row.created_by,
        created_at=queries.utc(row.created_at),
        versions=tuple(int(version) for version in row.versions),
        criteria=tuple(ReviewCriterion.from_dict(criterion) for criterion in row.criteria),
    )


def _judgement(row: JudgementRow) -> JudgementRecord:
    return JudgementRecord(
        task_id=row.task_id,
        reviewer=row.reviewer,
        case_id=row.case_key,
        version_a=row.version_a,
        version_b=row.version_b,
        shown_left=row.shown_left,
        verdict=row.verdict,
        comment=row.comment,
        created_at=queries.utc(row.created_at),
    )

"""Store methods for what happens to versions: runs, their explanations (salience, token matrices) and reviews."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from promptkit.errors import StoreError
from promptkit.generation import Completion, GenerationSettings
from promptkit.store import queries
from promptkit.store.records import (
    VERDICTS,
    ReviewRecord,
    RunRecord,
    SalienceRecord,
    TokenMatrixRecord,
    Verdict,
)
from promptkit.store.schema import (
    CaseRow,
    ComparisonRow,
    ReviewRow,
    RunRow,
    SalienceRow,
    TokenMatrixRow,
    VersionRow,
)

T = TypeVar("T")


class ActivityMixin:
    """Runs, salience results and reviews; mixed into `Store`."""

    if TYPE_CHECKING:
        # Implemented by `Store`; declared here so the mixin's returns keep their types.
        def _read(self, work: Callable[[Session], T]) -> T: ...

        def _write(self, work: Callable[[Session], T]) -> T: ...

    def add_run(
        self,
        *,
        family: str,
        version: int | str,
        model: str,
        completion: Completion,
        values: Mapping[str, str],
        settings: GenerationSettings,
        case_id: str | None = None,
        created_by: str = "",
    ) -> RunRecord:
        """Saves one generation of a version.

        Args:
            family: Family name.
            version: Version number or label.
            model: Model name (preset or path).
            completion: What the model generated; its prompt is the rendered one.
            values: Values the prompt was rendered with.
            settings: Settings it was generated with.
            case_id: The test case the values came from, if any.
            created_by: Who generated it (a person's key).

        Returns:
            The saved run, with its id; `as_completion()` gives `completion` back.

        Raises:
            StoreError: If the version or case does not exist, or a value,
                token or timing is not JSON; nothing is saved then.
        """
        return self._add_run(
            family=family,
            version=version,
            model=model,
            prompt=completion.prompt,
            values=values,
            settings=settings,
            case_id=case_id,
            completion=completion.text,
            tokens=queries.as_json([token.to_dict() for token in completion.tokens], what="tokens"),
            stop_reason=completion.stop_reason.value,
            timings=queries.as_json(dict(completion.timings), what="timings"),
            error=None,
            created_by=created_by,
        )

    def add_failed_run(
        self,
        *,
        family: str,
        version: int | str,
        model: str,
        prompt: str,
        values: Mapping[str, str],
        settings: GenerationSettings,
        error: str,
        case_id: str | None = None,
        created_by: str = "",
    ) -> RunRecord:
        """Saves a generation of a version that failed, with no completion.

        Args:
            family: Family name.
            version: Version number or label.
            model: Model name (preset or path).
            prompt: The rendered prompt.
            values: Values the prompt was rendered with.
            settings: Settings it was to be generated with.
            error: Why it failed.
            case_id: The test case the values came from, if any.
            created_by: Who asked for it (a person's key).

        Returns:
            The saved run, with its id, its `error` and an empty completion.

        Raises:
            StoreError: If the version or case does not exist, or a value is
                not JSON; nothing is saved then.
        """
        return self._add_run(
            family=family,
            version=version,
            model=model,
            prompt=prompt,
            values=values,
            settings=settings,
            case_id=case_id,
            completion="",
            tokens=[],
            stop_reason=None,
            timings={},
            error=error,
            created_by=created_by,
        )

    def _add_run(
        self,
        *,
        family: str,
        version: int | str,
        model: str,
        prompt: str,
        values: Mapping[str, str],
        settings: GenerationSettings,
        case_id: str | None,
        completion: str,
        tokens: list[Any],
        stop_reason: str | None,
        timings: dict[str, Any],
        error: str | None,
        created_by: str,
    ) -> RunRecord:
        """Saves a run: what was asked, and what came back as JSON-ready columns (see `add_run`)."""
        variables = queries.as_json(dict(values), what="values")

        def work(session: Session) -> RunRecord:
            family_row = queries.family_row(session, family)
            version_row = queries.version_row(session, family_row, version)
            case_row_id = None
            if case_id is not None:
                case_row_id = session.scalar(
                    select(CaseRow.id).where(CaseRow.family_id == family_row.id, CaseRow.case_key == case_id)
                )
                if case_row_id is None:
                    raise StoreError(f"family {family!r} has no test case {case_id!r}.")
            row = RunRow(
                version_id=version_row.id,
                case_id=case_row_id,
                prompt=prompt,
                model=model,
                variables=variables,
                generation=settings.to_dict(),
                seed=None if settings.greedy else settings.seed,
                completion=completion,
                tokens=tokens,
                stop_reason=stop_reason,
                timings=timings,
                error=error,
                created_by=created_by,
            )
            session.add(row)
            session.flush()
            return queries.run_record(session, row)

        return self._write(work)

    def get_run(self, *, run_id: int) -> RunRecord:
        """Returns one run.

        Raises:
            StoreError: If there is no run with that id.
        """

        def work(session: Session) -> RunRecord:
            row = session.get(RunRow, run_id)
            if row is None:
                raise StoreError(f"there is no run {run_id}.")
            return queries.run_record(session, row)

        return self._read(work)

    def list_runs(
        self,
        *,
        family: str | None = None,
        version: int | str | None = None,
        case_id: str | None = None,
        model: str | None = None,
        ids: Sequence[int] | None = None,
        created_by: str | None = None,
        limit: int | None = 100,
    ) -> list[RunRecord]:
        """Lists runs, newest first, filtered by any of family, version, case, model, ids, who generated them.

        `limit` caps the count (None: no cap); with `ids`, every one of them found is listed.

        Raises:
            StoreError: If `version` or `case_id` is given without `family`,
                or the family or version does not exist.
        """
        if family is None and (version is not None or case_id is not None):
            raise StoreError("filtering runs by version or case needs the family too.")

        def work(session: Session) -> list[RunRecord]:
            query = select(RunRow).join(VersionRow, RunRow.version_id == VersionRow.id)
            if family is not None:
                family_row = queries.family_row(session, family)
                query = query.where(VersionRow.family_id == family_row.id)
                if version is not None:
                    query = query.where(VersionRow.id == queries.version_row(session, family_row, version).id)
                if case_id is not None:
                    query = query.join(CaseRow, RunRow.case_id == CaseRow.id).where(CaseRow.case_key == case_id)
            if model is not None:
                query = query.where(RunRow.model == model)
            if ids is not None:
                query = query.where(RunRow.id.in_(list(ids)))
            if created_by is not None:
                query = query.where(RunRow.created_by == created_by)
            rows = session.scalars(query.order_by(RunRow.id.desc()).limit(None if ids is not None else limit))
            return [queries.run_record(session, row) for row in rows]

        return self._read(work)

    def list_models(self) -> list[str]:
        """Returns the names of the models that made any run, sorted."""

        def work(session: Session) -> list[str]:
            # Sorted here, not in SQL, so the order does not depend on the database's collation.
            return sorted(session.scalars(select(RunRow.model).distinct()))

        return self._read(work)

    def get_salience(
        self,
        *,
        run_id: int,
        target_start: int,
        target_end: int,
        method: str,
        contrast: str | None = None,
        params: Mapping[str, Any] | None = None,
        model: str | None = None,
    ) -> SalienceRecord | None:
        """Returns stored salience for a run, target span, method, contrast, parameters and model, or None.

        Args:
            run_id: The run explained.
            target_start: Start of the span, an offset into the completion.
            target_end: Its end.
            method: The method's name.
            contrast: The text the span was explained against; None: on its own.
            params: The method's parameters, all of them (defaults included); None: none.
            model: The model that computed it; None: any, the one stored first.
        """
        key = _params_key(params)

        def work(session: Session) -> SalienceRecord | None:
            query = select(SalienceRow).where(
                SalienceRow.run_id == run_id,
                SalienceRow.target_start == target_start,
                SalienceRow.target_end == target_end,
                SalienceRow.method == method,
                SalienceRow.contrast == (contrast or ""),
                SalienceRow.params_key == key,
            )
            if model is not None:
                query = query.where(SalienceRow.model == model)
            row = session.scalars(query.order_by(SalienceRow.id)).first()
            return None if row is None else _salience_record(row)

        return self._read(work)

    def list_salience(self, *, run_ids: Sequence[int]) -> list[SalienceRecord]:
        """Lists the stored salience of the given runs, oldest first."""

        def work(session: Session) -> list[SalienceRecord]:
            rows = session.scalars(
                select(SalienceRow).where(SalienceRow.run_id.in_(list(run_ids))).order_by(SalienceRow.id)
            )
            return [_salience_record(row) for row in rows]

        return self._read(work)

    def put_salience(
        self,
        *,
        run_id: int,
        target_start: int,
        target_end: int,
        method: str,
        scores: Any,
        contrast: str | None = None,
        params: Mapping[str, Any] | None = None,
        model: str = "",
        loss: float | None = None,
        details: Mapping[str, float] | None = None,
    ) -> SalienceRecord:
        """Stores salience scores once per run, span, method, contrast, parameters and model; if already stored, returns the stored ones.

        Raises:
            StoreError: If the run does not exist, the span is empty or
                reversed, the contrast is empty, or the scores, parameters or
                details are not JSON (NaN included).
        """
        if not 0 <= target_start < target_end:
            raise StoreError(f"salience target span [{target_start}, {target_end}) is empty or invalid.")
        if contrast is not None and not contrast:
            raise StoreError("a salience contrast is a text; give None for a span explained on its own.")
        stored_scores = queries.as_json(scores, what="salience scores")
        key = _params_key(params)
        stored_details = queries.as_json(dict(details or {}), what="salience details")
        stored_loss = None if loss is None or loss != loss else float(loss)  # NaN: not known

        def work(session: Session) -> SalienceRecord:
            if session.get(RunRow, run_id) is None:
                raise StoreError(f"there is no run {run_id}.")
            row = session.scalar(
                select(SalienceRow).where(
                    SalienceRow.run_id == run_id,
                    SalienceRow.target_start == target_start,
                    SalienceRow.target_end == target_end,
                    SalienceRow.method == method,
                    SalienceRow.contrast == (contrast or ""),
                    SalienceRow.params_key == key,
                    SalienceRow.model == model,
                )
            )
            if row is None:
                row = SalienceRow(
                    run_id=run_id, target_start=target_start, target_end=target_end, method=method,
                    contrast=contrast or "", params_key=key, model=model, loss=stored_loss, details=stored_details,
                    scores=stored_scores,
                )
                session.add(row)
                session.flush()
            return _salience_record(row)

        return self._write(work)

    def get_token_matrix(
        self, *, run_id: int, model: str, method: str, params: Mapping[str, Any] | None = None
    ) -> TokenMatrixRecord | None:
        """Returns a run's stored token-by-token matrix for a model, method and parameters, or None."""
        key = _params_key(params)

        def work(session: Session) -> TokenMatrixRecord | None:
            row = session.scalar(
                select(TokenMatrixRow).where(
                    TokenMatrixRow.run_id == run_id,
                    TokenMatrixRow.model == model,
                    TokenMatrixRow.method == method,
                    TokenMatrixRow.params_key == key,
                )
            )
            return None if row is None else _token_matrix_record(row)

        return self._read(work)

    def list_token_matrices(self, *, run_ids: Sequence[int]) -> list[TokenMatrixRecord]:
        """Lists the stored token-by-token matrices of the given runs, oldest first."""

        def work(session: Session) -> list[TokenMatrixRecord]:
            rows = session.scalars(
                select(TokenMatrixRow).where(TokenMatrixRow.run_id.in_(list(run_ids))).order_by(TokenMatrixRow.id)
            )
            return [_token_matrix_record(row) for row in rows]

        return self._read(work)

    def put_token_matrix(
        self,
        *,
        run_id: int,
        model: str,
        method: str,
        params: Mapping[str, Any] | None,
        matrix: Mapping[str, Any],
        created_by: str = "",
    ) -> TokenMatrixRecord:
        """Stores a run's token-by-token matrix once per model, method and parameters; if already stored, returns that one.

        Args:
            run_id: The run whose completion it explains.
            model: The model that computed it.
            method: The method's name.
            params: Its parameters, all of them.
            matrix: The matrix as plain JSON (`TokenMatrix.to_stored()`).
            created_by: Who computed it (a person's key).

        Raises:
            StoreError: If the run does not exist or the matrix or parameters
                are not JSON (NaN included); nothing is stored then.
        """
        key = _params_key(params)
        stored = queries.as_json(dict(matrix), what="token matrix")

        def work(session: Session) -> TokenMatrixRecord:
            if session.get(RunRow, run_id) is None:
                raise StoreError(f"there is no run {run_id}.")
            row = session.scalar(
                select(TokenMatrixRow).where(
                    TokenMatrixRow.run_id == run_id,
                    TokenMatrixRow.model == model,
                    TokenMatrixRow.method == method,
                    TokenMatrixRow.params_key == key,
                )
            )
            if row is None:
                row = TokenMatrixRow(
                    run_id=run_id, model=model, method=method, params_key=key, matrix=stored, created_by=created_by
                )
                session.add(row)
                session.flush()
            return _token_matrix_record(row)

        return self._write(work)

    def add_review(
        self,
        *,
        verdict: Verdict,
        reviewer: str,
        comment: str = "",
        run_id: int | None = None,
        subject: str | None = None,
        comparison_id: int | None = None,
    ) -> ReviewRecord:
        """Saves a verdict on a run (`run_id`) or on a comparison (`subject` key, and its `comparison_id` when stored).

        Raises:
            StoreError: If the verdict is unknown, the reviewer empty, neither
                or both subjects given, or the run or comparison does not exist.
        """
        if verdict not in VERDICTS:
            raise StoreError(f"verdict must be one of {', '.join(VERDICTS)}, not {verdict!r}.")
        if not reviewer.strip():
            raise StoreError("a review needs the reviewer's name.")
        if (run_id is None) == (subject is None):
            raise StoreError("a review is about exactly one thing: give run_id or subject.")

        def work(session: Session) -> ReviewRecord:
            if run_id is not None and session.get(RunRow, run_id) is None:
                raise StoreError(f"there is no run {run_id}.")
            if comparison_id is not None and session.get(ComparisonRow, comparison_id) is None:
                raise StoreError(f"there is no comparison {comparison_id}.")
            row = ReviewRow(
                run_id=run_id, subject=subject, comparison_id=comparison_id, verdict=verdict, comment=comment,
                reviewer=reviewer,
            )
            session.add(row)
            session.flush()
            return queries.review_record(row)

        return self._write(work)

    def list_reviews(
        self, *, run_id: int | None = None, subject: str | None = None, comparison_id: int | None = None
    ) -> list[ReviewRecord]:
        """Lists reviews, oldest first, of a run, of a subject, of a stored comparison, or all."""

        def work(session: Session) -> list[ReviewRecord]:
            query = select(ReviewRow)
            if comparison_id is not None:
                query = query.where(ReviewRow.comparison_id == comparison_id)
            if run_id is not None:
                query = query.where(ReviewRow.run_id == run_id)
            if subject is not None:
                query = query.where(ReviewRow.subject == subject)
            return [queries.review_record(row) for row in session.scalars(query.order_by(ReviewRow.id))]

        return self._read(work)


def _params_key(params: Mapping[str, Any] | None) -> str:
    """A method's parameters as canonical JSON text: equal parameters, equal keys.

    Raises:
        StoreError: If they are not JSON.
    """
    return json.dumps(queries.as_json(dict(params or {}), what="salience parameters"), sort_keys=True)


def _salience_record(row: SalienceRow) -> SalienceRecord:
    """Converts a salience row."""
    return SalienceRecord(
        run_id=row.run_id,
        target_start=row.target_start,
        target_end=row.target_end,
        method=row.method,
        scores=row.scores,
        created_at=queries.utc(row.created_at),
        contrast=row.contrast or None,
        params=json.loads(row.params_key),
        model=row.model,
        loss=row.loss,
        details=dict(row.details or {}),
    )


def _token_matrix_record(row: TokenMatrixRow) -> TokenMatrixRecord:
    """Converts a token matrix row."""
    return TokenMatrixRecord(
        id=row.id,
        run_id=row.run_id,
        model=row.model,
        method=row.method,
        params=json.loads(row.params_key),
        matrix=row.matrix,
        created_by=row.created_by,
        created_at=queries.utc(row.created_at),
    )

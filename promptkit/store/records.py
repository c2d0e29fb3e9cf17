"""Plain, immutable records the store returns (never ORM objects)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from promptkit.columns import Column, plain_columns
from promptkit.generation import Completion, GeneratedToken, StopReason
from promptkit.templates.models import GenerationDefaults, ReviewCriterion, TestCase, Version

Verdict = Literal["good", "bad", "unsure"]
VERDICTS: tuple[str, ...] = ("good", "bad", "unsure")


@dataclass(frozen=True)
class VersionRecord:
    """A stored, immutable version of a family's template.

    Attributes:
        family: The family's name.
        number: 1, 2, 3... within the family, allocated by the store.
        label: Optional short name, unique within the family.
        text: The Jinja2 template.
        author: Who saved it.
        note: What changed and why.
        parent: Number of the version it was derived from, if any.
        generation: Suggested generation settings.
        created_at: When it was saved (UTC).
    """

    family: str
    number: int
    label: str | None
    text: str
    author: str
    note: str
    parent: int | None
    generation: GenerationDefaults
    created_at: datetime

    def as_version(self) -> Version:
        """Returns the library form of this version (for files and rendering)."""
        return Version(
            number=self.number,
            text=self.text,
            label=self.label,
            author=self.author,
            note=self.note,
            parent=self.parent,
            generation=self.generation,
        )


@dataclass(frozen=True)
class FamilyRecord:
    """A stored family with its versions (by number) and test cases (by id).

    Attributes:
        name: Unique name.
        description: One paragraph.
        candidate_labels: Labels an output may be classified into.
        versions: Every version, in increasing number.
        cases: Every test case, in the order they were added.
        created_at: When the family was created (UTC).
        review_criteria: What reviewers score in a rubric review (from the family's file).
    """

    name: str
    description: str
    candidate_labels: tuple[str, ...]
    versions: tuple[VersionRecord, ...]
    cases: tuple[TestCase, ...]
    created_at: datetime
    review_criteria: tuple[ReviewCriterion, ...] = ()


@dataclass(frozen=True)
class RunRecord:
    """One stored generation.

    Attributes:
        id: Store-wide identifier.
        family: Family name.
        version: Version number.
        case_id: The test case rendered, if the values came from one.
        variables: The values the prompt was rendered with.
        prompt: The rendered prompt.
        model: Model name (preset or path).
        generation: Settings used, as `GenerationSettings.to_dict` gives them.
        seed: Random seed, if sampling.
        completion: The generated text ("" when the run failed).
        tokens: The generated tokens, as generated (offsets 0 where an
            older run did not record them).
        stop_reason: Why generation stopped (None when the run failed).
        timings: Durations in seconds by phase.
        error: The error message if the run failed, else None.
        created_at: When it was saved (UTC).
        created_by: Who generated it (a person's key; "" for runs saved before people were recorded).
    """

    id: int
    family: str
    version: int
    case_id: str | None
    variables: Mapping[str, Any]
    prompt: str
    model: str
    generation: Mapping[str, Any]
    seed: int | None
    completion: str
    tokens: tuple[GeneratedToken, ...]
    stop_reason: StopReason | None
    timings: Mapping[str, float]
    error: str | None
    created_at: datetime
    created_by: str = ""

    def as_completion(self) -> Completion | None:
        """Returns the completion the run saved, equal to the one generated.

        Returns:
            The completion (prompt, text, tokens, stop reason, timings), or
            None when the run failed and has none.
        """
        if self.stop_reason is None:
            return None
        return Completion(self.prompt, self.completion, self.tokens, self.stop_reason, dict(self.timings))

    def token_ids(self) -> list[int] | None:
        """Returns the ids of the run's tokens, or None when it has no tokens."""
        return [token.id for token in self.tokens] or None


@dataclass(frozen=True)
class SalienceRecord:
    """Stored salience scores of a run for one target span, method, contrast and parameters.

    Attributes:
        run_id: The run explained.
        target_start: Start offset of the target span in the completion.
        target_end: End offset of the target span.
        method: Salience method name, e.g. "grad_l2".
        scores: Token scores, as given (any JSON value).
        created_at: When they were computed (UTC).
        contrast: The text the span was explained against, or None.
        params: The method's parameters.
        model: The model that computed them ("" for scores stored before it was kept).
        loss: The span's loss, when known.
        details: The method's extra numbers (e.g. a completeness error).
    """

    run_id: int
    target_start: int
    target_end: int
    method: str
    scores: Any
    created_at: datetime
    contrast: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    model: str = ""
    loss: float | None = None
    details: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TokenMatrixRecord:
    """A run's stored token-by-token matrix.

    Attributes:
        id: Store-wide identifier.
        run_id: The run whose completion it explains.
        model: The model that computed it.
        method: Its method's name.
        params: The method's parameters (attention: layers, heads).
        matrix: The matrix as `TokenMatrix.to_stored()` gives it (plain JSON).
        created_by: Who computed it (a person's key).
        created_at: When (UTC).
    """

    id: int
    run_id: int
    model: str
    method: str
    params: Mapping[str, Any]
    matrix: Mapping[str, Any]
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class ReviewRecord:
    """A person's verdict on a run or a comparison.

    Attributes:
        id: Store-wide identifier.
        run_id: The run reviewed, if the subject is a run.
        subject: A comparison key (e.g. "menu-analysis:v1-vs-v2:case"), if not.
        verdict: "good", "bad" or "unsure".
        comment: Free text.
        reviewer: Who reviewed.
        created_at: When (UTC).
        comparison_id: The stored comparison reviewed, if the subject is one.
    """

    id: int
    run_id: int | None
    subject: str | None
    verdict: Verdict
    comment: str
    reviewer: str
    created_at: datetime
    comparison_id: int | None = None


@dataclass(frozen=True)
class ImportReport:
    """What importing the library changed.

    Attributes:
        families_added: Names of new families.
        versions_added: (family, number) of each new version.
        cases_changed: (family, case id) of each added or updated case.
    """

    families_added: tuple[str, ...] = ()
    versions_added: tuple[tuple[str, int], ...] = ()
    cases_changed: tuple[tuple[str, str], ...] = ()

    @property
    def changed(self) -> bool:
        """True when the import wrote anything."""
        return bool(self.families_added or self.versions_added or self.cases_changed)


@dataclass(frozen=True)
class ComparisonCellRecord:
    """One version × case cell of a stored comparison.

    Attributes:
        version: The version number.
        case_id: The test case's id.
        run_id: The run that holds its completion (None when it failed before generating).
        prompt: The rendered prompt (None when rendering failed).
        outcome_likelihoods: Candidate label → normalised likelihood.
        samples: Seeded sampled completions, for stability.
        agreement: Share of samples reaching the most common outcome.
        error: Why the cell failed, if it did.
        adapter: The adapter of its column; None for the comparison's model alone.
    """

    version: int
    case_id: str
    run_id: int | None
    prompt: str | None
    outcome_likelihoods: Mapping[str, float]
    samples: tuple[str, ...]
    agreement: float | None
    error: str | None
    adapter: str | None = None

    @property
    def column(self) -> Column:
        """The column it belongs to."""
        return Column(self.version, self.adapter)


@dataclass(frozen=True)
class ComparisonRecord:
    """A stored comparison: which versions over which cases, with what, by whom.

    Attributes:
        id: Store-wide identifier (what links and `report --comparison` use).
        family: The family's name.
        versions: The version numbers of its columns, each once, the baseline's first.
        cases: The test cases, in order (a user's case file included).
        model: The model's name ("" for comparisons recorded before they were stored).
        settings: The run's settings (max new tokens, samples, batch size).
        created_by: Who started it.
        created_at: When (UTC).
        finished_at: When its last cell was stored (None while running or if interrupted).
        cells: Its cells, column-major; empty before any finished.
        columns: Its columns, the baseline first: a version alone or with an
            adapter; one plain column per version for comparisons without adapters.
    """

    id: int
    family: str
    versions: tuple[int, ...]
    cases: tuple[TestCase, ...]
    model: str
    settings: Mapping[str, Any]
    created_by: str
    created_at: datetime
    finished_at: datetime | None
    cells: tuple[ComparisonCellRecord, ...] = ()
    columns: tuple[Column, ...] = ()

    def __post_init__(self) -> None:
        if not self.columns:
            object.__setattr__(self, "columns", plain_columns(self.versions))

    def to_json(self) -> dict[str, Any]:
        """The comparison in the `comparisons --json` layout (a contract: keys are added, never renamed)."""
        return {
            "id": self.id,
            "family": self.family,
            "versions": list(self.versions),
            "cases": [case.id for case in self.cases],
            "model": self.model,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat(),
        }


@dataclass(frozen=True)
class ReviewTaskRecord:
    """A review task: reviewers judge a comparison's completions case by case, version names hidden.

    Attributes:
        id: Store-wide identifier (what links and `reviews --task` use).
        comparison_id: The comparison reviewed.
        mode: "pairwise" (blind A/B of `pairs`) or "rubric" (1–5 scores of each of `versions` on `criteria`).
        pairs: The version pairs `(a, b)` judged (pairwise).
        cases: The case ids judged.
        reviewers: The keys of the people asked; empty means every reviewer.
        created_by: Who set the task (a person's key).
        created_at: When (UTC).
        versions: The versions scored (rubric).
        criteria: The criteria scored, as the family defined them when the task was set (rubric).
    """

    id: int
    comparison_id: int
    mode: str
    pairs: tuple[tuple[int, int], ...]
    cases: tuple[str, ...]
    reviewers: tuple[str, ...]
    created_by: str
    created_at: datetime
    versions: tuple[int, ...] = ()
    criteria: tuple[ReviewCriterion, ...] = ()


@dataclass(frozen=True)
class JudgementRecord:
    """One reviewer's verdict on one item of a task, unblinded.

    Attributes:
        task_id: The task.
        reviewer: The reviewer's key.
        case_id: The case.
        version_a: The pair's first version.
        version_b: The pair's second version.
        shown_left: The version the reviewer saw on the left.
        verdict: "a", "b", "tie" or "both_bad".
        comment: The reviewer's words.
        created_at: When (UTC).
    """

    task_id: int
    reviewer: str
    case_id: str
    version_a: int
    version_b: int
    shown_left: int
    verdict: str
    comment: str
    created_at: datetime


@dataclass(frozen=True)
class RubricJudgementRecord:
    """One reviewer's 1–5 scores of one completion (a case × a version) of a rubric task.

    Attributes:
        task_id: The task.
        reviewer: The reviewer's key.
        case_id: The case.
        version: The version whose completion was scored.
        scores: Criterion name -> score, 1 (poor) to 5 (very good).
        comment: The reviewer's words.
        created_at: When (UTC).
    """

    task_id: int
    reviewer: str
    case_id: str
    version: int
    scores: Mapping[str, int]
    comment: str
    created_at: datetime


@dataclass(frozen=True)
class RoleChangeRecord:
    """One change of someone's role.

    Attributes:
        person: The key of the person whose role changed.
        changed_by: Who changed it (an admin's key, or "promptkit" for `PROMPTKIT_ADMINS`).
        old_role: The role before.
        new_role: The role after.
        changed_at: When (UTC).
    """

    person: str
    changed_by: str
    old_role: str
    new_role: str
    changed_at: datetime

"""The store's tables, as SQLAlchemy 2 typed ORM classes.

Internal to `promptkit.store`: the public API returns plain records. Any
change here needs a new migration in `migrations/versions/`; a test compares
these classes with the migrated schema.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Fixed constraint names keep migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> datetime:
    """Returns the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Base of every table, with JSON for dict and list columns."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class FamilyRow(Base):
    """A template family."""

    __tablename__ = "families"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    candidate_labels: Mapped[list[Any]] = mapped_column(default=list)
    review_criteria: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class VersionRow(Base):
    """An immutable version of a family's template text."""

    __tablename__ = "versions"
    __table_args__ = (
        UniqueConstraint("family_id", "number", name="uq_versions_family_number"),
        UniqueConstraint("family_id", "label", name="uq_versions_family_label"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("families.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    label: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("versions.id"))
    generation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class CaseRow(Base):
    """A test case of a family."""

    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("family_id", "case_key", name="uq_cases_family_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("families.id"), index=True)
    case_key: Mapped[str] = mapped_column(String(200))
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    expect: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Digest of the case as the library file last gave it: a later library
    # import changes the case only when the file's case changed since.
    library_digest: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class RunRow(Base):
    """One generation: a rendered version, the settings, and what came back."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prompt: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(300), index=True)
    generation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seed: Mapped[int | None] = mapped_column(Integer)
    completion: Mapped[str] = mapped_column(Text, default="")
    tokens: Mapped[list[Any]] = mapped_column(default=list)
    stop_reason: Mapped[str | None] = mapped_column(String(100))
    timings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(320), default="", server_default="", index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class SalienceRow(Base):
    """Salience scores of one run for one target span, method, contrast and parameters, computed once."""

    __tablename__ = "salience"
    __table_args__ = (
        UniqueConstraint(
            "run_id", "target_start", "target_end", "method", "contrast", "params_key", "model", name="uq_salience_key"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    target_start: Mapped[int] = mapped_column(Integer)
    target_end: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(100))
    # "" when the span is explained on its own (NULLs would never collide in the unique key).
    contrast: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The method's parameters as canonical JSON text (sorted keys), so equal parameters give equal keys.
    params_key: Mapped[str] = mapped_column(String(500), default="{}", server_default="{}")
    model: Mapped[str] = mapped_column(String(300), default="", server_default="")
    loss: Mapped[float | None] = mapped_column(Float)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    scores: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class TokenMatrixRow(Base):
    """A run's token-by-token attribution matrix for one model, method and parameters, computed once."""

    __tablename__ = "token_matrices"
    __table_args__ = (UniqueConstraint("run_id", "model", "method", "params_key", name="uq_token_matrices_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    model: Mapped[str] = mapped_column(String(300))
    method: Mapped[str] = mapped_column(String(100))
    params_key: Mapped[str] = mapped_column(String(500))
    matrix: Mapped[dict[str, Any]] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class ComparisonRow(Base):
    """A comparison: versions of a family run over test cases with one model and settings."""

    __tablename__ = "comparisons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("families.id"), index=True)
    versions: Mapped[list[Any]] = mapped_column(default=list)
    cases: Mapped[list[Any]] = mapped_column(default=list)
    model: Mapped[str] = mapped_column(String(300), default="")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # `[[version, adapter or null], …]` in display order; null: one column per version, no adapters.
    columns: Mapped[list[Any] | None] = mapped_column(JSON)


class ComparisonCellRow(Base):
    """One version × case cell of a comparison: its run and what was measured on it."""

    __tablename__ = "comparison_cells"
    __table_args__ = (
        UniqueConstraint("comparison_id", "version_number", "adapter", "case_key", name="uq_comparison_cells_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    comparison_id: Mapped[int] = mapped_column(ForeignKey("comparisons.id"), index=True)
    version_number: Mapped[int] = mapped_column(Integer)
    # "" for the comparison's model alone (not NULL, so the unique key holds on every database).
    adapter: Mapped[str] = mapped_column(String(100), default="", server_default="")
    case_key: Mapped[str] = mapped_column(String(200))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    prompt: Mapped[str | None] = mapped_column(Text)
    outcome_likelihoods: Mapped[dict[str, Any]] = mapped_column(default=dict)
    samples: Mapped[list[Any]] = mapped_column(default=list)
    agreement: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)


class ReviewRow(Base):
    """A person's verdict on a run or on a comparison."""

    __tablename__ = "reviews"
    __table_args__ = (
        CheckConstraint("verdict IN ('good', 'bad', 'unsure')", name="verdict"),
        CheckConstraint("run_id IS NOT NULL OR subject IS NOT NULL", name="subject"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), index=True)
    subject: Mapped[str | None] = mapped_column(String(300), index=True)
    comparison_id: Mapped[int | None] = mapped_column(ForeignKey("comparisons.id"), index=True)
    verdict: Mapped[str] = mapped_column(String(10))
    comment: Mapped[str] = mapped_column(Text, default="")
    reviewer: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class PersonRow(Base):
    """Someone who uses promptkit, with their role."""

    __tablename__ = "people"
    __table_args__ = (CheckConstraint("role IN ('viewer', 'reviewer', 'editor', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    role_set_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    role_set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class ReviewTaskRow(Base):
    """Review of a comparison: blind pairs of versions, or rubric scores of versions; which cases, which reviewers."""

    __tablename__ = "review_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    comparison_id: Mapped[int] = mapped_column(ForeignKey("comparisons.id"), index=True)
    mode: Mapped[str] = mapped_column(String(20), default="pairwise")
    pairs: Mapped[list[Any]] = mapped_column(default=list)
    cases: Mapped[list[Any]] = mapped_column(default=list)
    reviewers: Mapped[list[Any]] = mapped_column(default=list)
    versions: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    criteria: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class JudgementRow(Base):
    """One reviewer's verdict on one pair of completions of a case, unblinded ('a' is the pair's first version)."""

    __tablename__ = "judgements"
    __table_args__ = (
        UniqueConstraint("task_id", "reviewer", "case_key", "version_a", "version_b", name="uq_judgements_item"),
        CheckConstraint("verdict IN ('a', 'b', 'tie', 'both_bad')", name="verdict"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("review_tasks.id"), index=True)
    reviewer: Mapped[str] = mapped_column(String(320))
    case_key: Mapped[str] = mapped_column(String(200))
    version_a: Mapped[int] = mapped_column(Integer)
    version_b: Mapped[int] = mapped_column(Integer)
    shown_left: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(10))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class RubricJudgementRow(Base):
    """One reviewer's 1–5 scores, by criterion, of one completion (a case × a version) of a rubric task."""

    __tablename__ = "rubric_judgements"
    __table_args__ = (UniqueConstraint("task_id", "reviewer", "case_key", "version", name="uq_rubric_judgements_item"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("review_tasks.id"), index=True)
    reviewer: Mapped[str] = mapped_column(String(320))
    case_key: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class RoleChangeRow(Base):
    """Who changed whose role, from what, to what, and when."""

    __tablename__ = "role_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_key: Mapped[str] = mapped_column(String(320), index=True)
    changed_by: Mapped[str] = mapped_column(String(320))
    old_role: Mapped[str] = mapped_column(String(20))
    new_role: Mapped[str] = mapped_column(String(20))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class AdapterRow(Base):
    """A trained LoRA adapter: what it was trained on and how, and how it did; its weights are in the model cache."""

    __tablename__ = "adapters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    base_model: Mapped[str] = mapped_column(String(300))
    family_id: Mapped[int] = mapped_column(ForeignKey("families.id"), index=True)
    version_number: Mapped[int] = mapped_column(Integer)
    data_hash: Mapped[str] = mapped_column(String(64))
    rank: Mapped[int] = mapped_column(Integer)
    epochs: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

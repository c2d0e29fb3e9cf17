"""Comparisons as stored records, their cells, and reviews that point at them.

Reviews of a comparison used to name it by a subject text, "compare FAMILY
v1,v2 over case-a, case-b". Each distinct subject becomes a comparison record
(its family, versions and cases, started by its first reviewer when the first
review was given; no cells, as those runs were never tied to it), and its
reviews point at it. The subject texts stay as they were.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 18:26:46.620535
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

_SUBJECT = re.compile(r"^compare (?P<family>.+) (?P<versions>v\d+(?:,v\d+)*) over (?P<cases>.*)$")


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Applies this migration."""
    op.create_table('comparisons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('family_id', sa.Integer(), nullable=False),
    sa.Column('versions', sa.JSON(), nullable=False),
    sa.Column('cases', sa.JSON(), nullable=False),
    sa.Column('model', sa.String(length=300), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['family_id'], ['families.id'], name=op.f('fk_comparisons_family_id_families')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comparisons'))
    )
    with op.batch_alter_table('comparisons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comparisons_family_id'), ['family_id'], unique=False)

    op.create_table('comparison_cells',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('comparison_id', sa.Integer(), nullable=False),
    sa.Column('version_number', sa.Integer(), nullable=False),
    sa.Column('case_key', sa.String(length=200), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('prompt', sa.Text(), nullable=True),
    sa.Column('outcome_likelihoods', sa.JSON(), nullable=False),
    sa.Column('samples', sa.JSON(), nullable=False),
    sa.Column('agreement', sa.Float(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['comparison_id'], ['comparisons.id'], name=op.f('fk_comparison_cells_comparison_id_comparisons')),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_comparison_cells_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comparison_cells')),
    sa.UniqueConstraint('comparison_id', 'version_number', 'case_key', name='uq_comparison_cells_key')
    )
    with op.batch_alter_table('comparison_cells', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comparison_cells_comparison_id'), ['comparison_id'], unique=False)

    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.add_column(sa.Column('comparison_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_reviews_comparison_id'), ['comparison_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_reviews_comparison_id_comparisons'), 'comparisons', ['comparison_id'], ['id'])

    _link_reviews_to_comparisons()


def _link_reviews_to_comparisons() -> None:
    """Creates one comparison per distinct review subject and points its reviews at it."""
    connection = op.get_bind()
    families = sa.table("families", sa.column("id"), sa.column("name"))
    reviews = sa.table(
        "reviews", sa.column("id"), sa.column("subject"), sa.column("reviewer"), sa.column("created_at"),
        sa.column("comparison_id"),
    )
    comparisons = sa.table(
        "comparisons", sa.column("id"), sa.column("family_id"), sa.column("versions", sa.JSON), sa.column("cases", sa.JSON),
        sa.column("model"), sa.column("settings", sa.JSON), sa.column("created_by"), sa.column("created_at"),
    )
    family_ids = {name: id_ for id_, name in connection.execute(sa.select(families.c.id, families.c.name))}
    created: dict[str, int] = {}
    rows = connection.execute(
        sa.select(reviews.c.id, reviews.c.subject, reviews.c.reviewer, reviews.c.created_at)
        .where(reviews.c.subject.is_not(None))
        .order_by(reviews.c.id)
    ).all()
    for review_id, subject, reviewer, created_at in rows:
        match = _SUBJECT.match(subject)
        if match is None or match["family"] not in family_ids:
            continue  # Not a comparison's subject: the review keeps its text alone.
        if subject not in created:
            created[subject] = connection.execute(
                comparisons.insert().returning(comparisons.c.id),
                {
                    "family_id": family_ids[match["family"]],
                    "versions": [int(part[1:]) for part in match["versions"].split(",")],
                    "cases": [{"id": case} for case in match["cases"].split(", ") if case],
                    "model": "",
                    "settings": {},
                    "created_by": reviewer,
                    "created_at": created_at,
                },
            ).scalar_one()
        connection.execute(reviews.update().where(reviews.c.id == review_id).values(comparison_id=created[subject]))


def downgrade() -> None:
    """Reverts this migration."""
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_reviews_comparison_id_comparisons'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_reviews_comparison_id'))
        batch_op.drop_column('comparison_id')

    with op.batch_alter_table('comparison_cells', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comparison_cells_comparison_id'))

    op.drop_table('comparison_cells')
    with op.batch_alter_table('comparisons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comparisons_family_id'))

    op.drop_table('comparisons')

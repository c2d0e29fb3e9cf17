"""Rubric reviews (a family's criteria, tasks over versions, 1–5 scores per criterion) and the history of role changes.

`families.review_criteria` keeps the criteria a family's file defines, as
`[{"name", "question"}]`. A rubric task lists its `versions` and the
`criteria` it asks about, as they were when it was set. `rubric_judgements`
keeps one row per reviewer and item (case × version): the scores by
criterion and an optional comment. `role_changes` records who changed whose
role, from what, to what, and when.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 21:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Applies this migration."""
    with op.batch_alter_table('families', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_criteria', sa.JSON(), server_default='[]', nullable=False))
    with op.batch_alter_table('review_tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('versions', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('criteria', sa.JSON(), server_default='[]', nullable=False))
    op.create_table('rubric_judgements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('reviewer', sa.String(length=320), nullable=False),
    sa.Column('case_key', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('scores', sa.JSON(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['review_tasks.id'], name=op.f('fk_rubric_judgements_task_id_review_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rubric_judgements')),
    sa.UniqueConstraint('task_id', 'reviewer', 'case_key', 'version', name='uq_rubric_judgements_item')
    )
    with op.batch_alter_table('rubric_judgements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rubric_judgements_task_id'), ['task_id'], unique=False)

    op.create_table('role_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_key', sa.String(length=320), nullable=False),
    sa.Column('changed_by', sa.String(length=320), nullable=False),
    sa.Column('old_role', sa.String(length=20), nullable=False),
    sa.Column('new_role', sa.String(length=20), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_role_changes'))
    )
    with op.batch_alter_table('role_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_role_changes_person_key'), ['person_key'], unique=False)


def downgrade() -> None:
    """Reverts this migration."""
    with op.batch_alter_table('role_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_role_changes_person_key'))

    op.drop_table('role_changes')
    with op.batch_alter_table('rubric_judgements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rubric_judgements_task_id'))

    op.drop_table('rubric_judgements')
    with op.batch_alter_table('review_tasks', schema=None) as batch_op:
        batch_op.drop_column('criteria')
        batch_op.drop_column('versions')
    with op.batch_alter_table('families', schema=None) as batch_op:
        batch_op.drop_column('review_criteria')

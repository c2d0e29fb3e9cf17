"""People with roles, review tasks over comparisons, reviewers' blind pairwise judgements, and case provenance.

`runs.created_by` names who generated a run (empty for older runs).
`cases.library_digest` remembers each case as the library file last gave it,
so edits made in the store (imported spreadsheets, judged answers) survive
later library imports of an unchanged file.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 18:48:05.555179
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Applies this migration."""
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('library_digest', sa.String(length=64), nullable=True))
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_by', sa.String(length=320), server_default='', nullable=False))
        batch_op.create_index(batch_op.f('ix_runs_created_by'), ['created_by'], unique=False)
    op.create_table('people',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('role_set_by', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('role_set_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('viewer', 'reviewer', 'editor', 'admin')", name=op.f('ck_people_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_people')),
    sa.UniqueConstraint('key', name=op.f('uq_people_key'))
    )
    op.create_table('review_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('comparison_id', sa.Integer(), nullable=False),
    sa.Column('mode', sa.String(length=20), nullable=False),
    sa.Column('pairs', sa.JSON(), nullable=False),
    sa.Column('cases', sa.JSON(), nullable=False),
    sa.Column('reviewers', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['comparison_id'], ['comparisons.id'], name=op.f('fk_review_tasks_comparison_id_comparisons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_tasks'))
    )
    with op.batch_alter_table('review_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_tasks_comparison_id'), ['comparison_id'], unique=False)

    op.create_table('judgements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('reviewer', sa.String(length=320), nullable=False),
    sa.Column('case_key', sa.String(length=200), nullable=False),
    sa.Column('version_a', sa.Integer(), nullable=False),
    sa.Column('version_b', sa.Integer(), nullable=False),
    sa.Column('shown_left', sa.Integer(), nullable=False),
    sa.Column('verdict', sa.String(length=10), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("verdict IN ('a', 'b', 'tie', 'both_bad')", name=op.f('ck_judgements_verdict')),
    sa.ForeignKeyConstraint(['task_id'], ['review_tasks.id'], name=op.f('fk_judgements_task_id_review_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_judgements')),
    sa.UniqueConstraint('task_id', 'reviewer', 'case_key', 'version_a', 'version_b', name='uq_judgements_item')
    )
    with op.batch_alter_table('judgements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_judgements_task_id'), ['task_id'], unique=False)



def downgrade() -> None:
    """Reverts this migration."""
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('library_digest')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_runs_created_by'))
        batch_op.drop_column('created_by')
    with op.batch_alter_table('judgements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_judgements_task_id'))

    op.drop_table('judgements')
    with op.batch_alter_table('review_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_tasks_comparison_id'))

    op.drop_table('review_tasks')
    op.drop_table('people')

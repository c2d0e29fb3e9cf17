"""Explanations kept with their runs: salience keyed by contrast and parameters too, and token-by-token matrices.

A span explained against a contrast text, with other parameters (e.g.
integrated gradients' steps) or by another model is another explanation of
the same span, so all three join the salience key; existing rows get no contrast (`""`) and the
parameters they were computed with: every stored one used its method's
defaults of the time, written out here (`{}` for the methods without any),
and the run's model as the one that computed them. Each row also keeps the
span's loss and the method's details, for the page that re-opens it. Token-by-token matrices
get a table of their own.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 21:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# Canonical JSON (sorted keys) of the parameters integrated gradients ran with before they were kept.
_INTEGRATED_GRADIENTS_DEFAULTS = '{"baseline": "zero", "batch_size": 8, "steps": 16}'


def upgrade() -> None:
    """Applies this migration."""
    with op.batch_alter_table('salience', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contrast', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('params_key', sa.String(length=500), server_default='{}', nullable=False))
        batch_op.add_column(sa.Column('model', sa.String(length=300), server_default='', nullable=False))
        batch_op.add_column(sa.Column('loss', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('details', sa.JSON(), nullable=True))
        batch_op.drop_constraint('uq_salience_key', type_='unique')
        batch_op.create_unique_constraint(
            'uq_salience_key', ['run_id', 'target_start', 'target_end', 'method', 'contrast', 'params_key', 'model']
        )
    op.execute("UPDATE salience SET model = (SELECT runs.model FROM runs WHERE runs.id = salience.run_id)")
    op.execute(
        f"UPDATE salience SET params_key = '{_INTEGRATED_GRADIENTS_DEFAULTS}' WHERE method = 'integrated_gradients'"
    )

    op.create_table('token_matrices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('model', sa.String(length=300), nullable=False),
    sa.Column('method', sa.String(length=100), nullable=False),
    sa.Column('params_key', sa.String(length=500), nullable=False),
    sa.Column('matrix', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_token_matrices_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_token_matrices')),
    sa.UniqueConstraint('run_id', 'model', 'method', 'params_key', name='uq_token_matrices_key')
    )
    with op.batch_alter_table('token_matrices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_token_matrices_run_id'), ['run_id'], unique=False)


def downgrade() -> None:
    """Reverts this migration; explanations against a contrast, with other parameters or by a second model go with it."""
    with op.batch_alter_table('token_matrices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_token_matrices_run_id'))
    op.drop_table('token_matrices')

    op.execute(
        "DELETE FROM salience WHERE contrast <> '' "
        f"OR params_key NOT IN ('{{}}', '{_INTEGRATED_GRADIENTS_DEFAULTS}')"
    )
    op.execute(
        "DELETE FROM salience WHERE id NOT IN "
        "(SELECT MIN(id) FROM salience GROUP BY run_id, target_start, target_end, method)"
    )
    with op.batch_alter_table('salience', schema=None) as batch_op:
        batch_op.drop_constraint('uq_salience_key', type_='unique')
        batch_op.create_unique_constraint('uq_salience_key', ['run_id', 'target_start', 'target_end', 'method'])
        batch_op.drop_column('details')
        batch_op.drop_column('loss')
        batch_op.drop_column('model')
        batch_op.drop_column('params_key')
        batch_op.drop_column('contrast')

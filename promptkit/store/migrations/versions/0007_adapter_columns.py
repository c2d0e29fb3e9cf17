"""Comparison columns with adapters: a comparison's columns, and each cell's adapter.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Applies this migration: existing comparisons keep one plain column per version."""
    with op.batch_alter_table('comparisons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('columns', sa.JSON(), nullable=True))
    with op.batch_alter_table('comparison_cells', schema=None) as batch_op:
        batch_op.add_column(sa.Column('adapter', sa.String(length=100), server_default='', nullable=False))
        batch_op.drop_constraint('uq_comparison_cells_key', type_='unique')
        batch_op.create_unique_constraint(
            'uq_comparison_cells_key', ['comparison_id', 'version_number', 'adapter', 'case_key']
        )


def downgrade() -> None:
    """Reverts this migration; cells of adapter columns are dropped first (the old key cannot hold them)."""
    op.execute("DELETE FROM comparison_cells WHERE adapter <> ''")
    with op.batch_alter_table('comparison_cells', schema=None) as batch_op:
        batch_op.drop_constraint('uq_comparison_cells_key', type_='unique')
        batch_op.create_unique_constraint('uq_comparison_cells_key', ['comparison_id', 'version_number', 'case_key'])
        batch_op.drop_column('adapter')
    with op.batch_alter_table('comparisons', schema=None) as batch_op:
        batch_op.drop_column('columns')

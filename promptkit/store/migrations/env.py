"""Alembic environment: migrations run on a connection the store passes in.

The store opens the connection (and the lock that serialises concurrent
upgrades) itself, so this file never reads alembic.ini or creates engines.
"""

from __future__ import annotations

from alembic import context

from promptkit.store.schema import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things: batch mode rebuilds tables instead.
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from controller.store.db import make_engine, not_job_library
from controller.store.models import Base

config = context.config


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_name=not_job_library,
    )
    with context.begin_transaction():
        context.run_migrations()


connectable = config.attributes.get("connection")
if connectable is not None:
    run(connectable)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        run(conn)
    engine.dispose()

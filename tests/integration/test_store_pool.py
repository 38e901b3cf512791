"""The PostgreSQL pool notices a connection the server closed before handing it out."""

from __future__ import annotations

import select
import time

import psycopg
import pytest
from sqlalchemy import text

from controller.store.db import make_engine

pytestmark = pytest.mark.integration


def test_a_pooled_connection_the_server_ended_is_replaced_not_used(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            old_pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            pooled = conn.connection.dbapi_connection
        assert pooled is not None
        # As a restart or an operator's pg_terminate_backend does: the server ends the backend.
        with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as admin:
            assert admin.execute("SELECT pg_terminate_backend(%s)", [old_pid]).fetchone() == (True,)
        deadline = time.monotonic() + 30  # the FATAL message reaches the pooled socket
        while not select.select([pooled.fileno()], [], [], 0.1)[0]:
            assert time.monotonic() < deadline
        with engine.connect() as conn:  # no error: the pool opened a new connection
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != old_pid
    finally:
        engine.dispose()

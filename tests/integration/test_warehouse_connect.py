"""Warehouse.connect on a real server: the session is named, and the connection is closed however the block ends."""

from __future__ import annotations

import pytest


def test_the_connection_is_named_and_closed_after_the_block(warehouse_db):
    with warehouse_db.connect("inventory-test-named") as conn, conn.cursor() as cur:
        cur.execute("SELECT current_setting('application_name'), current_database()")
        assert cur.fetchone() == ("inventory-test-named", warehouse_db.dbname)
    assert conn.closed


def test_the_connection_is_closed_when_the_block_fails(warehouse_db):
    with pytest.raises(RuntimeError, match="task failed"), warehouse_db.connect() as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT current_setting('application_name')")
            assert cur.fetchone() == ("inventory",)
        raise RuntimeError("task failed")
    assert conn.closed

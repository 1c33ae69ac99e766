"""The portal's connections: a small pool of psycopg2 connections to the warehouse, one transaction at a time.

Request handlers run in a thread pool, so the pool is thread-safe and bounded: a request waits for a free
connection rather than failing when all are busy. Connections are kept open between requests (the pool's minimum
is its size: psycopg2's pool closes any connection returned above its minimum), opened on first use. A connection
that broke (server restarted) is discarded and replaced on demand. Nothing CPU-heavy (password hashing) runs
while a connection is borrowed: the app hashes first, then borrows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection
from psycopg2.extensions import cursor as PgCursor
from psycopg2.pool import ThreadedConnectionPool

from include.inventory.warehouse import Warehouse


class Database:
    def __init__(self, url: str, size: int = 4, acquire_timeout: float = 30.0):
        self._connect_kwargs = Warehouse.from_uri(url).connect_kwargs(application_name="inventory-portal")
        self._size = size
        self._timeout = acquire_timeout
        self._slots = threading.BoundedSemaphore(size)
        self._pool: ThreadedConnectionPool | None = None
        self._lock = threading.Lock()

    def _get_pool(self) -> ThreadedConnectionPool:
        with self._lock:  # opened on first use: creating the app connects to nothing
            if self._pool is None:
                # minconn = maxconn: connections returned to the pool stay open (minconn=0 closed every one).
                # Opening the minimum happens here, on first use, not when the app is created.
                self._pool = ThreadedConnectionPool(self._size, self._size, **self._connect_kwargs)
            return self._pool

    @contextmanager
    def _borrowed(self) -> Iterator[PgConnection]:
        """A connection of the pool for the block, waiting for a free one; one that broke is discarded."""
        if not self._slots.acquire(timeout=self._timeout):
            raise TimeoutError("no database connection became free")
        pool, conn, broken = None, None, False
        try:
            pool = self._get_pool()
            conn = pool.getconn()
            try:
                yield conn
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                broken = True
                raise
        finally:
            if pool is not None and conn is not None:
                pool.putconn(conn, close=broken or bool(conn.closed))
            self._slots.release()

    @contextmanager
    def connection(self) -> Iterator[PgConnection]:
        """A connection of the pool for code that runs its own transactions (the outbox's deliver_pending)."""
        with self._borrowed() as conn:
            yield conn
            conn.rollback()

    @contextmanager
    def transaction(self, read_only: bool = False) -> Iterator[PgCursor]:
        """A cursor in one transaction: committed on success, rolled back on any error.

        read_only: REPEATABLE READ, READ ONLY. Every query of a dashboard then sees the same snapshot, so all of its
        numbers come from one publish even if another lands while it is being read.
        """
        with self._borrowed() as conn:
            try:
                with conn.cursor() as cur:
                    if read_only:
                        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    yield cur
                conn.commit()
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                raise  # the connection broke: nothing to roll back, the pool discards it
            except BaseException:
                conn.rollback()
                raise

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.closeall()
                self._pool = None


def set_local_role(cur: PgCursor, role: str) -> None:
    """The rest of the transaction runs as `role` (undone at its end)."""
    cur.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))

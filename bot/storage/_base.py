"""The database handle: connection set-up, migrations and transactions.

One `Database` is opened per process and injected. On SQLite (the default) it holds two
aiosqlite connections to the file. Writes go through `transaction()` on the write connection,
which serialises writers with a lock and runs `BEGIN IMMEDIATE` so read-then-write work never
races. Reads (`fetch_all`, `fetch_one`, `scalar`) outside a transaction go to the read
connection: in WAL mode each statement reads the last committed snapshot, so a coroutine never
sees another's half-done transaction and never queues behind it. Inside a transaction the same
helpers read on the write connection and see that transaction's own writes. A database without a
WAL file (`:memory:`, or a filesystem that refuses WAL) has no read connection: reads outside a
transaction then wait for the writer's lock.

On PostgreSQL (`[database] url`) an asyncpg pool gives the same guarantees: reads outside a
transaction take any pooled connection and see committed data; a transaction holds one
connection and an advisory lock every writer takes (`_write_transaction` says why).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Self

import aiosqlite

from bot.config import redact_url
from bot.errors import StorageError
from bot.storage._connection import Connection, Dialect, Params, Row, SqliteConnection
from bot.storage._postgres import WRITE_LOCK_KEY, PgConnection, is_postgres_url

log = logging.getLogger(__name__)

# SQLite's default limit on "?" parameters in one statement is 32766; stay well below.
CHUNK = 900
WAL_SWITCH_RETRY_SECONDS = 0.02
"""How often a new file's switch to WAL is retried while another process holds it locked."""


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """`items` in slices small enough for one statement's parameters."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def migrations(dialect: Dialect = "sqlite") -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped for `dialect`, in order; versions are
    1, 2, 3, ... PostgreSQL's are in migrations/postgresql, one per SQLite one, same names."""
    folder = resources.files("bot.storage").joinpath("migrations")
    if dialect == "postgresql":
        folder = folder.joinpath("postgresql")
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append((int(number), rest.removesuffix(".sql"), entry.read_text("utf-8")))
    found.sort()
    if [version for version, _, _ in found] != list(range(1, len(found) + 1)):
        raise AssertionError(f"migration numbers must run 1..n without gaps: {found}")
    return found


def latest_version() -> int:
    """The schema version this code writes."""
    return len(migrations())


def split_statements(script: str) -> list[str]:
    """Split a SQL script into statements (trigger bodies stay whole)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip() and not all(
        part.strip().startswith("--") or not part.strip() for part in current.splitlines()
    ):
        raise AssertionError(f"incomplete SQL statement at end of migration: {current!r}")
    return statements


async def _session_is_clean(connection: Any) -> None:
    """asyncpg's pool runs this instead of its reset query on every release (a round trip per
    read): Paperboy never changes session state (no SET, LISTEN, cursors or session-level
    locks; its advisory lock ends with the transaction), and asyncpg still rolls back any
    transaction left open before calling it."""


class Database:
    """The connections to one database (a SQLite file or a PostgreSQL server) and their rules."""

    def __init__(self, path: str, *, dialect: Dialect = "sqlite") -> None:
        self.path = path
        """The SQLite file, or the PostgreSQL URL without its password."""
        self.dialect: Dialect = dialect
        self._conn: SqliteConnection | None = None
        """SQLite's write connection: transactions, migrations, and reads inside a transaction."""
        self._reader: SqliteConnection | None = None
        """SQLite's read connection (WAL snapshots of committed data); None without WAL."""
        self._pool: Any = None
        """PostgreSQL's asyncpg pool: reads take any connection, a transaction holds one."""
        self._writing: Connection | None = None
        """The connection of the open write transaction (the writer task's reads go there)."""
        self._write_lock = asyncio.Lock()
        self._read_lock = asyncio.Lock()
        """One read at a time on SQLite's read connection. A statement still open there (between
        another read's execute and its fetch) would hold its read transaction, and so an older
        snapshot, for the next read too: a read started after a commit could miss it."""
        self._writer_task: asyncio.Task[Any] | None = None
        """The task holding `_write_lock`: its reads belong to its transaction."""

    @classmethod
    async def open(
        cls, target: str | Path, *, busy_timeout_ms: int = 5000, migrate: bool = True
    ) -> Self:
        """Open and migrate the database: a `postgresql://` URL, else a SQLite file (created)."""
        if is_postgres_url(target):
            return await cls._open_postgres(str(target), busy_timeout_ms, migrate)
        path = str(target)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            create_private_file(Path(path))  # before SQLite creates it world-readable
        try:
            raw = await aiosqlite.connect(path, isolation_level=None)
        except sqlite3.Error as error:
            raise StorageError(f"Cannot open the database {path}: {error}") from None
        raw.row_factory = sqlite3.Row
        db = cls(path)
        db._conn = SqliteConnection(raw)
        try:
            wal = await db._configure(busy_timeout_ms)
            if migrate:
                await db.migrate()
            if wal:
                await db._open_reader(busy_timeout_ms)
        except BaseException:
            await db._close_connections()
            raise
        return db

    @classmethod
    async def _open_postgres(cls, url: str, busy_timeout_ms: int, migrate: bool) -> Self:
        import asyncpg

        db = cls(redact_url(url), dialect="postgresql")
        try:
            # lock_timeout plays SQLite's busy_timeout: how long a writer waits for another
            # process's transaction (the advisory lock) before failing.
            db._pool = await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=10,
                reset=_session_is_clean,
                server_settings={
                    "lock_timeout": str(int(busy_timeout_ms)),
                    "application_name": "paperboy",
                },
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise StorageError(f"Cannot open the database {db.path}: {error}") from None
        try:
            if migrate:
                await db.migrate()
        except BaseException:
            await db._close_connections()
            raise
        return db

    async def _configure(self, busy_timeout_ms: int) -> bool:
        """Set the write connection's pragmas; True if the database is in WAL mode."""
        conn = self._sqlite()
        try:
            # First, so that every statement below (switching a new file to WAL too) waits for
            # another process's lock instead of failing at once.
            await conn.raw.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            mode = await self._switch_to_wal(conn, busy_timeout_ms)
            if self.path != ":memory:" and mode != "wal":
                log.warning("SQLite refused WAL mode (got %s); concurrent backups may block", mode)
            await conn.raw.execute("PRAGMA synchronous = FULL")
            await conn.raw.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as error:
            raise StorageError(f"{self.path} is not a usable SQLite database: {error}") from None
        return mode == "wal"

    async def _switch_to_wal(self, conn: SqliteConnection, busy_timeout_ms: int) -> str:
        """`PRAGMA journal_mode = WAL`, retried while another process holds the file locked;
        the journal mode it reports.

        Switching a new file to WAL needs an exclusive lock, and SQLite refuses it at once,
        without its busy handler, while another connection holds a write lock on the file: two
        processes opening a new database together (a worker and a shard process starting at
        once) then failed one of them with "database is locked". It is retried for as long as
        `busy_timeout` would have waited.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + busy_timeout_ms / 1000
        waiting_logged = False
        while True:
            try:
                async with conn.raw.execute("PRAGMA journal_mode = WAL") as cursor:
                    row = await cursor.fetchone()
                return str(row[0] if row else "").lower()
            except sqlite3.OperationalError as error:
                if "locked" not in str(error).lower():
                    raise
                if loop.time() >= deadline:
                    raise StorageError(
                        f"The database {self.path} stayed locked by another process for "
                        f"{busy_timeout_ms / 1000:g} seconds, so Paperboy could not open it."
                    ) from None
                if not waiting_logged:
                    log.info("%s is locked by another process; waiting to open it", self.path)
                    waiting_logged = True
                await asyncio.sleep(WAL_SWITCH_RETRY_SECONDS)

    async def _open_reader(self, busy_timeout_ms: int) -> None:
        """The read connection. `query_only` makes a write through it an error, not a surprise."""
        try:
            reader = await aiosqlite.connect(self.path, isolation_level=None)
        except sqlite3.Error as error:
            raise StorageError(f"Cannot open the database {self.path}: {error}") from None
        reader.row_factory = sqlite3.Row
        try:
            await reader.execute("PRAGMA query_only = ON")
            await reader.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        except BaseException:
            await reader.close()
            raise
        self._reader = SqliteConnection(reader)

    def _sqlite(self) -> SqliteConnection:
        assert self._conn is not None, "a SQLite database"
        return self._conn

    async def close(self) -> None:
        """Wait for any running transaction, then close the connections."""
        async with self._exclusive():
            await self._close_connections()

    async def _close_connections(self) -> None:
        reader, self._reader = self._reader, None
        conn, self._conn = self._conn, None
        pool, self._pool = self._pool, None
        try:
            if conn is not None:
                await conn.raw.close()
            if pool is not None:
                await pool.close()
        finally:
            if reader is not None:
                await reader.raw.close()

    @asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[None]:
        """Hold the write lock, remembering which task holds it (its reads use the writer)."""
        async with self._write_lock:
            self._writer_task = asyncio.current_task()
            try:
                yield
            finally:
                self._writer_task = None

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[Connection]:
        """The connection a read should use: see the docstring of this module."""
        if self._writer_task is not None and self._writer_task is asyncio.current_task():
            # Inside our own transaction (or migration): see its writes.
            yield self._writing if self._writing is not None else self._sqlite()
        elif self._pool is not None:
            # Each statement outside a transaction reads what was committed when it started.
            async with self._pool.acquire() as raw:
                yield PgConnection(raw)
        elif self._reader is not None:
            async with self._read_lock:
                yield self._reader
        else:
            async with self._exclusive():  # no snapshot reads: wait until no transaction is open
                yield self._sqlite()

    async def register_function(
        self, name: str, arity: int, function: Callable[..., Any], *, deterministic: bool = False
    ) -> None:
        """Make a Python function callable from SQL on every connection (SQLite only)."""
        await self._sqlite().raw.create_function(name, arity, function, deterministic=deterministic)
        if self._reader is not None:
            await self._reader.raw.create_function(
                name, arity, function, deterministic=deterministic
            )

    async def schema_version(self) -> int:
        """The migrations applied so far (0: a new database)."""
        if self.dialect == "sqlite":
            return int(await self.scalar("PRAGMA user_version"))
        if await self.scalar("SELECT to_regclass('schema_version') IS NOT NULL"):
            return int(await self.scalar("SELECT version FROM schema_version"))
        return 0

    async def _foreign_tables(self) -> list[str]:
        """Tables in a database with no schema version: not Paperboy's to touch."""
        if self.dialect == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        else:
            sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        return [str(row[0]) for row in await self.fetch_all(sql)]

    async def migrate(self, *, target: int | None = None) -> int:
        """Bring the schema to `target` (default: latest) in one transaction; return the version."""
        steps = migrations(self.dialect)
        latest = len(steps)
        goal = latest if target is None else target
        current = await self.schema_version()
        if latest >= current >= goal and current > 0:
            return current  # up to date: no write lock needed (a read-only file opens too)
        # Under the write lock, read again: another process (a shard process starting beside a
        # worker) may have migrated meanwhile.
        async with self._write_transaction(foreign_keys_off=True) as conn:
            current = await self.schema_version()
            if current > latest:
                raise StorageError(
                    f"The database {self.path} has schema version {current}, newer than this "
                    f"Paperboy understands ({latest}). Upgrade Paperboy, or restore a backup."
                )
            if current == 0:
                tables = await self._foreign_tables()
                if tables:
                    names = ", ".join(tables[:5])
                    raise StorageError(
                        f"{self.path} holds tables Paperboy did not create ({names}) and no "
                        "schema version; refusing to touch it. Point [database] elsewhere."
                    )
            if current >= goal:
                return current
            for version, name, sql in steps[current:goal]:
                log.info("Applying database migration %04d_%s", version, name)
                if isinstance(conn, PgConnection):
                    await conn.raw.execute(sql)  # one script: PL/pgSQL bodies stay whole
                else:
                    for statement in split_statements(sql):
                        await conn.execute(statement)
            if isinstance(conn, PgConnection):
                await conn.raw.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
                )
                await conn.raw.execute("DELETE FROM schema_version")
                await conn.raw.execute("INSERT INTO schema_version VALUES ($1)", goal)
            else:
                # Foreign keys were off (SQLite's table-rebuild procedure): check every
                # reference before the commit.
                async with conn.execute("PRAGMA foreign_key_check") as cursor:
                    broken = await cursor.fetchall()
                if broken:
                    raise StorageError(
                        f"Migrating {self.path} would break {len(broken)} references "
                        f"(first in table {broken[0][0]}); nothing was changed."
                    )
                await conn.execute(f"PRAGMA user_version = {int(goal)}")
            return goal

    @asynccontextmanager
    async def _write_transaction(
        self, *, foreign_keys_off: bool = False
    ) -> AsyncIterator[Connection]:
        """Begin, yield the connection, commit (or roll back on error), holding the write lock.

        SQLite: `BEGIN IMMEDIATE` takes the database's one write lock at the start. PostgreSQL:
        the first statement takes one transaction-level advisory lock, which every writer of
        every process takes, so writers run one after another exactly as on SQLite; and since a
        READ COMMITTED statement reads what was committed when it starts, every read after that
        lock sees all earlier transactions. The read-then-write verbs keep their meaning with no
        retry loop (SERIALIZABLE would fail and need one).

        `foreign_keys_off` (migrations): SQLite's procedure for rebuilding a table turns foreign
        keys off outside the transaction (the pragma does nothing inside one), so dropping a
        rebuilt table does not cascade; the migration checks every reference before it commits.
        PostgreSQL alters tables in place and keeps its checks on.
        """
        async with self._exclusive():
            if self._pool is None:
                conn = self._sqlite()
                if foreign_keys_off:
                    await conn.raw.execute("PRAGMA foreign_keys = OFF")
                try:
                    try:
                        await conn.raw.execute("BEGIN IMMEDIATE")
                    except asyncio.CancelledError:
                        # Cancelled while BEGIN was queued: it may still run in aiosqlite's
                        # thread. End it before the lock is let go, or the next transaction
                        # finds this one open.
                        await asyncio.shield(self._end_open_transaction(conn))
                        raise
                    self._writing = conn
                    try:
                        yield conn
                    except BaseException:
                        await conn.raw.execute("ROLLBACK")
                        raise
                    else:
                        try:
                            await conn.raw.execute("COMMIT")
                        except sqlite3.Error:
                            await conn.raw.execute("ROLLBACK")
                            raise
                    finally:
                        self._writing = None
                finally:
                    if foreign_keys_off:
                        await conn.raw.execute("PRAGMA foreign_keys = ON")
                return
            async with self._pool.acquire() as raw:
                pg = PgConnection(raw)
                try:
                    # BEGIN and the lock in one round trip (simple protocol: no parameters).
                    await raw.execute(f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")
                    self._writing = pg
                    yield pg
                except BaseException:
                    try:
                        await raw.execute("ROLLBACK")
                    except Exception:  # broken or busy (a cancelled statement): drop it
                        raw.terminate()
                    raise
                else:
                    await raw.execute("COMMIT")
                finally:
                    self._writing = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A write transaction, serialised with every other writer; commits on success, rolls
        back on error.

        Reads through `fetch_all`, `fetch_one` and `scalar` by the task inside it see its writes;
        every other task sees only what was committed before.
        """
        async with self._write_transaction() as conn:
            yield conn

    async def write_problem(self) -> str | None:
        """None if a write transaction can start and write; else the engine's reason, in words.

        The probe rewrites one row to its own value and rolls back, so it changes nothing."""

        class _Probe(Exception):
            pass

        try:
            async with self._write_transaction() as conn:
                await conn.execute(
                    "UPDATE related_index_stats SET documents = documents WHERE id = 1"
                )
                raise _Probe
        except _Probe:
            return None
        except Exception as error:  # any engine's error is the answer here
            return f"the database is not writable ({error})"

    @staticmethod
    async def _end_open_transaction(conn: SqliteConnection) -> None:
        # Statements run in order in aiosqlite's thread: once this one is through, BEGIN is too.
        await conn.raw.execute("SELECT 1")
        if conn.raw.in_transaction:
            await conn.raw.execute("ROLLBACK")

    async def execute(self, sql: str, params: Params = ()) -> None:
        """Run one write statement in its own transaction."""
        async with self.transaction() as conn:
            await conn.execute(sql, params)

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Run a read query and return every row (committed data, or this transaction's)."""
        async with self._reading() as conn, conn.execute(sql, params) as cursor:
            return await cursor.fetchall()

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        """Run a read query and return its first row, or None (as `fetch_all` reads)."""
        async with self._reading() as conn, conn.execute(sql, params) as cursor:
            return await cursor.fetchone()

    async def scalar(self, sql: str, params: Params = ()) -> Any:
        """Run a read query and return the first column of its first row."""
        row = await self.fetch_one(sql, params)
        return None if row is None else row[0]

    async def describe(self) -> list[str]:
        """A few human lines about the database: where, schema version, row counts."""
        version = await self.schema_version()
        lines = [f"database: {self.path}", f"schema version: {version} (latest {latest_version()})"]
        for table in ("feeds", "articles", "subscriptions", "outbox"):
            count = await self.scalar(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
            lines.append(f"{table}: {count}")
        return lines


PRIVATE_FILE_MODE = 0o600
"""The database and its backups hold every server's configuration: owner-only. SQLite gives the
-wal and -shm files the database file's own mode."""


def create_private_file(path: Path) -> bool:
    """Create `path` empty with owner-only permissions; False if it exists already.

    SQLite would create a new database file as 0644 (less the umask), readable by every local
    user; an existing empty file is a valid empty database, so creating it first is enough."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def _schema_mark(conn: sqlite3.Connection) -> tuple[int, int]:
    """(user_version, number of schema objects): what an empty or foreign copy would lack."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    objects = int(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
    return version, objects


def backup_database(source: str | Path, destination: str | Path) -> None:
    """Write a consistent copy of the database at `source` to `destination` (owner-only).

    Uses its own connection, so it is safe while the bot writes: in WAL mode `VACUUM INTO`
    reads one snapshot without blocking writers, and the copy is compact and self-contained.
    Both files are named by properly quoted `file:` URIs, so `#` or `?` in a path cannot cut
    it short (which used to open an empty database elsewhere and "back up" that). The copy is
    checked against the source before success is reported. Blocking; call it from a thread
    inside the event loop.
    """
    source, destination = Path(source).absolute(), Path(destination).absolute()
    if not source.is_file():
        raise StorageError(f"There is no database at {source} to back up.")
    if not destination.parent.is_dir():
        raise StorageError(f"The folder {destination.parent} does not exist.")
    # Created here, owner-only and exclusively: VACUUM INTO accepts an empty file.
    if not create_private_file(destination):
        raise StorageError(f"{destination} already exists; choose a new file for the backup.")
    try:
        conn = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)
        try:
            conn.execute("PRAGMA busy_timeout = 10000")
            expected = _schema_mark(conn)
            if expected[0] == 0:
                raise StorageError(f"{source} is not a Paperboy database (no schema version).")
            conn.execute("VACUUM INTO ?", (destination.as_uri(),))
        finally:
            conn.close()
        # Read-write: the copy is in WAL mode, and only a connection that may write removes the
        # -wal and -shm files it opens again when it closes.
        copy = sqlite3.connect(f"{destination.as_uri()}?mode=rw", uri=True)
        try:
            written = _schema_mark(copy)
        finally:
            copy.close()
        if written != expected:
            raise StorageError(
                f"Backup of {source} failed: the copy does not match the database "
                f"(schema version {written[0]}, {written[1]} objects; expected "
                f"{expected[0]}, {expected[1]})."
            )
    except sqlite3.Error as error:
        destination.unlink(missing_ok=True)
        raise StorageError(f"Backup of {source} failed: {error}") from None
    except BaseException:
        destination.unlink(missing_ok=True)
        raise

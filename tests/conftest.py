"""Shared fixtures: one parametrized database fixture runs storage and HTTP tests on SQLite and
on the local PostgreSQL; a live server runs the real app over real HTTP in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import os
import shutil
import socket
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jinja2
import msgspec
import psycopg
import pytest
import uvicorn
from argon2 import PasswordHasher

from shopevents.app import create_app
from shopevents.cli.server import settle_gc
from shopevents.clock import FixedClock, SystemClock, to_micros
from shopevents.config import Settings
from shopevents.dashboard import auth, site
from shopevents.demoshop import routes as demoshop_routes
from shopevents.server import uvicorn_config
from shopevents.storage import stores
from shopevents.storage.database import Conn, Database
from tests.natscluster import (
    Alternating,
    ClusterSession,
    LoopThread,
    NatsCluster,
    Rig,
    collector_app,
)
from tests.shop import Shop

# The browser tests' fixtures (Chromium, pages, a shopevents server per module), used by the
# tests of the client script, the dashboard and the demo shop.
pytest_plugins = ["tests.browser"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
PG_URL = os.environ.get("SHOPEVENTS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
# The modes the tests run in: `sqlite` and `postgres` (embedded: one process writes through
# the group committer) and `cluster` (collectors publish to a 3-node NATS JetStream cluster,
# processors apply to PostgreSQL). A test runs in cluster mode when it (or its module) is
# marked `cluster` and not `embedded`; BACKENDS are the embedded ones.
MODES = os.environ.get("SHOPEVENTS_TEST_BACKENDS", "sqlite,postgres,cluster").split(",")
BACKENDS = [m for m in MODES if m != "cluster"]
CLUSTER = "cluster" in MODES
# The params of a module-scoped fixture whose tests also run in cluster mode.
CLUSTER_MODES = BACKENDS + (["cluster"] if CLUSTER else [])
# Under pytest-xdist each worker process has its own databases; RUN keeps two runs on the same
# PostgreSQL server (two checkouts, two engineers) apart.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
RUN = uuid.uuid4().hex[:8]


def pg_url_for(name: str) -> str:
    base, _, _ = PG_URL.rpartition("/")
    return f"{base}/{name}"


def _admin() -> psycopg.Connection[Any]:
    return psycopg.connect(PG_URL, autocommit=True)


def _create_database(admin: psycopg.Connection[Any], name: str) -> None:
    """CREATE DATABASE for a test. Its commits do not wait for the WAL to reach the disk
    (synchronous_commit off): what a test sees is the same, since a commit is still a commit
    for every connection unless the PostgreSQL server itself crashes (which no test does), and
    the tests stop spending most of their time waiting on fsync."""
    admin.execute(f"CREATE DATABASE {name}")
    admin.execute(f"ALTER DATABASE {name} SET synchronous_commit = off")


def create_pg_database(migrated: bool = False) -> str:
    """A PostgreSQL database of the caller's own, as a new one is (migrated if asked); give it
    back with drop_pg_database. It is one of this worker's reused databases (see
    ReusedPgDatabase), or a new one while every one of them is lent out."""
    free = _free.setdefault(migrated, [])
    reused = free.pop() if free else ReusedPgDatabase(migrated)
    reused.acquire()
    _lent[reused.name] = reused
    return reused.name


def drop_pg_database(name: str) -> None:
    """Gives back a database from create_pg_database (its connections are ended), or drops
    one made otherwise."""
    reused = _lent.pop(name, None)
    if reused is not None:
        reused.release()
        _free[reused.migrated].append(reused)
        return
    _drop_database(name)


@contextlib.contextmanager
def migrated_database_url(backend: str, directory: Path) -> Iterator[str]:
    """A migrated database of the caller's own on `backend` (SQLite: a file in `directory`),
    given back afterwards."""
    if backend == "sqlite":
        url = f"sqlite:///{directory / 'test.db'}"
        database = Database(url)
        database.migrate()
        database.close()
        yield url
        return
    name = create_pg_database(migrated=True)
    try:
        yield pg_url_for(name)
    finally:
        drop_pg_database(name)


def _drop_database(name: str) -> None:
    with _admin() as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        admin.execute(f"DROP DATABASE IF EXISTS {name}")


# What a database looks like apart from its rows, without OIDs: two databases with the same
# fingerprint have the same schemas, tables, columns, defaults, constraints, indexes,
# sequences, functions, triggers, types, extensions, comments and database settings.
_USER_NS = "SELECT oid FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'"
_FINGERPRINT = f"""
SELECT md5(coalesce(string_agg(x, E'\\n' ORDER BY x), '')) FROM (
  SELECT 'n ' || nspname || ' ' || pg_get_userbyid(nspowner) || ' ' || coalesce(nspacl::text, '')
         || ' ' || coalesce(obj_description(oid, 'pg_namespace'), '') AS x
    FROM pg_namespace WHERE oid IN ({_USER_NS})
  UNION ALL
  SELECT 'c ' || c.relnamespace::regnamespace || '.' || c.relname || ' ' || c.relkind::text || ' '
         || c.relpersistence::text || ' ' || coalesce(c.reloptions::text, '') || ' '
         || pg_get_userbyid(c.relowner) || ' ' || coalesce(c.relacl::text, '')
         || ' ' || c.relrowsecurity
    FROM pg_class c WHERE c.relnamespace IN ({_USER_NS})
  UNION ALL
  SELECT 'a ' || a.attrelid::regclass || ' ' || a.attnum || ' ' || a.attname || ' '
         || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull || ' '
         || a.attisdropped || ' ' || a.attidentity::text || ' ' || a.attgenerated::text || ' '
         || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attnum > 0 AND c.relnamespace IN ({_USER_NS})
  UNION ALL
  SELECT 'k ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
    FROM pg_constraint WHERE connamespace IN ({_USER_NS})
  UNION ALL
  SELECT 'i ' || pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace IN ({_USER_NS})
  UNION ALL
  SELECT 't ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal
  UNION ALL
  SELECT 'r ' || polname || ' ' || polrelid::regclass FROM pg_policy
  UNION ALL
  SELECT 'f ' || p.oid::regprocedure || ' ' || md5(p.prosrc)
    FROM pg_proc p WHERE p.pronamespace IN ({_USER_NS})
  UNION ALL
  SELECT 'y ' || t.typnamespace::regnamespace || '.' || t.typname || ' ' || t.typtype::text
         || ' ' || coalesce((SELECT string_agg(enumlabel::text, ',' ORDER BY enumsortorder)
                             FROM pg_enum WHERE enumtypid = t.oid), '')
    FROM pg_type t WHERE t.typnamespace IN ({_USER_NS})
  UNION ALL
  SELECT 's ' || schemaname || '.' || sequencename || ' ' || start_value || ' ' || increment_by
         || ' ' || coalesce(last_value::text, 'unread')
    FROM pg_sequences
  UNION ALL
  SELECT 'e ' || extname || ' ' || extversion FROM pg_extension
  UNION ALL
  SELECT 'v ' || c.relname || ' ' || pg_get_viewdef(c.oid)
    FROM pg_class c WHERE c.relkind IN ('v', 'm') AND c.relnamespace IN ({_USER_NS})
  UNION ALL
  SELECT 'd ' || coalesce(setconfig::text, '') FROM pg_db_role_setting
    WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
  UNION ALL
  SELECT 'D ' || datallowconn || ' ' || datconnlimit || ' ' || datistemplate
         || ' ' || coalesce(datacl::text, '')
    FROM pg_database WHERE datname = current_database()
  UNION ALL
  SELECT 'm ' || version || ' ' || name FROM {{migrations}}
) s
"""

# Empties a migrated database back to what migrating a new one gives: every table that was
# ever written to is emptied, every sequence starts again; the migrations' bookkeeping stays.
# DELETE rather than TRUNCATE: the tables are small, and TRUNCATE makes new files for each
# table and index (about 30 ms of the server's CPU per test, against 5). Triggers, foreign
# keys' included, are off for it (session_replication_role), so the order does not matter.
_EMPTY_TABLES = """
DO $$
DECLARE
  written record;
  seq record;
BEGIN
  SET LOCAL session_replication_role = replica;
  FOR written IN SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables
      WHERE schemaname = 'public' AND tablename <> 'schema_migrations'
        AND pg_relation_size(format('%I.%I', schemaname, tablename)) > 0 LOOP
    EXECUTE 'DELETE FROM ' || written.name;
  END LOOP;
  FOR seq IN SELECT format('%I.%I', schemaname, sequencename) AS name, start_value
               FROM pg_sequences LOOP
    PERFORM setval(seq.name::regclass, seq.start_value, false);
  END LOOP;
END $$
"""

# A log of the DDL run in a reused migrated database, written by event triggers: a test that
# changed the schema leaves a row (a `CREATE ... IF NOT EXISTS` that made nothing leaves none), and the database is then made again instead of emptied.
# (TRUNCATE, sequences and rows are not DDL; the database's own settings are restored by the
# tests that change them.)
_DDL_LOG = """
CREATE SCHEMA testkit;
CREATE TABLE testkit.ddl (tag text NOT NULL);
CREATE FUNCTION testkit.note_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN
  INSERT INTO testkit.ddl SELECT command_tag FROM pg_event_trigger_ddl_commands();
END $$;
CREATE FUNCTION testkit.note_drop() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN
  INSERT INTO testkit.ddl SELECT 'DROP ' || object_type FROM pg_event_trigger_dropped_objects();
END $$;
CREATE EVENT TRIGGER testkit_ddl ON ddl_command_end EXECUTE FUNCTION testkit.note_ddl();
CREATE EVENT TRIGGER testkit_drop ON sql_drop EXECUTE FUNCTION testkit.note_drop();
"""

# Empties an unmigrated database back to what CREATE DATABASE gives.
_EMPTY_SCHEMA = """
DROP SCHEMA public CASCADE;
CREATE SCHEMA public AUTHORIZATION pg_database_owner;
GRANT USAGE ON SCHEMA public TO PUBLIC;
COMMENT ON SCHEMA public IS 'standard public schema';
"""


class ReusedPgDatabase:
    """One PostgreSQL database this worker hands to one test after another instead of creating
    (and migrating) a new one per test, which takes about a second. Before each test it is
    emptied back to the state of a new one, migrated or not; if a test changed the schema (a
    migrated one: its DDL log has a row; an unmigrated one, which its tests migrate: its
    fingerprint, everything but the rows, differs from a new one's), the database is dropped
    and made again. Its connections are ended through one administrative connection."""

    def __init__(self, migrated: bool) -> None:
        self.migrated = migrated
        self.admin: psycopg.Connection[Any] | None = None
        self.conn: psycopg.Connection[Any] | None = None
        self.name = f"t_{WORKER}_{RUN}_{'m' if migrated else 'e'}{next(_numbers)}"
        self.expected: str | None = None
        self.exists = False
        self.used = False

    @property
    def url(self) -> str:
        return pg_url_for(self.name)

    def _fingerprint(self, conn: psycopg.Connection[Any]) -> str:
        migrations = "schema_migrations" if self.migrated else "(SELECT 0 AS version, '' AS name) m"
        return str(conn.execute(_FINGERPRINT.format(migrations=migrations)).fetchone()[0])  # type: ignore[index]

    def _create(self) -> None:
        self._close_own()
        with _admin() as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {self.name}")
            _create_database(admin, self.name)
        self.exists = True
        if self.migrated:
            database = Database(self.url)
            database.migrate()
            database.close()
        with psycopg.connect(self.url, autocommit=True) as conn:
            if self.migrated:
                conn.execute(_DDL_LOG)
            else:
                fingerprint = self._fingerprint(conn)
                if self.expected is None:
                    self.expected = fingerprint
        self.used = False

    def _empty(self) -> bool:
        """Whether the database was emptied back to a new one's state (False: it must be made
        again). A migrated one must have seen no DDL; an unmigrated one (whose tests migrate
        it) is emptied and compared by its fingerprint."""
        self._disconnect_others()
        for attempt in (1, 2):
            try:
                conn = self._own()
                if self.migrated:
                    ddl = conn.execute("SELECT EXISTS (SELECT 1 FROM testkit.ddl)").fetchone()
                    if ddl != (False,):
                        return False
                    conn.execute(_EMPTY_TABLES)
                    return True
                conn.execute(_EMPTY_SCHEMA)
                return self._fingerprint(conn) == self.expected
            except psycopg.OperationalError:  # a test ended every connection, this one too
                self._close_own()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _own(self) -> psycopg.Connection[Any]:
        """This worker's own connection to the database, kept from test to test (it is the one
        connection the tests' clean-up leaves open)."""
        if self.conn is None or self.conn.closed or self.conn.broken:
            self.conn = psycopg.connect(self.url, autocommit=True)
        return self.conn

    def _close_own(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _disconnect_others(self) -> None:
        """Ends every other connection to the database, through this worker's one
        administrative connection (made again if it was lost), but this worker's own."""
        query = (
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid() AND pid <> %s"
        )
        own = self.conn.info.backend_pid if self.conn is not None and not self.conn.closed else 0
        for attempt in (1, 2):
            try:
                if self.admin is None or self.admin.closed:
                    self.admin = _admin()
                self.admin.execute(query, (self.name, own))
                return
            except psycopg.OperationalError:
                self.admin = None
                if attempt == 2:
                    raise

    def acquire(self) -> str:
        if not self.exists:
            self._create()
        elif self.used:
            try:
                clean = self._empty()
            except psycopg.Error:
                clean = False
            if not clean:
                self._create()
        self.used = True
        return self.url

    def release(self) -> None:
        """Ends the connections the test left open (as dropping its database did)."""
        if self.exists:
            self._disconnect_others()

    def drop(self) -> None:
        self._close_own()
        if self.admin is not None:
            self.admin.close()
            self.admin = None
        if self.exists:
            _drop_database(self.name)
            self.exists = False


# This worker's reused databases, by whether they are migrated: free ones, and those lent out
# (by name).
_free: dict[bool, list[ReusedPgDatabase]] = {}
_lent: dict[str, ReusedPgDatabase] = {}
_numbers = itertools.count()


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashes() -> Iterator[None]:
    """Dashboard passwords hashed with Argon2id's cheapest parameters. With the server's own, a
    hash or a check costs about 0.2 s of CPU, and the dashboard tests make hundreds; a hash
    keeps its form (`$argon2id$...`), and a check reads the parameters from the hash."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(auth, "_HASHER", cheap)
        dummy = cheap.hash("not a password")
        patch.setattr(auth, "_dummy_hash", lambda: dummy)
        yield


class _CompiledTemplates(jinja2.BytecodeCache):
    """Compiled templates, kept in memory (by template file and source checksum)."""

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = self.compiled.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


@pytest.fixture(scope="session", autouse=True)
def _templates_compiled_once() -> Iterator[None]:
    """The dashboard's and the demo shop's Jinja environments share their compiled templates.
    Each app has its own environment, which compiles a template the first time it renders it
    (milliseconds each), and the tests make hundreds of apps: compiling was about 4 % of the
    run's Python CPU. An environment still renders with its own filters and globals."""
    shared = _CompiledTemplates()

    def environment(*args: Any, **kwargs: Any) -> jinja2.Environment:
        return jinja2.Environment(*args, bytecode_cache=shared, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(site, "Environment", environment)
        patch.setattr(demoshop_routes, "Environment", environment)
        yield


@pytest.fixture(scope="session", autouse=True)
def _one_tls_context() -> Iterator[None]:
    """Every httpx client the tests make shares one TLS context. httpx builds one per client
    and loads the certificate store into it (about 20 ms of CPU), and the tests make a client
    per test, many per call of `httpx.get`/`httpx.post`: thousands. (The server's own clients
    already share one: webhooks.sender.)"""
    shared = httpx.create_ssl_context()

    def context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> ssl.SSLContext:
        if verify is True and cert is None:
            return shared
        return httpx.create_ssl_context(verify=verify, cert=cert, trust_env=trust_env)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(httpx._transports.default, "create_ssl_context", context)
        yield


@pytest.fixture(scope="session", autouse=True)
def _drop_reused_databases() -> Iterator[None]:
    yield
    for reused in [*_lent.values(), *(r for free in _free.values() for r in free)]:
        reused.drop()


def modes_of(item: pytest.Item | Any) -> list[str]:
    """The modes a test runs in: every embedded backend, and cluster mode if it is marked
    `cluster` (itself or its module) and not `embedded`; cluster mode alone if marked
    `cluster(only=True)`."""
    clustered = item.get_closest_marker("cluster")
    embedded_only = item.get_closest_marker("embedded") is not None
    if clustered is None or embedded_only:
        return BACKENDS
    if clustered.kwargs.get("only"):
        return ["cluster"] if CLUSTER else []
    return BACKENDS + (["cluster"] if CLUSTER else [])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_url" in metafunc.fixturenames:
        metafunc.parametrize("db_url", modes_of(metafunc.definition), indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A module-scoped fixture parametrized over CLUSTER_MODES gives its cluster mode only to
    the tests that take it (marked `cluster`, not `embedded`)."""
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        clustered = any(isinstance(v, str) and v == "cluster" for v in params.values())
        (dropped if clustered and "cluster" not in modes_of(item) else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_collection_finish(session: pytest.Session) -> None:
    """The cyclic collector settled as `serve` settles it (settle_gc): what the collection
    made (the modules, every test item) is frozen out of its passes, and a pass waits for
    50,000 new objects; the property and schema tests make millions of short-lived ones."""
    settle_gc()


@pytest.fixture
def mode(db_url: str, request: pytest.FixtureRequest) -> str:
    """`sqlite`, `postgres` or `cluster`: the mode this test runs in."""
    return str(request.node.callspec.params["db_url"])


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database in each mode (migrated when the test uses `db`, and always in
    cluster mode, whose processors write to it).

    On PostgreSQL (and in cluster mode) the database is this worker's reused one, emptied back
    to the state of a new database before the test (see ReusedPgDatabase)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    name = create_pg_database("db" in request.fixturenames or request.param == "cluster")
    try:
        yield pg_url_for(name)
    finally:
        drop_pg_database(name)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "cluster(only=False): a behaviour test that also runs in cluster mode (collectors, a "
        "3-node NATS JetStream cluster, processors on PostgreSQL), next to the embedded "
        "backends; with only=True, in cluster mode alone",
    )
    config.addinivalue_line(
        "markers",
        "embedded(reason): runs in the embedded modes only, in a module marked `cluster` "
        "(SQLite-specific, or about the group committer or one process's internals)",
    )


# The run's own directory (the controller's), shared by its workers: the NATS cluster of the run.
_RUN_DIR = "shopevents_run_dir"
_run_dir_key = pytest.StashKey[str]()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist, in the controller: each worker is told the run's directory."""
    stash = node.config.stash
    if _run_dir_key not in stash:
        stash[_run_dir_key] = tempfile.mkdtemp(prefix="shopevents-run-")
    node.workerinput[_RUN_DIR] = stash[_run_dir_key]


def pytest_unconfigure(config: pytest.Config) -> None:
    """In the controller: ends the run's NATS cluster, if a worker started one."""
    run_dir = config.stash.get(_run_dir_key, None)
    if run_dir is None:
        return
    saved = Path(run_dir) / "nats" / "cluster.json"
    if saved.exists():
        NatsCluster.kill(saved)
    shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once for this worker, copied for each test that takes `db`
    (migrating a new file costs about 25 ms of CPU)."""
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    database.close()
    return path


@pytest.fixture
def db(db_url: str, sqlite_template: Path) -> Iterator[Database]:
    if db_url.startswith("sqlite:///"):  # a copy of a migrated file: the same as migrating
        shutil.copyfile(sqlite_template, db_url.removeprefix("sqlite:///"))
        database = Database(db_url)
    else:  # a reused PostgreSQL database is migrated already, unless `db` was asked for late
        database = Database(db_url)
        if database.pending_migrations():
            database.migrate()
    yield database
    database.close()


@pytest.fixture
def conn(db: Database) -> Iterator[Conn]:
    """One connection to `db` for the whole test: a property test's examples share it (on
    PostgreSQL a new connection is a new server process that loads the catalog again)."""
    connection = db.connect()
    yield connection
    connection.close()


class StoreInfo(msgspec.Struct):
    id: str
    key_id: str
    secret: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"apiKey {self.key_id}:{self.secret}"}


def make_store(db: Database, name: str = "Test store", **kw: Any) -> StoreInfo:
    """A store and an API key, written on a connection of `db`'s pool (which the app of a
    live server on `db` then reads with: one server process less for PostgreSQL to start)."""
    with db.reader() as conn, conn.transaction():
        now = to_micros(SystemClock().now())
        rec = stores.create_store(conn, name, now=now, **kw)
        key_id, secret = stores.create_api_key(conn, rec.id, now=now)
    return StoreInfo(rec.id, key_id, secret)


@pytest.fixture
def store(db: Database) -> StoreInfo:
    return make_store(db)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PromptServer(uvicorn.Server):
    """uvicorn's server, stopped as soon as `stop` is called. uvicorn itself looks at
    `should_exit` every 0.1 s, then waits 0.1 s more before it waits for the connections to
    close; a run starts and stops hundreds of servers, and the waits added up to over a
    minute of its tests' time. Here the main loop wakes when asked, and the shutdown (the same
    steps, in the same order) looks at the connections and tasks every few milliseconds."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._exit: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop, self._exit = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):  # on_tick also updates the Date header
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit.wait(), 0.1)

    def stop(self) -> None:
        """Asks the server to stop (from any thread)."""
        self.should_exit = True
        if self._loop is not None and self._exit is not None:
            with contextlib.suppress(RuntimeError):  # its loop has ended already
                self._loop.call_soon_threadsafe(self._exit.set)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.config.timeout_graceful_shutdown or 10)
        state = self.server_state
        while (state.connections or state.tasks) and loop.time() < deadline:
            await asyncio.sleep(0.002)
        for task in state.tasks:
            task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()


class LiveServer:
    """The real app on a real port, served by uvicorn in a background thread. The port is
    bound here, before the thread starts, so parallel test workers never race for it."""

    def __init__(
        self, settings: Settings, db: Database, clock: Any, *, collector: bool = False
    ) -> None:
        # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on the connections of a
        # socket made so (with 0, an answer's body waits ~40 ms behind its headers for the
        # client's delayed ACK on every keep-alive request).
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.bind(("127.0.0.1", 0))
        self.port = int(self.socket.getsockname()[1])
        settings = msgspec.structs.replace(settings, host="127.0.0.1", port=self.port)
        self.app = (
            collector_app(settings, db, clock) if collector else create_app(settings, db, clock)
        )
        self.config = uvicorn_config(self.app, settings, loop="asyncio")
        self.server = PromptServer(self.config)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.socket]))

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.time() + 60
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(timeout=10)
        self.socket.close()

    @property
    def ctx(self) -> Any:
        return self.app.state.ctx

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, **kw)


@pytest.fixture
def settings() -> Settings:
    return Settings(worker=Settings().worker.__class__(enabled=False))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


# --- cluster mode ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def nats_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NatsCluster]:
    """The run's 3-node NATS JetStream cluster on loopback (each test has its own stream
    prefix on it). Under pytest-xdist the first worker that needs it starts it and every
    other worker uses the same one; the controller ends it when the run ends."""
    run_dir = getattr(request.config, "workerinput", {}).get(_RUN_DIR)
    if run_dir is None:
        cluster = NatsCluster(tmp_path_factory.mktemp("nats")).start()
        yield cluster
        cluster.stop()
        return
    saved = Path(run_dir) / "nats" / "cluster.json"
    with open(Path(run_dir) / "nats.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if saved.exists():
            cluster = NatsCluster.attach(saved)
        else:
            saved.parent.mkdir(exist_ok=True)
            cluster = NatsCluster(saved.parent).start()
            cluster.save(saved)
    yield cluster


@pytest.fixture(scope="session")
def nats_loop() -> Iterator[LoopThread]:
    loop = LoopThread()
    yield loop
    loop.stop()


@pytest.fixture(scope="session")
def cluster_session(nats_cluster: NatsCluster, nats_loop: LoopThread) -> Iterator[ClusterSession]:
    session = ClusterSession(nats_cluster, nats_loop).start()
    yield session
    session.stop()


def start_rig(
    request: pytest.FixtureRequest, settings: Settings, db: Database, *, worker: bool = False
) -> Rig:
    """Cluster mode on `db` with `settings` (for fixtures of any scope): a stream prefix of
    its own and two processors (running the worker loop too if `worker`); stop it with
    `.stop()`."""
    session: ClusterSession = request.getfixturevalue("cluster_session")
    started = Rig(session, settings, db)
    try:
        return started.start(worker=worker)
    except BaseException:
        started.stop()
        raise


@pytest.fixture
def rig(mode: str, request: pytest.FixtureRequest) -> Iterator[Rig | None]:
    """In cluster mode: this test's stream prefix and its two processors on the test's
    database (None in the embedded modes)."""
    if mode != "cluster":
        yield None
        return
    started = start_rig(request, request.getfixturevalue("settings"), request.getfixturevalue("db"))
    yield started
    started.stop()


@pytest.fixture
def shop(db: Database, clock: FixedClock, rig: Rig | None) -> Iterator[Shop]:
    """A store driven through the real intake transaction (carts fall due after 30 min); in
    cluster mode through a collector's intake driver, the stream and the processors."""
    s = Shop(db, clock, rig=rig)
    yield s
    s.close()


class Collectors:
    """Cluster mode's stand-in for LiveServer: two collectors (the app with the cluster intake
    driver) on real ports. `url`, `app` and `ctx` are the first one's; `client()` alternates
    between them and waits for the processors after each write."""

    def __init__(self, rig: Rig, db: Database, clock: Any, count: int = 2) -> None:
        self.rig = rig
        self.servers = [LiveServer(rig.settings, db, clock, collector=True) for _ in range(count)]

    def start(self) -> Collectors:
        for live in self.servers:
            live.start()
        return self

    def stop(self) -> None:
        for live in self.servers:  # all told at once, then each waited for
            live.server.should_exit = True
        for live in self.servers:
            live.stop()

    @property
    def url(self) -> str:
        return self.servers[0].url

    @property
    def app(self) -> Any:
        return self.servers[0].app

    @property
    def ctx(self) -> Any:
        return self.servers[0].ctx

    def client(self, **kw: Any) -> httpx.Client:
        transport = Alternating([live.port for live in self.servers], self.rig.settle)
        return httpx.Client(base_url=self.url, transport=transport, **kw)


def live_server(
    settings: Settings, db: Database, clock: Any, rig: Rig | None = None
) -> LiveServer | Collectors:
    """The running app of the mode: one LiveServer (embedded) or two collectors (cluster)."""
    if rig is None:
        return LiveServer(settings, db, clock).start()
    return Collectors(rig, db, clock).start()


@pytest.fixture
def server(settings: Settings, db: Database, rig: Rig | None) -> Iterator[LiveServer | Collectors]:
    live = live_server(settings, db, SystemClock(), rig)
    yield live
    live.stop()


@pytest.fixture
def http(server: LiveServer | Collectors) -> Iterator[httpx.Client]:
    with server.client(timeout=30) as client:
        yield client


def ingest_path(store_id: str) -> str:
    return f"/integration-type/system/scrippet-notification/{store_id}"


def example(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()

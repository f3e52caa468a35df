"""The offline account's Bedrock state on disk, shared by every kernel and server on this machine.

One SQLite file (stdlib sqlite3), one row per resource: `(kind, key) -> JSON`. A request runs in a transaction
under an exclusive file lock (processes) and a mutex (threads); it reads only the kinds it touches and writes
back only the rows it changed, so a call costs the same with 40 or 400 jobs in the account. Custom model weights
live next to it, never in the learner's bucket (Bedrock keeps them in AWS-managed storage too).

A file that cannot be read raises StateError naming the file, what is wrong and how to reset, after keeping a
copy of it. A `bedrock.json` left by earlier versions of the lab is imported once.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import marshal
import os
import shutil
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Iterator

from helpers.paths import state_dir

HEADER = b"SQLite format 3\x00"
SHAPES = {"jobs": dict, "models": dict, "throughputs": dict, "deployments": dict, "tags": list, "tokens": str}
KINDS = tuple(SHAPES)
EMPTY = {kind: {} for kind in KINDS}
SCHEMA = "CREATE TABLE IF NOT EXISTS resources (kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, " \
         "PRIMARY KEY (kind, key)) WITHOUT ROWID"


_JSON_NAME = {dict: "object", list: "array", str: "string"}


class StateError(RuntimeError):
    """The offline account's state file is corrupt, truncated or not the lab's; the message says how to reset."""


class Document(dict):
    """The state as `doc[kind][key] -> value`, each kind read from the file the first time it is used."""

    def __init__(self, store: "Store", conn: sqlite3.Connection):
        super().__init__()
        self._store, self._conn, self._read = store, conn, {}

    def __missing__(self, kind: str) -> dict:
        if kind not in KINDS:
            raise KeyError(kind)
        rows = self._store.query(self._conn, "SELECT key, value FROM resources WHERE kind = ?", (kind,))
        values, before = {}, {}
        for key, text in rows:
            try:
                values[key] = json.loads(text)
            except ValueError as exc:
                raise self._store.corrupt(f"the {kind} entry {key!r} is not valid JSON ({exc})") from None
            if not isinstance(values[key], SHAPES[kind]):
                raise self._store.corrupt(f"the {kind} entry {key!r} is not a JSON {_JSON_NAME[SHAPES[kind]]}")
            before[key] = marshal.dumps(values[key])  # a fast fingerprint: the same bytes unless changed
        self._read[kind] = before
        self[kind] = values
        return values

    def write_back(self) -> None:
        """Write the rows this transaction added, changed or deleted."""
        for kind, before in self._read.items():
            after = self[kind]
            changed = [(kind, key, json.dumps(value, sort_keys=True)) for key, value in after.items()
                       if key not in before or before[key] != marshal.dumps(value)]
            gone = [(kind, key) for key in before if key not in after]
            try:
                self._conn.executemany("INSERT OR REPLACE INTO resources VALUES (?, ?, ?)", changed)
                self._conn.executemany("DELETE FROM resources WHERE kind = ? AND key = ?", gone)
            except sqlite3.Error as exc:
                raise StateError(f"The offline account's state file {self._store.path} could not be written: "
                                 f"{exc}.") from None


_READERS: dict[tuple[str, int], int] = {}


def _reader(path: Path) -> int:
    """A descriptor of the state file that this process keeps open for good. Closing any descriptor of the file
    drops every POSIX lock SQLite holds on it in this process; another process then believes it holds the last
    connection and deletes the live write-ahead log, and this process's later writes are lost to everyone else."""
    key = (str(path), os.getpid())
    if key not in _READERS:
        _READERS[key] = os.open(path, os.O_RDONLY)
    return _READERS[key]


class Store:
    """The state file guarded by an exclusive file lock (processes) and a mutex (threads)."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else state_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / "bedrock.sqlite3"
        self._mutex = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._conn_pid = 0

    @contextlib.contextmanager
    def transaction(self) -> Iterator[dict]:
        """Yield the document; whatever the block leaves in it is written back when it ends without error."""
        with self._mutex, open(self.root / ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                conn = self._connect()
                self._check_header()  # cheap, and catches a file overwritten under an open connection
                self.query(conn, "BEGIN IMMEDIATE")
                try:
                    doc = Document(self, conn)
                    yield doc
                    doc.write_back()
                    self.query(conn, "COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        conn.rollback()
                    raise
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def model_dir(self, model_key: str) -> Path:
        """Return where a custom model's weights are kept."""
        return self.root / "custom-models" / model_key

    # ------------------------------------------------------------------------------ the file
    def _connect(self) -> sqlite3.Connection:
        """The process's connection (opened, checked and migrated once, under the file lock)."""
        if self._conn is not None and self._conn_pid == os.getpid():
            return self._conn
        if self.path.exists():
            self._check_header()
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=60)
        except sqlite3.Error as exc:
            raise self.corrupt(f"it cannot be opened ({exc})") from None
        try:
            self.query(conn, "PRAGMA journal_mode=WAL")
            self.query(conn, "PRAGMA synchronous=NORMAL")
            self.query(conn, SCHEMA)
            if self.query(conn, "PRAGMA quick_check")[0][0] != "ok":
                raise self.corrupt("SQLite's integrity check failed")
            self._import_json(conn)
        except StateError:
            conn.close()
            raise
        self._conn, self._conn_pid = conn, os.getpid()
        return conn

    def _check_header(self) -> None:
        head = os.pread(_reader(self.path), len(HEADER), 0)
        if not head:
            raise self.corrupt("the file is empty (0 bytes): it was truncated")
        if head != HEADER:
            raise self.corrupt("it does not start like an SQLite database: it was overwritten or is not the lab's")

    def close(self) -> None:
        """Close this process's connection (the next transaction opens it again)."""
        with self._mutex:
            if self._conn is not None and self._conn_pid == os.getpid():
                self._conn.close()
            self._conn = None

    def query(self, conn: sqlite3.Connection, sql: str, args: tuple = ()) -> list:
        """Run one statement; a damaged file raises StateError instead of sqlite3's own error."""
        try:
            return conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:  # disk full, a read-only folder...: the file itself is fine
            raise StateError(f"The offline account's state file {self.path} cannot be used: {exc}.") from None
        except sqlite3.DatabaseError as exc:
            raise self.corrupt(f"SQLite cannot read it ({exc})") from None

    def corrupt(self, what: str, path: Path | None = None) -> StateError:
        """Keep a copy of the unreadable file and return the error that says which file, what and how to reset."""
        path = path or self.path
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else "missing"
        copy = path.with_name(f"{path.name}.corrupt-{digest}")
        if path.is_file() and not copy.exists():
            shutil.copyfile(path, copy)
        files = " ".join(f"'{p}'" for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())
        return StateError(f"The offline account's state file {path} cannot be read: {what}. A copy was kept at "
                          f"{copy}. To reset the offline account (its jobs, custom models and throughputs are "
                          f"forgotten), stop every kernel and offline-aws server using {self.root} and delete it: "
                          f"rm {files or repr(str(path))}")

    def _import_json(self, conn: sqlite3.Connection) -> None:
        """Move the state of an earlier version of the lab (bedrock.json, one JSON document) into the file."""
        legacy = self.root / "bedrock.json"
        if not legacy.is_file():
            return
        try:
            doc = json.loads(legacy.read_text(encoding="utf-8"))
            if not isinstance(doc, dict) or not all(isinstance(doc.get(k, {}), dict) and all(
                    isinstance(v, shape) for v in doc.get(k, {}).values()) for k, shape in SHAPES.items()):
                raise ValueError("expected an object whose members " + ", ".join(
                    f"{k} (an object of {_JSON_NAME[shape]}s)" for k, shape in SHAPES.items()))
        except (ValueError, UnicodeDecodeError) as exc:
            raise self.corrupt(f"it is not the lab's JSON state ({exc})", legacy) from None
        rows = [(kind, key, json.dumps(value, sort_keys=True)) for kind in KINDS
                for key, value in doc.get(kind, {}).items()]
        self.query(conn, "BEGIN IMMEDIATE")
        conn.executemany("INSERT OR REPLACE INTO resources VALUES (?, ?, ?)", rows)
        conn.execute("COMMIT")
        legacy.replace(legacy.with_name("bedrock.json.imported"))

    # ------------------------------------------------------------------------------ job workers
    def worker_token(self) -> str:
        """This process's token: a lock file it holds while it lives, so any process can tell it has gone
        (whatever the hostname or pid says: laptops rename themselves, containers share the folder)."""
        with self._mutex:
            held = _TOKENS.get((os.getpid(), self.root))
            if held is None:
                token = uuid.uuid4().hex
                folder = self.root / "workers"
                folder.mkdir(exist_ok=True)
                for other in folder.glob("*.lock"):  # tokens of processes that have gone
                    self.worker_alive(other.stem)
                # locked before it gets its name, so no one ever sees it unlocked while this process lives
                handle = open(folder / f".{token}.new", "a+")
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.rename(folder / f".{token}.new", folder / f"{token}.lock")
                held = _TOKENS[(os.getpid(), self.root)] = (token, handle)
            return held[0]

    def worker_alive(self, token: str) -> bool:
        """True while the process holding this token's lock runs (on this machine or one sharing the folder)."""
        held = _TOKENS.get((os.getpid(), self.root))
        if held is not None and held[0] == token:
            return True
        path = self.root / "workers" / f"{token}.lock"
        try:
            handle = open(path, "r+")
        except FileNotFoundError:
            return False
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            path.unlink(missing_ok=True)  # its process has gone: the lock is free
            return False


_TOKENS: dict[tuple[int, Path], tuple[str, object]] = {}  # (pid, state root) -> (token, the held lock file)

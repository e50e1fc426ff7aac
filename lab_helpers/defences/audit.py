"""The audit log: every request to the model service, in an SQLite file that survives a restart.

One row per request (time, client address, key id, method and path, a keyed digest of the input, what
was returned, the decision), one row per input with its *sketch* (a coarse fingerprint the probing
detector compares; never the input itself), and one row per alert. Thread-safe: one connection, one
lock, WAL journal.

Tamper evidence: every request row and every alert row carries `chain`, an HMAC of the row and of the
previous row's chain, under a key kept beside the log (`<log>.key`, readable by its owner only). Editing a
row or deleting one breaks the chain at that row; deleting rows at the end is caught by the *head* the
service keeps in `<log>.state.json`, with the quota and suspension state it must not lose with the log.
`verify_log` (and `python -m lab_helpers audit verify FILE`) reports the first broken link.

Fail closed: when a row cannot be written (file deleted or replaced, disk full, read-only, locked by another
process for longer than `busy_seconds`), `record` raises `AuditUnavailable`, and the service refuses to answer.
Requests of the same service queue for their turn (up to `queue_seconds`): many clients at once on a busy
machine are a queue, not an outage.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import threading
import time
import unicodedata
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from ..paths import cache_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, endpoint TEXT NOT NULL, method TEXT, path TEXT,
    model TEXT, key_id TEXT, role TEXT, client TEXT, n_inputs INTEGER NOT NULL DEFAULT 0, input_digest TEXT,
    status INTEGER NOT NULL, decision TEXT NOT NULL, reason TEXT, output TEXT, returned TEXT,
    response_digest TEXT, retry_after INTEGER, chain TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sketches (request_id INTEGER NOT NULL, position INTEGER NOT NULL, sketch TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, key_id TEXT NOT NULL, rule TEXT NOT NULL,
    queries INTEGER NOT NULL, detail TEXT, request_id INTEGER, chain TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS requests_by_key ON requests (key_id, time);
CREATE INDEX IF NOT EXISTS sketches_by_request ON sketches (request_id);
"""
REQUEST_FIELDS = ("time", "endpoint", "method", "path", "model", "key_id", "role", "client", "n_inputs",
                  "input_digest", "status", "decision", "reason", "output", "returned", "response_digest",
                  "retry_after")
ALERT_FIELDS = ("time", "key_id", "rule", "queries", "detail", "request_id")
# the most characters kept of each text field (a longer value is cut and marked): no row can flood the log
FIELD_LIMITS = {"endpoint": 16, "method": 16, "path": 256, "model": 64, "key_id": 64, "role": 32, "client": 64,
                "input_digest": 64, "decision": 16, "reason": 300, "output": 32, "returned": 4_000,
                "response_digest": 64, "rule": 32, "detail": 600}
GENESIS = "0" * 64  # the chain value "before" the first row


class AuditUnavailable(RuntimeError):
    """The audit log cannot be written (gone, replaced, full, read-only or locked): the service must refuse."""


class AuditLogError(ValueError):
    """The audit log cannot be opened as it is (an older format, a broken chain, a missing key): what to do is in the message."""


def keyed_digest(key: bytes, data: bytes, length: int = 32) -> str:
    """HMAC-SHA256 of some bytes under a secret key, hex, cut to length: equal inputs match, nothing reads back."""
    return hmac.new(key, data, hashlib.sha256).hexdigest()[:length]


def clean_text(value, limit: int | None = None):
    """A value as it may be stored: control and format characters escaped (\\n, \\x1b, \\u202e), cut to `limit`."""
    if not isinstance(value, str):
        return value
    out = []
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch.isprintable() and unicodedata.category(ch) not in ("Cf", "Zl", "Zp"):
            out.append(ch)
        else:
            code = ord(ch)
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch) or
                       (f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}" if code < 65536 else f"\\U{code:08x}"))
    text = "".join(out)
    if limit is not None and len(text) > limit:
        text = text[:limit] + f"…(+{len(text) - limit:,} characters)"
    return text


def default_audit_path(name: str = "audit") -> Path:
    """data/cache/lab06/<name>.sqlite (git-ignored), or <LAB_AUDIT_DIR>/<name>.sqlite when that is set."""
    folder = Path(os.environ["LAB_AUDIT_DIR"]) if os.environ.get("LAB_AUDIT_DIR") else cache_dir() / "lab06"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.sqlite"


def key_path(path: str | Path) -> Path:
    """Where the log's chain key is kept: <log>.key."""
    return Path(f"{path}.key")


def state_path(path: str | Path) -> Path:
    """Where the service keeps the log's head and its quota and suspension state: <log>.state.json."""
    return Path(f"{path}.state.json")


def delete_log(path: str | Path) -> None:
    """Remove an audit file, its journal files, its key and its state (a fresh start)."""
    for suffix in ("", "-wal", "-shm", "-journal", ".key", ".state.json"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _row_chain(key: bytes, previous: str, table: str, row_id: int, values: list, sketches: list[str] | None = None) -> str:
    """The chain value of one row: HMAC of the previous chain, the table, the row id, its values and sketches."""
    body = json.dumps([previous, table, int(row_id), values, list(sketches or [])], separators=(",", ":"),
                      ensure_ascii=True, allow_nan=True)
    return hmac.new(key, body.encode("ascii"), hashlib.sha256).hexdigest()


def write_json_atomically(path: Path, doc: dict) -> None:
    """Write a small JSON file by replacing it whole (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


class AuditLog:
    """An append-only, hash-chained audit log in one SQLite file, with its key and state beside it.

    busy_seconds: how long a write waits for a lock held by another process before the log counts as unavailable;
    retry_seconds: after a failed write, how long every write fails at once before the log is tried again;
    queue_seconds: how long a write waits behind this process's own writes (each bounded by busy_seconds).
    """

    def __init__(self, path: str | Path | None = None, busy_seconds: float = 0.25, retry_seconds: float = 1.0,
                 queue_seconds: float = 10.0):
        self.path = Path(path) if path is not None else default_audit_path()
        self.busy_seconds, self.retry_seconds = float(busy_seconds), float(retry_seconds)
        self.queue_seconds = float(queue_seconds)
        self._failure, self._failed_until = "", 0.0
        self._lock = threading.Lock()
        self.service_state: dict = {}  # filled by the service (quotas, suspensions), saved with the head
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            existed = self.path.is_file()
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=self.busy_seconds)
            columns = {r[1] for r in self._db.execute("PRAGMA table_info(requests)")}
            if columns and "chain" not in columns:
                self._db.close()
                raise AuditLogError(f"The audit log {self.path} was written by an older version of the kit "
                                    "(no tamper-evident chain): start fresh (serve --fresh, or fresh=True), "
                                    "or move the file away.")
            self._key = self._load_key(existed and bool(columns))
            with self._db:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(SCHEMA)
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('digest_key', ?)", (secrets.token_hex(16),))
                self._digest_key = bytes.fromhex(
                    self._db.execute("SELECT value FROM meta WHERE name='digest_key'").fetchone()[0])
            self._inode = self._identity()
        except (sqlite3.Error, OSError) as exc:
            raise AuditLogError(f"Cannot open the audit log at {self.path} for writing ({describe_error(exc)}): "
                                "give a writable place with --audit (or audit=...).") from None
        self._heads = {table: self._last(table) for table in ("requests", "alerts")}
        saved = self._read_state()
        self.service_state = dict(saved.get("service", {}))
        self.saved_heads = {t: tuple(v) for t, v in saved.get("head", {}).items()}

    # ---- key and state beside the log
    def _load_key(self, existed: bool) -> bytes:
        path = key_path(self.path)
        if path.is_file():
            if not existed:
                raise AuditLogError(f"The audit log {self.path} is missing, but its chain key {path} is there: the "
                                    "log was deleted. Restore it, or start fresh (serve --fresh, or fresh=True).")
            return bytes.fromhex(path.read_text(encoding="ascii").strip())
        if existed:
            raise AuditLogError(f"The audit log {self.path} exists but its chain key {path} is missing, so its "
                                "integrity cannot be checked: restore the key file, or start fresh.")
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(key.hex())
        return key

    def _read_state(self) -> dict:
        path = state_path(self.path)
        if not path.is_file():
            return {}
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            return {}

    def _identity(self) -> tuple[int, int]:
        st = os.stat(self.path)
        return st.st_dev, st.st_ino

    def _last(self, table: str) -> tuple[int, str]:
        row = self._db.execute(f"SELECT id, chain FROM {table} ORDER BY id DESC LIMIT 1").fetchone()
        return (int(row[0]), row[1]) if row else (0, GENESIS)

    def save_state(self) -> None:
        """Write the head of each chain and the service's state beside the log (AuditUnavailable on failure)."""
        doc = {"log": str(self.path.name), "head": {t: list(v) for t, v in self._heads.items()},
               "service": self.service_state}
        try:
            write_json_atomically(state_path(self.path), doc)
        except OSError as exc:
            raise AuditUnavailable(f"cannot write the audit state file ({describe_error(exc)})") from None

    # ---- writing
    def digest(self, data: bytes, length: int = 32) -> str:
        """A keyed digest (HMAC-SHA256, hex) of some bytes: equal inputs match, the input cannot be read back."""
        return keyed_digest(self._digest_key, data, length)

    def _check_file(self) -> None:
        try:
            same = self._identity() == self._inode
        except OSError:
            same = False
        if not same:
            raise AuditUnavailable(f"the audit log file {self.path} was deleted or replaced while the service ran")

    def _write(self, table: str, fields: tuple, entry: dict, sketches: list[str] | None = None) -> int:
        unknown = set(entry) - set(fields)
        if unknown:
            raise ValueError(f"Unknown audit field(s) {sorted(unknown)}; fields: {', '.join(fields)}.")
        row = {f: entry.get(f) for f in fields}
        if isinstance(row.get("returned"), (list, dict)):
            row["returned"] = json.dumps(row["returned"])
        if "n_inputs" in row:
            row["n_inputs"] = int(row["n_inputs"] or 0)
        row = {f: clean_text(v, FIELD_LIMITS.get(f)) for f, v in row.items()}
        values = [row[f] for f in fields]
        why = self.available()
        if why is not None:  # failing fast: no request waits on a log that just failed
            raise AuditUnavailable(why)
        if not self._lock.acquire(timeout=self.queue_seconds):
            raise AuditUnavailable(f"{self.queue_seconds:g} s waiting behind this service's own audit writes")
        try:
            if self._failed_until > time.monotonic():  # the write ahead of this one failed: fail fast, do not wait again
                raise AuditUnavailable(self._failure)
            self._check_file()
            _, last_chain = self._heads[table]
            try:
                with self._db:
                    cur = self._db.execute(f"INSERT INTO {table} ({', '.join(fields)}, chain) VALUES "
                                           f"({', '.join('?' * (len(fields) + 1))})", [*values, "pending"])
                    row_id = int(cur.lastrowid)
                    chain = _row_chain(self._key, last_chain, table, row_id, values, sketches)
                    self._db.execute(f"UPDATE {table} SET chain = ? WHERE id = ?", (chain, row_id))
                    if sketches:
                        self._db.executemany("INSERT INTO sketches VALUES (?, ?, ?)",
                                             [(row_id, i, s) for i, s in enumerate(sketches)])
            except sqlite3.IntegrityError as exc:
                raise ValueError(f"Audit row refused by the log's schema: {exc}") from None
            except sqlite3.Error as exc:
                self._failure = f"cannot write the audit log ({describe_error(exc)})"
                self._failed_until = time.monotonic() + self.retry_seconds
                raise AuditUnavailable(self._failure) from None
            self._heads[table] = (row_id, chain)
            self.save_state()
            return row_id
        finally:
            self._lock.release()

    def record(self, entry: dict, sketches: list[str] | None = None) -> int:
        """Append one request (and its inputs' sketches) in one transaction; return its id (AuditUnavailable if it cannot)."""
        return self._write("requests", REQUEST_FIELDS, entry, sketches)

    def record_alert(self, time: float, key_id: str, rule: str, queries: int, detail: str,
                     request_id: int | None = None) -> int:
        """Append one alert; return its id (AuditUnavailable if it cannot)."""
        return self._write("alerts", ALERT_FIELDS, dict(time=time, key_id=key_id, rule=rule, queries=int(queries),
                                                         detail=detail, request_id=request_id))

    def available(self) -> str | None:
        """None when the log can be written, else why not (quick: the file's identity and the last failure)."""
        if self._failed_until > time.monotonic():
            return self._failure
        try:
            self._check_file()
        except AuditUnavailable as exc:
            return str(exc)
        return None

    # ---- reading back what the service needs after a restart
    def allowed_since(self, since: float) -> dict[str, int]:
        """Queries answered per key since a time (for today's quota after a restart)."""
        with self._lock:
            rows = self._db.execute("SELECT key_id, SUM(n_inputs) FROM requests WHERE status = 200 AND time >= ? "
                                    "AND endpoint = 'predict' GROUP BY key_id", (since,)).fetchall()
        return {k: int(n) for k, n in rows if k is not None}

    def alerted_keys(self) -> dict[str, str]:
        """Key id -> the first alert's rule, for every key with an alert."""
        with self._lock:
            rows = self._db.execute("SELECT key_id, rule FROM alerts ORDER BY id").fetchall()
        out: dict[str, str] = {}
        for key_id, rule in rows:
            out.setdefault(key_id, rule)
        return out

    def count(self, table: str = "requests") -> int:
        """Rows in one table (requests, sketches or alerts)."""
        if table not in ("requests", "sketches", "alerts"):
            raise ValueError(f"Unknown table {table!r}; tables: requests, sketches, alerts.")
        with self._lock:
            return int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def close(self) -> None:
        """Close the file (further writes fail)."""
        with self._lock:
            self._db.close()


def describe_error(exc: BaseException) -> str:
    """A one-line reason from an OSError or sqlite3 error ('read-only file system', 'database is locked')."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


# ---------------------------------------------------------------- checking the chain

@dataclass(frozen=True)
class Verification:
    """The result of checking an audit log's chain: rows checked and the first broken link, if any."""

    path: str
    requests: int
    alerts: int
    problem: str | None = None

    @property
    def intact(self) -> bool:
        """True when every row and the head check out."""
        return self.problem is None

    def text(self) -> str:
        """One line for a terminal."""
        if self.intact:
            return f"OK: {self.path}: {self.requests:,} request row(s) and {self.alerts:,} alert row(s), every link intact."
        return f"BROKEN: {self.path}: {self.problem}"


def verify_log(path: str | Path) -> Verification:
    """Recompute every row's chain and compare the head with the service's state file; report the first broken link."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No audit log at {path}.")
    kpath = key_path(path)
    if not kpath.is_file():
        return Verification(str(path), 0, 0, f"its chain key {kpath} is missing: the log cannot be checked")
    key = bytes.fromhex(kpath.read_text(encoding="ascii").strip())
    state = {}
    if state_path(path).is_file():
        try:
            state = json.loads(state_path(path).read_text(encoding="utf-8"))
        except ValueError:
            return Verification(str(path), 0, 0, f"its state file {state_path(path)} is not valid JSON (edited?)")
    counts = {}
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
        columns = {r[1] for r in db.execute("PRAGMA table_info(requests)")}
        if "chain" not in columns:
            return Verification(str(path), 0, 0, "the log has no chain (written by an older version of the kit)")
        sketches: dict[int, list[str]] = {}
        for rid, sketch in db.execute("SELECT request_id, sketch FROM sketches ORDER BY request_id, position"):
            sketches.setdefault(int(rid), []).append(sketch)
        for table, fields in (("requests", REQUEST_FIELDS), ("alerts", ALERT_FIELDS)):
            previous, previous_id, n = GENESIS, 0, 0
            seen: dict[int, str] = {}
            for row in db.execute(f"SELECT id, {', '.join(fields)}, chain FROM {table} ORDER BY id"):
                row_id, values, chain = int(row[0]), list(row[1:-1]), row[-1]
                expected = _row_chain(key, previous, table, row_id,
                                      values, sketches.get(row_id) if table == "requests" else None)
                if not hmac.compare_digest(str(chain), expected):
                    if row_id != previous_id + 1:
                        gone = f"{previous_id + 1}" + (f" to {row_id - 1}" if row_id - 1 > previous_id + 1 else "")
                        why = f"row(s) {gone} before it were deleted"
                    else:
                        why = "this row (or its sketches) was edited"
                    done = {**counts, table: n}
                    return Verification(str(path), done.get("requests", 0), done.get("alerts", 0),
                                        f"first broken link at {table} row {row_id}: {why}")
                previous, previous_id, n = chain, row_id, n + 1
                seen[row_id] = chain
            counts[table] = n
            head = state.get("head", {}).get(table)
            if head and int(head[0]) > 0 and seen.get(int(head[0])) != head[1]:
                return Verification(str(path), counts.get("requests", 0), counts.get("alerts", 0),
                                    f"the {table} end at row {previous_id}, but the service wrote up to row "
                                    f"{int(head[0])}: rows were deleted from the end (or the log was replaced)")
    return Verification(str(path), counts["requests"], counts["alerts"])


def _read(path: str | Path, sql: str):
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No audit log at {path}: start the service with this audit path first.")
    with closing(sqlite3.connect(path, timeout=30)) as db:  # read-write, so closing tidies the WAL files
        return pd.read_sql_query(sql, db)


def read_requests(path: str | Path):
    """The requests table as a DataFrame, with a readable UTC `when` column."""
    import pandas as pd

    frame = _read(path, "SELECT * FROM requests ORDER BY id")
    frame.insert(1, "when", pd.to_datetime(frame["time"], unit="s", utc=True))
    return frame


def read_alerts(path: str | Path):
    """The alerts table as a DataFrame (one row per alert)."""
    import pandas as pd

    frame = _read(path, "SELECT * FROM alerts ORDER BY id")
    frame.insert(1, "when", pd.to_datetime(frame["time"], unit="s", utc=True))
    return frame


def read_sketches(path: str | Path):
    """The sketches table: one row per input (request id, position in the batch, sketch)."""
    return _read(path, "SELECT * FROM sketches ORDER BY request_id, position")

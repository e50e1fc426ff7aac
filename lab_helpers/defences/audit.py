"""The audit log: every request to the model service, in an SQLite file that survives a restart.

One row per request (time, key id, a keyed digest of the input, what was returned, the decision),
one row per input with its *sketch* (a coarse fingerprint the probing detector compares; never the
input itself), and one row per alert. Thread-safe: one connection, one lock, WAL journal.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

from ..paths import cache_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, endpoint TEXT NOT NULL, model TEXT,
    key_id TEXT, role TEXT, client TEXT, n_inputs INTEGER NOT NULL DEFAULT 0, input_digest TEXT,
    status INTEGER NOT NULL, decision TEXT NOT NULL, reason TEXT, output TEXT, returned TEXT,
    response_digest TEXT, retry_after INTEGER);
CREATE TABLE IF NOT EXISTS sketches (request_id INTEGER NOT NULL, position INTEGER NOT NULL, sketch TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, key_id TEXT NOT NULL, rule TEXT NOT NULL,
    queries INTEGER NOT NULL, detail TEXT, request_id INTEGER);
CREATE INDEX IF NOT EXISTS requests_by_key ON requests (key_id, time);
CREATE INDEX IF NOT EXISTS sketches_by_request ON sketches (request_id);
"""
REQUEST_FIELDS = ("time", "endpoint", "model", "key_id", "role", "client", "n_inputs", "input_digest", "status",
                  "decision", "reason", "output", "returned", "response_digest", "retry_after")


def keyed_digest(key: bytes, data: bytes, length: int = 32) -> str:
    """HMAC-SHA256 of some bytes under a secret key, hex, cut to length: equal inputs match, nothing reads back."""
    return hmac.new(key, data, hashlib.sha256).hexdigest()[:length]


def default_audit_path(name: str = "audit") -> Path:
    """data/cache/lab06/<name>.sqlite (git-ignored)."""
    folder = cache_dir() / "lab06"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.sqlite"


def delete_log(path: str | Path) -> None:
    """Remove an audit file and its journal files (a fresh start)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


class AuditLog:
    """An append-only audit log in one SQLite file."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_audit_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('digest_key', ?)", (secrets.token_hex(16),))
            self._key = bytes.fromhex(self._db.execute("SELECT value FROM meta WHERE name='digest_key'").fetchone()[0])

    def digest(self, data: bytes, length: int = 32) -> str:
        """A keyed digest (HMAC-SHA256, hex) of some bytes: equal inputs match, the input cannot be read back."""
        return keyed_digest(self._key, data, length)

    def record(self, entry: dict, sketches: list[str] | None = None) -> int:
        """Append one request (and its inputs' sketches) in one transaction; return its id."""
        unknown = set(entry) - set(REQUEST_FIELDS)
        if unknown:
            raise ValueError(f"Unknown audit field(s) {sorted(unknown)}; fields: {', '.join(REQUEST_FIELDS)}.")
        row = {f: entry.get(f) for f in REQUEST_FIELDS}
        if isinstance(row["returned"], (list, dict)):
            row["returned"] = json.dumps(row["returned"])
        with self._lock, self._db:
            cur = self._db.execute(f"INSERT INTO requests ({', '.join(REQUEST_FIELDS)}) VALUES "
                                   f"({', '.join('?' * len(REQUEST_FIELDS))})", [row[f] for f in REQUEST_FIELDS])
            request_id = int(cur.lastrowid)
            if sketches:
                self._db.executemany("INSERT INTO sketches VALUES (?, ?, ?)",
                                     [(request_id, i, s) for i, s in enumerate(sketches)])
        return request_id

    def record_alert(self, time: float, key_id: str, rule: str, queries: int, detail: str,
                     request_id: int | None = None) -> int:
        """Append one alert; return its id."""
        with self._lock, self._db:
            cur = self._db.execute("INSERT INTO alerts (time, key_id, rule, queries, detail, request_id) "
                                   "VALUES (?, ?, ?, ?, ?, ?)", (time, key_id, rule, int(queries), detail, request_id))
            return int(cur.lastrowid)

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

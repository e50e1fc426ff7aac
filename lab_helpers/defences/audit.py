"""The audit log: every request to the model service, in an SQLite file that survives a restart.

One row per request (time, client address, key id, method and path, a keyed digest of the input, what
was returned, the decision), one row per input with its *sketch* (a coarse fingerprint the probing
detector compares; never the input itself), and one row per alert. Thread-safe: one connection, one
lock, WAL journal.

Tamper evidence: every request row and every alert row carries `chain`, an HMAC of the row and of the
previous row's chain. Its key is kept **apart from the log**, in the log's key folder (`key_folder`:
`<LAB_AUDIT_KEYS>/…`, or an `audit-keys` folder beside the log's folder; 0700, files 0600), together with an
append-only file of **signed checkpoints** of the log's head. Editing a row, deleting one, or rewriting the rows
under another key breaks the chain; cutting rows off the end, or putting an older copy of the log back, leaves
the log behind its latest checkpoint. `verify_log` (and `python -m lab_helpers audit verify FILE`) reports the
first broken link; `--checkpoint FILE` checks against a copy of the checkpoints kept elsewhere (or the
`audit checkpoint` lines the service printed). Quotas and suspensions are recomputed from the verified log at
every start: no state file beside the log to edit.

Nothing in the log reads back as what the model protects: input digests use a key that lives only in the
service's memory (gone when it stops), and each input's sketch is *sealed* (encrypted) under a key of its
day kept in the key folder and destroyed after `sketch_days` days, so old sketches cannot be read by anyone.

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
import shutil
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
                "input_digest": 64, "decision": 16, "reason": 300, "output": 64, "returned": 4_000,
                "response_digest": 64, "rule": 32, "detail": 600}
GENESIS = "0" * 64  # the chain value "before" the first row
SKETCH_DAYS = 2  # days a sketch key is kept (the detectors look back 24 hours); then it is destroyed
SEALED = "s1"  # the prefix of a sealed sketch: s1:<day>:<hex>
CHECKPOINT = "audit checkpoint"  # how the service prints a checkpoint to its own standard log


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


def key_folder(path: str | Path) -> Path:
    """Where a log's keys and checkpoints live, apart from the log: <LAB_AUDIT_KEYS or ../audit-keys>/<name>-<id>.

    The folder is named after the log's file and a digest of its full path, so two logs never share keys. An
    operator gives the service a folder its log's writers cannot write (`serve --audit-keys DIR`, or
    LAB_AUDIT_KEYS); by default it is an `audit-keys` folder next to the log's folder.
    """
    path = Path(path).resolve()
    base = Path(os.environ["LAB_AUDIT_KEYS"]) if os.environ.get("LAB_AUDIT_KEYS") else path.parent.parent / "audit-keys"
    return base / f"{path.stem}-{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"


def _private_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    return folder


def _private_file(path: Path, text: str) -> None:
    """Create a new file readable and writable by its owner only (0600); fail if it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(text)


def delete_log(path: str | Path, keys: str | Path | None = None) -> None:
    """Remove an audit file, its journal files and its key folder (keys, checkpoints, sketch keys): a fresh start."""
    for suffix in ("", "-wal", "-shm", "-journal", ".key", ".state.json"):  # .key, .state.json: an older layout
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(Path(keys) if keys is not None else key_folder(path), ignore_errors=True)


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


# ---------------------------------------------------------------- sealed sketches and signed checkpoints

def day_of(when: float) -> str:
    """The UTC day of a time, as YYYY-MM-DD (the name of that day's sketch key)."""
    return time.strftime("%Y-%m-%d", time.gmtime(when))


def _keystream(key: bytes, nonce: str, n: int) -> bytes:
    blocks, i = [], 0
    while 32 * len(blocks) < n:
        blocks.append(hmac.new(key, f"{nonce}/{i}".encode(), hashlib.sha256).digest())
        i += 1
    return b"".join(blocks)[:n]


def seal_sketch(key: bytes, day: str, request_id: int, position: int, sketch: str) -> str:
    """A sketch encrypted under its day's key (HMAC-SHA256 in counter mode; the row's chain authenticates it)."""
    data = sketch.encode("utf-8")
    stream = _keystream(key, f"{request_id}:{position}", len(data))
    return f"{SEALED}:{day}:{bytes(a ^ b for a, b in zip(data, stream)).hex()}"


def open_sketch(keys: dict[str, bytes], request_id: int, position: int, stored: str) -> str | None:
    """A sealed sketch read back with its day's key; None when that key was destroyed (or is not given)."""
    if not isinstance(stored, str) or not stored.startswith(SEALED + ":"):
        return stored  # written before sketches were sealed
    _, day, data = stored.split(":", 2)
    key = keys.get(day)
    if key is None:
        return None
    raw = bytes.fromhex(data)
    return bytes(a ^ b for a, b in zip(raw, _keystream(key, f"{request_id}:{position}", len(raw)))).decode("utf-8")


def sketch_keys(folder: str | Path) -> dict[str, bytes]:
    """The sketch keys still kept in a key folder, by day."""
    out = {}
    for path in sorted(Path(folder).glob("sketches-*.key")):
        out[path.stem.removeprefix("sketches-")] = bytes.fromhex(path.read_text(encoding="ascii").strip())
    return out


def _checkpoint_mac(key: bytes, doc: dict) -> str:
    body = json.dumps({k: v for k, v in doc.items() if k != "mac"}, sort_keys=True, separators=(",", ":"))
    return hmac.new(hmac.new(key, b"checkpoints", hashlib.sha256).digest(), body.encode(), hashlib.sha256).hexdigest()


def read_checkpoints(path: str | Path) -> list[dict]:
    """The checkpoints in a file: one JSON object per line, alone or after 'audit checkpoint' (a service's own log)."""
    out = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        text = line.split(CHECKPOINT, 1)[1] if CHECKPOINT in line else line
        text = text.strip()
        if not text.startswith("{"):
            continue
        try:
            doc = json.loads(text)
        except ValueError:
            doc = {"unreadable": text[:80]}
        if isinstance(doc, dict):
            out.append({**doc, "_line": number})
    return out


class AuditLog:
    """An append-only, hash-chained audit log in one SQLite file; its keys and signed checkpoints kept apart.

    Parameters
    ----------
    path: the SQLite file (default: `default_audit_path()`).
    keys: the folder for its chain key, checkpoints and sketch keys (default: `key_folder(path)`).
    busy_seconds: how long a write waits for a lock held by another process before the log counts as unavailable.
    retry_seconds: after a failed write, how long every write fails at once before the log is tried again.
    queue_seconds: how long a write waits behind this process's own writes (each bounded by busy_seconds).
    sketch_days: how many days each day's sketch key is kept before it is destroyed (the sketches then read as None).
    echo: called with an 'audit checkpoint {...}' line at most every `echo_seconds` and at close (the service's
        own standard log: a copy of the head the log's writers cannot reach).
    """

    def __init__(self, path: str | Path | None = None, *, keys: str | Path | None = None, busy_seconds: float = 0.25,
                 retry_seconds: float = 1.0, queue_seconds: float = 10.0, sketch_days: int = SKETCH_DAYS,
                 echo=None, echo_seconds: float = 60.0):
        self.path = Path(path) if path is not None else default_audit_path()
        self.keys = Path(keys) if keys is not None else key_folder(self.path)
        self.busy_seconds, self.retry_seconds = float(busy_seconds), float(retry_seconds)
        self.queue_seconds, self.sketch_days = float(queue_seconds), int(sketch_days)
        self.echo, self.echo_seconds, self._echoed = echo, float(echo_seconds), 0.0
        self._failure, self._failed_until = "", 0.0
        self._lock = threading.Lock()
        self._digest_key = secrets.token_bytes(32)  # in memory only: the digests cannot be brute-forced from the log
        self._sketch_keys: dict[str, bytes] = {}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            existed = self.path.is_file() and self.path.stat().st_size > 0
            if not self.path.exists():
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
            os.chmod(self.path, 0o600)
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
                self._db.execute("DELETE FROM meta WHERE name = 'digest_key'")  # an older layout kept it here
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('log_id', ?)", (secrets.token_hex(8),))
                self.log_id = self._db.execute("SELECT value FROM meta WHERE name='log_id'").fetchone()[0]
            self._inode = self._identity()
            checkpoints = self.keys / "checkpoints.jsonl"
            self._seq = sum(1 for _ in checkpoints.open(encoding="utf-8")) if checkpoints.is_file() else 0
            self._checkpoints = os.open(checkpoints, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except (sqlite3.Error, OSError) as exc:
            raise AuditLogError(f"Cannot open the audit log at {self.path} for writing ({describe_error(exc)}): "
                                "give a writable place with --audit (or audit=...).") from None
        self._heads = {table: self._last(table) for table in ("requests", "alerts")}

    # ---- the key folder
    def _load_key(self, existed: bool) -> bytes:
        path = self.keys / "chain.key"
        if path.is_file():
            if not existed:
                raise AuditLogError(f"The audit log {self.path} is missing or empty, but its key folder {self.keys} is "
                                    "there: the log was deleted. Restore it, or start fresh (serve --fresh, or "
                                    "fresh=True).")
            return bytes.fromhex(path.read_text(encoding="ascii").strip())
        if existed:
            if Path(f"{self.path}.key").is_file():
                raise AuditLogError(f"The audit log {self.path} keeps its chain key beside it (an older version of the "
                                    "kit): start fresh (serve --fresh, or fresh=True), or move the files away.")
            raise AuditLogError(f"The audit log {self.path} exists but its chain key is not in {self.keys}, so its "
                                "integrity cannot be checked: give the key folder (--audit-keys), or start fresh.")
        _private_folder(self.keys)
        key = secrets.token_bytes(32)
        _private_file(path, key.hex())
        return key

    def _sketch_key(self, day: str) -> bytes:
        """The key that seals the sketches of one day (created on first use; older ones destroyed)."""
        key = self._sketch_keys.get(day)
        if key is not None:
            return key
        path = self.keys / f"sketches-{day}.key"
        if path.is_file():
            key = bytes.fromhex(path.read_text(encoding="ascii").strip())
        else:
            key = secrets.token_bytes(32)
            _private_file(path, key.hex())
        self._sketch_keys = {day: key}
        self.forget_sketches(day)
        return key

    def forget_sketches(self, today: str) -> list[str]:
        """Destroy the sketch keys older than `sketch_days` before `today`: their sketches can no longer be read."""
        last = time.strftime("%Y-%m-%d", time.gmtime(time.mktime(time.strptime(today, "%Y-%m-%d"))
                                                     - 86_400 * (self.sketch_days - 1) + 43_200))
        gone = []
        for path in self.keys.glob("sketches-*.key"):
            if path.stem.removeprefix("sketches-") < last:
                path.unlink(missing_ok=True)
                gone.append(path.stem.removeprefix("sketches-"))
        return sorted(gone)

    def _identity(self) -> tuple[int, int]:
        st = os.stat(self.path)
        return st.st_dev, st.st_ino

    def _last(self, table: str) -> tuple[int, str]:
        row = self._db.execute(f"SELECT id, chain FROM {table} ORDER BY id DESC LIMIT 1").fetchone()
        return (int(row[0]), row[1]) if row else (0, GENESIS)

    def checkpoint(self) -> dict:
        """Append a signed checkpoint of both chains' heads to the key folder (and echo it when it is time)."""
        self._seq += 1
        doc = {"log": self.log_id, "seq": self._seq, "time": round(time.time(), 3),
               "requests": list(self._heads["requests"]), "alerts": list(self._heads["alerts"])}
        doc["mac"] = _checkpoint_mac(self._key, doc)
        line = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        try:
            os.write(self._checkpoints, (line + "\n").encode())
        except OSError as exc:
            raise AuditUnavailable(f"cannot write the audit checkpoint ({describe_error(exc)})") from None
        if self.echo is not None and time.monotonic() - self._echoed >= self.echo_seconds:
            self._echoed = time.monotonic()
            self.echo(f"{CHECKPOINT} {line}")
        return doc

    # ---- writing
    def digest(self, data: bytes, length: int = 32) -> str:
        """A keyed digest (HMAC-SHA256, hex): equal inputs match while this service runs; its key is never stored."""
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
                day = day_of(float(row.get("time") or time.time()))
                key = self._sketch_key(day) if sketches else None
                with self._db:
                    cur = self._db.execute(f"INSERT INTO {table} ({', '.join(fields)}, chain) VALUES "
                                           f"({', '.join('?' * (len(fields) + 1))})", [*values, "pending"])
                    row_id = int(cur.lastrowid)
                    sealed = [seal_sketch(key, day, row_id, i, s) for i, s in enumerate(sketches or [])]
                    chain = _row_chain(self._key, last_chain, table, row_id, values, sealed)
                    self._db.execute(f"UPDATE {table} SET chain = ? WHERE id = ?", (chain, row_id))
                    if sealed:
                        self._db.executemany("INSERT INTO sketches VALUES (?, ?, ?)",
                                             [(row_id, i, s) for i, s in enumerate(sealed)])
            except sqlite3.IntegrityError as exc:
                raise ValueError(f"Audit row refused by the log's schema: {exc}") from None
            except (sqlite3.Error, OSError) as exc:
                self._failure = f"cannot write the audit log ({describe_error(exc)})"
                self._failed_until = time.monotonic() + self.retry_seconds
                raise AuditUnavailable(self._failure) from None
            self._heads[table] = (row_id, chain)
            self.checkpoint()
            return row_id
        finally:
            self._lock.release()

    def record(self, entry: dict, sketches: list[str] | None = None) -> int:
        """Append one request (and its inputs' sketches, sealed) in one transaction; return its id (AuditUnavailable if it cannot)."""
        return self._write("requests", REQUEST_FIELDS, entry, sketches)

    def record_alert(self, time: float, key_id: str, rule: str, queries: int, detail: str,
                     request_id: int | None = None) -> int:
        """Append one alert (or an admin's suspension or lift, rules in ADMIN_RULES); return its id."""
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

    def explained_since(self, since: float) -> dict[str, int]:
        """Inputs answered with an explanation per key since a time (for today's explanation quota after a restart);
        an explained answer's output is logged as 'OUTPUT+EXPLANATION'."""
        with self._lock:
            rows = self._db.execute("SELECT key_id, SUM(n_inputs) FROM requests WHERE status = 200 AND time >= ? "
                                    "AND endpoint = 'predict' AND output LIKE '%+%' GROUP BY key_id", (since,)).fetchall()
        return {k: int(n) for k, n in rows if k is not None}

    def alerted_keys(self) -> dict[str, str]:
        """Key id -> the first alert's rule, for every key with a probing alert (admin rows left out)."""
        with self._lock:
            rows = self._db.execute("SELECT key_id, rule FROM alerts ORDER BY id").fetchall()
        out: dict[str, str] = {}
        for key_id, rule in rows:
            if rule not in ADMIN_RULES:
                out.setdefault(key_id, rule)
        return out

    def suspensions(self, block_on_alert: bool) -> dict[str, str]:
        """Key id -> why it is suspended, replayed from the alert rows in order (an admin's lift ends one)."""
        with self._lock:
            rows = self._db.execute("SELECT key_id, rule, detail FROM alerts ORDER BY id").fetchall()
        out: dict[str, str] = {}
        for key_id, rule, detail in rows:
            if rule == "suspension_lifted":
                out.pop(key_id, None)
            elif rule == "suspended_by_admin":
                out.setdefault(key_id, detail or "suspended by an admin")
            elif block_on_alert:
                out.setdefault(key_id, f"probing alert ({rule}); ask an admin to review")
        return out

    def count(self, table: str = "requests") -> int:
        """Rows in one table (requests, sketches or alerts)."""
        if table not in ("requests", "sketches", "alerts"):
            raise ValueError(f"Unknown table {table!r}; tables: requests, sketches, alerts.")
        with self._lock:
            return int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def close(self) -> None:
        """Close the file (further writes fail); echo the last checkpoint."""
        with self._lock:
            self._db.close()
            if self.echo is not None and self._seq:
                self._echoed = 0.0
                try:
                    self.checkpoint()
                except AuditUnavailable:
                    pass
            try:
                os.close(self._checkpoints)
            except OSError:
                pass


ADMIN_RULES = ("suspended_by_admin", "suspension_lifted")  # alert rows an admin writes, not the detector


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
    checkpoint: int | None = None  # the sequence number of the checkpoint the log was checked against

    @property
    def intact(self) -> bool:
        """True when every row checks out and the log reaches its latest checkpoint."""
        return self.problem is None

    def text(self) -> str:
        """One line for a terminal."""
        if self.intact:
            against = f", up to checkpoint {self.checkpoint:,}" if self.checkpoint else ""
            return (f"OK: {self.path}: {self.requests:,} request row(s) and {self.alerts:,} alert row(s), every link "
                    f"intact{against}.")
        return f"BROKEN: {self.path}: {self.problem}"


def verify_log(path: str | Path, keys: str | Path | None = None, checkpoint: str | Path | None = None) -> Verification:
    """Recompute every row's chain and check the log reaches its latest signed checkpoint; report the first broken link.

    Parameters
    ----------
    path: the audit log (SQLite file).
    keys: its key folder (default: `key_folder(path)`; give it for a copy of the log kept somewhere else).
    checkpoint: a file of checkpoints kept elsewhere (an export, or the service's own log with its
        'audit checkpoint' lines); default: the key folder's own checkpoints.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No audit log at {path}.")
    folder = Path(keys) if keys is not None else key_folder(path)
    kpath = folder / "chain.key"
    if not kpath.is_file():
        return Verification(str(path), 0, 0, f"its chain key is not in {folder}: the log cannot be checked "
                                              "(give its key folder with --keys)")
    key = bytes.fromhex(kpath.read_text(encoding="ascii").strip())
    cpath = Path(checkpoint) if checkpoint is not None else folder / "checkpoints.jsonl"
    if checkpoint is not None and not cpath.is_file():
        raise FileNotFoundError(f"No checkpoint file at {cpath}.")
    counts: dict[str, int] = {}
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
        columns = {r[1] for r in db.execute("PRAGMA table_info(requests)")}
        if "chain" not in columns:
            return Verification(str(path), 0, 0, "the log has no chain (written by an older version of the kit)")
        found = db.execute("SELECT value FROM meta WHERE name = 'log_id'").fetchone()
        log_id = found[0] if found else None
        sketches: dict[int, list[str]] = {}
        for rid, sketch in db.execute("SELECT request_id, sketch FROM sketches ORDER BY request_id, position"):
            sketches.setdefault(int(rid), []).append(sketch)
        chains: dict[str, dict[int, str]] = {}
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
                        why = "this row (or its sketches) was edited, or written under another key"
                    done = {**counts, table: n}
                    return Verification(str(path), done.get("requests", 0), done.get("alerts", 0),
                                        f"first broken link at {table} row {row_id}: {why}")
                previous, previous_id, n = chain, row_id, n + 1
                seen[row_id] = chain
            counts[table], chains[table] = n, seen
    # the latest checkpoint the log's own writers could not rewrite
    docs = read_checkpoints(cpath) if cpath.is_file() else []
    valid = []
    for doc in docs:
        if doc.get("log") not in (None, log_id) and "mac" in doc:
            continue  # a checkpoint of another log in the same file
        if not hmac.compare_digest(str(doc.get("mac", "")), _checkpoint_mac(key, {k: v for k, v in doc.items()
                                                                                  if k != "_line"})):
            return Verification(str(path), counts["requests"], counts["alerts"],
                                f"checkpoint line {doc['_line']} of {cpath} is not signed by this log's key (forged "
                                "or edited)")
        valid.append(doc)
    if not valid:
        if counts["requests"] or counts["alerts"]:
            return Verification(str(path), counts["requests"], counts["alerts"],
                                f"no checkpoint of this log in {cpath}: its end cannot be checked (the checkpoints "
                                "were deleted, or the log was replaced by another)")
        return Verification(str(path), 0, 0)
    latest = max(valid, key=lambda d: int(d["seq"]))
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(latest.get("time", 0))))
    for table in ("requests", "alerts"):
        head_id, head_chain = int(latest[table][0]), str(latest[table][1])
        if head_id == 0:
            continue
        have = chains[table].get(head_id)
        last = max(chains[table], default=0)
        if have is None:
            return Verification(str(path), counts["requests"], counts["alerts"],
                                f"the {table} end at row {last}, but checkpoint {latest['seq']:,} ({when}) says row "
                                f"{head_id} was written: rows were cut off the end, or an older copy of the log was "
                                "put back", latest["seq"])
        if not hmac.compare_digest(have, head_chain):
            return Verification(str(path), counts["requests"], counts["alerts"],
                                f"{table} row {head_id} differs from checkpoint {latest['seq']:,} ({when}): the log "
                                "was rewritten", latest["seq"])
    return Verification(str(path), counts["requests"], counts["alerts"], checkpoint=int(latest["seq"]))


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


def read_sketches(path: str | Path, keys: str | Path | None = None):
    """The sketches table: one row per input (request id, position in the batch, sketch), opened with the day keys.

    A sketch whose day key was destroyed (older than the log's `sketch_days`), or read without the key folder,
    comes back as None: what someone who copies the log file alone gets.
    """
    frame = _read(path, "SELECT * FROM sketches ORDER BY request_id, position")
    folder = Path(keys) if keys is not None else key_folder(path)
    day_keys = sketch_keys(folder) if folder.is_dir() else {}
    frame["sketch"] = [open_sketch(day_keys, int(r), int(p), s)
                       for r, p, s in zip(frame["request_id"], frame["position"], frame["sketch"])]
    return frame

"""The model behind a real local HTTP API: FastAPI on uvicorn, with the access policy, audit log and detector beneath.

`ModelService` is plain Python (bytes in, status and JSON out), so every answer, including every error
code, is testable without a server; `make_app` only wires it to HTTP, and `start_server` runs it on
127.0.0.1 in a background thread until its handle's `stop()`.

Endpoints: GET /health, GET /v1/models (what the caller's key may do), POST /v1/models/{model}/predict.
"""
# No `from __future__ import annotations` here: FastAPI must see the real `Request` class in make_app.
import asyncio
import base64
import binascii
import json
import math
import re
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..defences.access import DAY, AccessPolicy, ApiKey, refusal_source
from ..defences.audit import AuditLog, AuditLogError, AuditUnavailable, clean_text, delete_log, verify_log
from ..defences.monitoring import Detector, sketch_images, sketch_records, source_of
from ..defences.output_policies import OutputPolicy
from .api import ModelAPI

N_PIXELS = 4096
MAX_BODY_BYTES = 16 * 1024 * 1024  # the most any key may send in one body
BYTES_PER_PIXEL = 26  # room for any JSON float and its separator ("1.2345678901234567e-05, ")
BYTES_PER_RECORD = 4_096  # one patient record as JSON is a few hundred bytes
BODY_SLACK = 64 * 1024  # field names, the output and encoding fields, whitespace
BODY_SECONDS = 10.0  # the whole request body must arrive within this: a slow client holds no connection or memory
HEADER_SECONDS = 10.0  # a request's headers must arrive within this of the connection opening (or going idle)
WAITING_PER_ADDRESS = 64  # connections one address may hold open while no request's headers have arrived
KEYLESS_ROWS = 5  # refusals without a valid key logged one by one, per address and minute; the rest in one row
MAX_MODEL_NAME = 64
MODEL_NAME = re.compile(r"[A-Za-z0-9_-]+")
FIELDS = ("inputs", "output", "encoding", "explain", "classes")
ENCODINGS = ("json", "base64-float32")


class InputError(ValueError):
    """A request the service refuses before it reaches the model: an HTTP status and a message saying why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class ServedModel:
    """A model as the service offers it: its input kind ('image' or 'record'), classes and input rules."""

    name: str
    kind: str
    predict_proba: Callable
    classes: list[str]
    description: str = ""
    columns: list[str] | None = None
    numeric: dict[str, tuple[float, float]] = field(default_factory=dict)  # column -> (low, high)
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)  # column -> allowed values
    net: object = None  # an image model's network, for explanations (kept in the service, never sent)

    def __post_init__(self):
        if self.kind not in ("image", "record"):
            raise ValueError(f"A served model's kind must be 'image' or 'record' (got {self.kind!r}).")
        if self.kind == "record" and not self.columns:
            raise ValueError("A 'record' model needs columns=[...], the input fields it expects.")

    def info(self) -> dict:
        """What a caller needs to know to send inputs."""
        out = {"input": self.kind, "classes": self.classes, "description": self.description}
        if self.kind == "image":
            out |= {"size": N_PIXELS, "range": [0.0, 1.0], "encodings": list(ENCODINGS)}
        else:
            out |= {"columns": self.columns, "numeric": {c: list(r) for c, r in self.numeric.items()},
                    "categories": {c: list(v) for c, v in self.categories.items()}}
        return out


def face_endpoint(model, name: str = "faces") -> ServedModel:
    """A lab 03 face model: 64x64 images (4096 pixels in [0, 1]) in, one of 40 identities out."""
    return ServedModel(name, "image", model.predict_proba, [str(i) for i in range(40)],
                       f"face recogniser ({model.name}): who is in a 64x64 photo", net=getattr(model, "net", None))


def patient_endpoint(model, data, name: str = "patients") -> ServedModel:
    """A lab 02 tabular model: a patient record in, a dose band out."""
    spec = data.framing
    categories = {c.name: tuple(c.values) for c in (*spec.categories, spec.sensitive)} | {spec.proxy.name: tuple(spec.proxy.values)}
    return ServedModel(name, "record", getattr(model, "model", model).predict_proba, data.class_names,
                       f"{spec.target_description} from a {spec.person} record", columns=list(data.features),
                       numeric={c.name: (float(c.low), float(c.high)) for c in spec.numeric}, categories=categories)


# ---------------------------------------------------------------- reading a request body

def _no_constants(name: str):
    raise InputError(422, f"{name} is not a valid JSON number: send finite numbers only")


def parse_body(body: bytes) -> dict:
    """The request body as a JSON object, or a 413/422 saying what is wrong."""
    if len(body) > MAX_BODY_BYTES:
        raise InputError(413, f"the request body is {len(body):,} bytes, over the limit of {MAX_BODY_BYTES:,}")
    if not body.strip():
        raise InputError(422, 'empty body: send a JSON object like {"inputs": [...]}')
    if body.startswith(b"\xef\xbb\xbf"):
        raise InputError(422, "the body starts with a byte-order mark: send UTF-8 JSON without one (RFC 8259)")
    try:
        text = body.decode("utf-8")  # JSON on the wire is UTF-8 (RFC 8259): no UTF-16 or UTF-32 guessing
    except UnicodeDecodeError as exc:
        raise InputError(422, f"the body is not UTF-8 ({exc.reason} at byte {exc.start}): send UTF-8 JSON") from None
    try:
        data = json.loads(text, parse_constant=_no_constants)
    except InputError:
        raise
    except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, absurd nesting
        raise InputError(422, f"the body is not valid JSON ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not isinstance(data, dict):
        raise InputError(422, f'the body must be a JSON object like {{"inputs": [...]}}, not a {type(data).__name__}')
    extra = sorted(set(data) - set(FIELDS))
    if extra:
        raise InputError(422, f"unknown field(s) {extra}; allowed fields: {', '.join(FIELDS)}")
    if "inputs" not in data:
        raise InputError(422, 'missing field "inputs": a list of inputs (one per query)')
    if data.get("output") is not None and not isinstance(data["output"], str):
        raise InputError(422, '"output" must be a string such as "label" or "probabilities"')
    if data.get("encoding", "json") not in ENCODINGS:
        raise InputError(422, f'"encoding" must be one of {", ".join(ENCODINGS)}')
    if data.get("explain") is not None and not (data["explain"] is True or isinstance(data["explain"], str)):
        raise InputError(422, '"explain" must be true or an explanation such as "saliency" or "gradient:any"')
    classes = data.get("classes")
    if classes is not None and not (isinstance(classes, list) and all(type(c) is int for c in classes)):
        raise InputError(422, '"classes" must be a list of class numbers, one per input (or one for all)')
    return data


def count_inputs(data: dict, model: ServedModel) -> int:
    """How many inputs (queries) a parsed body holds, checked for shape only."""
    inputs = data["inputs"]
    if data.get("encoding", "json") == "base64-float32":
        if model.kind != "image":
            raise InputError(422, f"the base64-float32 encoding is for image models; {model.name!r} takes JSON records")
        if not isinstance(inputs, str):
            raise InputError(422, '"inputs" must be a base64 string when "encoding" is "base64-float32"')
        size = len(inputs) * 3 // 4 - inputs[-2:].count("=") if inputs else 0
        if size % (4 * N_PIXELS):
            raise InputError(422, f"base64 data of {size:,} bytes is not a whole number of images "
                                  f"({4 * N_PIXELS:,} bytes = {N_PIXELS} float32 pixels each)")
        n = size // (4 * N_PIXELS)
    else:
        if not isinstance(inputs, list):
            raise InputError(422, '"inputs" must be a list with one input per query')
        n = len(inputs)
    if n == 0:
        raise InputError(422, '"inputs" is empty: send at least one input')
    return n


def strict_b64decode(text: str) -> bytes:
    """Base64 to bytes, refusing any character outside the alphabet (ValueError)."""
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)  # Python 3.11+: fast
    except TypeError:  # Python 3.10 has no strict_mode
        return base64.b64decode(text, validate=True)
    except UnicodeEncodeError:
        raise ValueError("not ASCII") from None


def image_inputs(data: dict) -> np.ndarray:
    """The images of a body as a float32 (n, 4096) array, every pixel a finite number in [0, 1]."""
    if data.get("encoding", "json") == "base64-float32":
        try:
            raw = strict_b64decode(data["inputs"])
        except ValueError:
            raise InputError(422, '"inputs" is not valid base64') from None
        if not raw or len(raw) % (4 * N_PIXELS):
            raise InputError(422, f"base64 data must hold whole images of {N_PIXELS} float32 pixels each")
        x = np.frombuffer(raw, dtype="<f4").reshape(-1, N_PIXELS)
    else:
        rows = data["inputs"]
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != N_PIXELS:
                got = f"a list of {len(row)} values" if isinstance(row, list) else f"a {type(row).__name__}"
                raise InputError(422, f"input {i}: each image must be a flat list of {N_PIXELS} pixel values "
                                      f"(a 64x64 image, row by row); got {got}")
        kinds = {type(v) for row in rows for v in row}
        if not kinds <= {int, float}:
            bad = sorted(k.__name__ for k in kinds - {int, float})
            raise InputError(422, f"pixel values must be numbers; found {', '.join(bad)}")
        try:
            x = np.asarray(rows, dtype=np.float64)
        except OverflowError:
            raise InputError(422, "a pixel value is far too large: pixels are numbers in [0, 1]") from None
    if not np.isfinite(x).all():
        raise InputError(422, "pixel values must be finite numbers in [0, 1] (found NaN or infinity)")
    if x.min() < 0 or x.max() > 1:
        raise InputError(422, f"pixel values must be in [0, 1]; found values from {x.min():.3g} to {x.max():.3g}")
    return x.astype(np.float32)


def record_inputs(data: dict, model: ServedModel) -> list[dict]:
    """The records of a body, each with exactly the model's columns, numbers in range, known categories."""
    wanted = set(model.columns)
    for i, record in enumerate(data["inputs"]):
        if not isinstance(record, dict):
            raise InputError(422, f"input {i}: each input must be a JSON object with the columns {model.columns}")
        missing, extra = sorted(wanted - set(record)), sorted(set(record) - wanted)
        if missing or extra:
            raise InputError(422, f"input {i}: " + "; ".join(
                ([f"missing column(s) {missing}"] if missing else []) + ([f"unknown column(s) {extra}"] if extra else []))
                + f". The model needs exactly: {model.columns}")
        for column, (low, high) in model.numeric.items():
            value = record[column]
            if type(value) not in (int, float):
                raise InputError(422, f"input {i}: {column} must be a number, got {type(value).__name__}")
            try:
                ok = math.isfinite(value) and low <= value <= high
            except OverflowError:
                ok = False
            if not ok:
                raise InputError(422, f"input {i}: {column} must be a finite number from {low:g} to {high:g}")
        for column, values in model.categories.items():
            if record[column] not in values:
                raise InputError(422, f"input {i}: {column} must be one of {list(values)}, got {record[column]!r}")
    return data["inputs"]


# ---------------------------------------------------------------- the service

@dataclass
class Reply:
    """What the service answers: an HTTP status, a JSON payload and extra headers."""

    status: int
    payload: dict
    headers: dict = field(default_factory=dict)


class ModelService:
    """Models behind keys, limits, output policies, a tamper-evident audit log and a probing detector.

    What it guarantees (lab 06): every request gets an audit row before its answer leaves, or no answer (503);
    a body is read only up to the caller's limit and only after the key is known and not suspended; refused
    requests are limited per client address; once an alert suspends a key, none of its requests is answered
    after that; quotas and suspensions survive restarts, an edited log and a clock stepped back.
    """

    def __init__(self, models: dict[str, ServedModel] | list[ServedModel], policy: AccessPolicy,
                 audit: AuditLog | str | Path | None = None, detector: Detector | None = None, fresh: bool = False,
                 keys: str | Path | None = None):
        self.models = models if isinstance(models, dict) else {m.name: m for m in models}
        self.policy = policy
        if fresh and not isinstance(audit, AuditLog) and audit is not None:
            delete_log(audit, keys)
        self.audit = audit if isinstance(audit, AuditLog) else AuditLog(audit, keys=keys)
        check = verify_log(self.audit.path, keys=self.audit.keys)
        if not check.intact:
            self.audit.close()
            raise AuditLogError(f"The audit log {self.audit.path} fails its integrity check: {check.problem}. Keep "
                                "it for investigation (python -m lab_helpers audit verify FILE) and start the service "
                                "with a new log (--audit NEW-FILE, or --fresh).")
        self.detector = detector or Detector()
        self.endpoints = "GET /health, GET /v1/models, POST /v1/models/{model}/predict"  # named in a 404
        self.started = policy.clock()
        self.body_seconds = BODY_SECONDS  # the most a request body may take to arrive (then 408)
        self._apis: dict[tuple[str, OutputPolicy], ModelAPI] = {}
        self._predict_lock, self._record_lock = threading.Lock(), threading.Lock()
        self._map_rngs: dict = {}  # (model, explanation policy) -> the noise of its maps
        self._keyless: dict[tuple[str, int], list] = {}  # (address, minute) -> [refusals, Counter of statuses summarised]
        self._keyless_lock = threading.Lock()
        self.header_seconds, self.waiting_per_address = HEADER_SECONDS, WAITING_PER_ADDRESS
        now = policy.clock()
        # the state comes from the verified log, never from a file beside it: today's quota and every suspension
        policy.restore_usage(self.audit.allowed_since((now // DAY) * DAY), now,
                             explained=self.audit.explained_since((now // DAY) * DAY))
        for key_id, reason in self.audit.suspensions(policy.block_on_alert).items():
            policy.suspend(key_id, reason)

    def suspend(self, key_id: str, reason: str) -> None:
        """Suspend a key as an admin, in the log first (so a restart keeps it): AuditUnavailable if it cannot be logged."""
        with self._record_lock:
            self.audit.record_alert(self.policy.clock(), key_id, "suspended_by_admin", 0, clean_text(reason, 300))
            self.policy.suspend(key_id, reason)

    def lift_suspension(self, key_id: str, reason: str = "reviewed by an admin") -> None:
        """Let a suspended key back in, in the log first (so a restart does not suspend it again)."""
        with self._record_lock:
            self.audit.record_alert(self.policy.clock(), key_id, "suspension_lifted", 0, clean_text(reason, 300))
            self.policy.lift_suspension(key_id)

    @property
    def audit_path(self) -> Path:
        """The audit log's file."""
        return self.audit.path

    def _log(self, now: float, endpoint: str, reply: Reply, body: bytes = b"", model: str | None = None,
             key_id: str | None = None, role: str | None = None, client: str | None = None, n: int = 0,
             output: str | None = None, returned=None, sketches=None, method: str | None = None,
             path: str | None = None) -> int:
        """One audit row (AuditUnavailable when it cannot be written); a refusal counts against the client's address."""
        entry = dict(time=now, endpoint=endpoint, method=method, path=path, model=model, key_id=key_id, role=role,
                     client=client, n_inputs=n, input_digest=self.audit.digest(body) if body else None,
                     status=reply.status, decision="allowed" if reply.status == 200 else "denied",
                     reason=reply.payload.get("error", "ok"), output=output, returned=returned,
                     response_digest=self.audit.digest(json.dumps(reply.payload, sort_keys=True).encode()),
                     retry_after=int(reply.headers["Retry-After"]) if "Retry-After" in reply.headers else None)
        if reply.status >= 400 and not reply.payload.get("throttled"):
            self.policy.note_refusal(refusal_source(source_of(client), key_id))
        if key_id is None and reply.status >= 400 and self._count_keyless(now, client, reply.status):
            return 0  # counted in its address's row for this minute
        if self._keyless:
            self.flush_keyless(now)
        return self.audit.record(entry, sketches)

    def _count_keyless(self, now: float, client: str | None, status: int) -> bool:
        """Count a refusal without a valid key; True when it goes into its address's summary row, not a row of its own."""
        with self._keyless_lock:
            bucket = self._keyless.setdefault((source_of(client) or "unknown", int(now // 60)), [0, Counter()])
            bucket[0] += 1
            if bucket[0] <= KEYLESS_ROWS:
                return False
            bucket[1][status] += 1
            return True

    def flush_keyless(self, now: float | None = None) -> int:
        """Write one row per address and finished minute for the refusals without a key it counted (all at close)."""
        with self._keyless_lock:
            minute = None if now is None else int(now // 60)
            done = [k for k in self._keyless if minute is None or k[1] < minute]
            buckets = {k: self._keyless.pop(k) for k in done}
        written = 0
        for (address, start), (_, statuses) in sorted(buckets.items(), key=lambda kv: kv[0][1]):
            n = sum(statuses.values())
            if not n:
                continue
            when = time.strftime("%H:%M", time.gmtime(start * 60))
            counts = ", ".join(f"{code}×{k}" for code, k in sorted(statuses.items()))
            self.audit.record(dict(time=start * 60 + 59.999, endpoint="keyless-refusals", client=address, n_inputs=0,
                                   status=statuses.most_common(1)[0][0], decision="denied",
                                   reason=f"{n:,} more refused request(s) without a valid key from {address} in the "
                                          f"minute from {when} UTC ({counts}); the first {KEYLESS_ROWS} have rows "
                                          "of their own",
                                   returned={str(code): k for code, k in statuses.items()}))
            written += 1
        return written

    @staticmethod
    def _error(status: int, message: str, retry_after: int | None = None) -> Reply:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        if status == 401:
            headers["WWW-Authenticate"] = 'ApiKey header="X-API-Key"'
        return Reply(status, {"error": message}, headers)

    @staticmethod
    def _unavailable(why: str) -> Reply:
        return Reply(503, {"error": f"the audit log cannot be written ({why}): the service answers nothing it cannot "
                                    "log; ask an admin to fix the log and restart the service"}, {"Retry-After": "30"})

    def _guard(self, handle: Callable[[], Reply]) -> Reply:
        """Run a handler; if its audit row cannot be written, the answer is a 503 instead (fail closed)."""
        try:
            return handle()
        except AuditUnavailable as exc:
            return self._unavailable(str(exc))

    def _throttled(self, now: float, endpoint: str, **log) -> Reply | None:
        """429 for an address that has been refused too often (logged, not counted again), else None."""
        client = log.get("client")
        wait = self.policy.refusal_wait(refusal_source(source_of(client), log.get("key_id")))
        if wait is None:
            return None
        reply = self._error(429, f"too many refused requests from {source_of(client)}: wait {wait} s and fix the "
                                 "requests (their errors said what was wrong)", wait)
        reply.payload["throttled"] = True
        self._log(now, endpoint, reply, **log)
        return reply

    def health(self, client: str | None = None) -> Reply:
        """Liveness: no key needed, no model details; 503 at once while the audit log cannot be written."""
        why = self.audit.available()
        if why is not None:
            return Reply(503, {"status": "unavailable", "error": f"the audit log cannot be written ({why})"},
                         {"Retry-After": "30"})

        def handle() -> Reply:
            now = self.policy.clock()
            reply = Reply(200, {"status": "ok", "models": sorted(self.models), "uptime_s": round(now - self.started, 1)})
            self._log(now, "health", reply, client=client, method="GET", path="/health")
            return reply

        return self._guard(handle)

    def describe_models(self, secret: str | None, client: str | None = None) -> Reply:
        """GET /v1/models: the models and what this key may do with them."""
        def handle() -> Reply:
            now, key = self.policy.clock(), self.policy.identify(secret)
            where = dict(method="GET", path="/v1/models")
            throttled = self._throttled(now, "models", client=client, key_id=key and key.key_id,
                                        role=key and key.role, **where)
            if throttled:
                return throttled
            if key is None:
                reply = self._error(401, "missing or unknown API key: send it in the X-API-Key header")
                self._log(now, "models", reply, client=client, **where)
                return reply
            limit = self.policy.limit_for(key)
            you = {"key_id": key.key_id, "role": key.role, "outputs": list(self.policy.allowed_outputs(key)),
                   "default_output": self.policy.output_for(key, None).kind, "max_batch": self.policy.batch_limit(key),
                   "max_body_bytes": self.body_limit(key, None),
                   "rate_limit": None if limit is None else limit.__dict__,
                   "used_today": self.policy.used_today(key.key_id, now), "suspended": self.policy.suspended.get(key.key_id)}
            reply = Reply(200, {"models": {n: m.info() for n, m in self.models.items()}, "you": you})
            self._log(now, "models", reply, key_id=key.key_id, role=key.role, client=client, **where)
            return reply

        return self._guard(handle)

    def _first_checks(self, now: float, key: ApiKey | None, log: dict) -> Reply | None:
        """A predict request's first refusals, in order: a flooding address (429), the log down (503), no key (401)."""
        throttled = self._throttled(now, "predict", **{k: v for k, v in log.items() if k != "body"})
        if throttled:
            return throttled
        why = self.audit.available()
        if why is not None:
            return self._unavailable(why)
        if key is None:
            reply = self._error(401, "missing or unknown API key: send it in the X-API-Key header")
            self._log(now, "predict", reply, **log)
            return reply
        return None

    def body_limit(self, key: ApiKey, model: ServedModel | None) -> int:
        """The most bytes a request body from this key may have: what its largest batch needs as JSON, plus room."""
        per_input = N_PIXELS * BYTES_PER_PIXEL if model is None or model.kind == "image" else BYTES_PER_RECORD
        return min(MAX_BODY_BYTES, self.policy.batch_limit(key) * per_input + BODY_SLACK)

    def _model_named(self, name: str) -> ServedModel:
        if len(name) > MAX_MODEL_NAME or not MODEL_NAME.fullmatch(name):
            raise InputError(404, f"no such model: model names are up to {MAX_MODEL_NAME} letters, digits, '-' or '_'; "
                                  f"models: {', '.join(sorted(self.models))}")
        model = self.models.get(name)
        if model is None:
            raise InputError(404, f"no model {name!r}; models: {', '.join(sorted(self.models))}")
        return model

    def before_body(self, secret: str | None, model_name: str, client: str | None = None,
                    declared: int | None = None) -> tuple[Reply | None, int]:
        """The checks made before a byte of the body is read: (refusal, 0), or (None, this key's body limit).

        In order: a flooding address, the audit log, the key (401), a suspension (403), the model name (404),
        a declared Content-Length over the key's limit (413). Every refusal is logged.
        """
        result: list = [None, 0]

        def handle() -> Reply:
            now, key = self.policy.clock(), self.policy.identify(secret)
            log = dict(model=model_name, client=client, method="POST", path=f"/v1/models/{model_name}/predict",
                       key_id=key and key.key_id, role=key and key.role)
            refused = self._first_checks(now, key, log)
            if refused is not None:
                return refused
            try:
                if key.key_id in self.policy.suspended:
                    raise InputError(403, f"key suspended: {self.policy.suspended[key.key_id]}")
                model = self._model_named(model_name)
                limit = self.body_limit(key, model)
                if declared is not None and declared > limit:
                    raise InputError(413, f"the request body is {declared:,} bytes, over this key's limit of "
                                          f"{limit:,}: send fewer inputs per request")
            except InputError as exc:
                reply = self._error(exc.status, str(exc))
                self._log(now, "predict", reply, **log)
                return reply
            result[1] = limit
            return None

        refusal = self._guard(handle)
        return refusal, (0 if refusal is not None else result[1])

    def oversize(self, secret: str | None, model_name: str, client: str | None = None, limit: int = MAX_BODY_BYTES) -> Reply:
        """A body that grew past the key's limit while being read: 413, without reading the rest."""
        def handle() -> Reply:
            now, key = self.policy.clock(), self.policy.identify(secret)
            reply = self._error(413, f"the request body is over this key's limit of {limit:,} bytes: "
                                     "send fewer inputs per request")
            self._log(now, "predict", reply, model=model_name, client=client, key_id=key and key.key_id,
                      role=key and key.role, method="POST", path=f"/v1/models/{model_name}/predict")
            return reply

        return self._guard(handle)

    def too_slow(self, secret: str | None, model_name: str, client: str | None = None) -> Reply:
        """A body that did not arrive within `body_seconds`: 408, and the connection is closed."""
        def handle() -> Reply:
            now, key = self.policy.clock(), self.policy.identify(secret)
            reply = self._error(408, f"the request body did not arrive within {self.body_seconds:g} s: send it at once")
            self._log(now, "predict", reply, model=model_name, client=client, key_id=key and key.key_id,
                      role=key and key.role, method="POST", path=f"/v1/models/{model_name}/predict")
            return reply

        return self._guard(handle)

    def not_found(self, method: str, path: str, client: str | None = None, secret: str | None = None,
                  status: int = 404) -> Reply:
        """Any other path (404) or method (405): the list of endpoints, logged with the key that was presented."""
        def handle() -> Reply:
            now, key = self.policy.clock(), self.policy.identify(secret)
            where = dict(client=client, method=method, path=path, key_id=key and key.key_id, role=key and key.role)
            throttled = self._throttled(now, "other", **where)
            if throttled:
                return throttled
            shown = clean_text(f"{method} {path}", 120)
            what = "no endpoint" if status == 404 else "method not allowed:"
            reply = self._error(status, f"{what} {shown}; endpoints: {self.endpoints}")
            self._log(now, "other", reply, **where)
            return reply

        return self._guard(handle)

    def handle_other(self, endpoint: str, method: str, path: str, secret: str | None, client: str | None,
                     work: Callable[[ApiKey | None], Reply]) -> Reply:
        """A request to an endpoint beside the model API (the class target's): throttled per address, work(key), logged.

        Fail-closed as the rest: with the audit log down, work is not done (503).
        """
        def handle() -> Reply:
            now, key = self.policy.clock(), self.policy.identify(secret)
            where = dict(client=client, method=method, path=path, key_id=key and key.key_id, role=key and key.role)
            throttled = self._throttled(now, endpoint, **where)
            if throttled:
                return throttled
            why = self.audit.available()
            if why is not None:
                return self._unavailable(why)
            try:
                reply = work(key)
            except InputError as exc:
                reply = self._error(exc.status, str(exc))
            self._log(now, endpoint, reply, **where)
            return reply

        return self._guard(handle)

    def log_http_error(self, client: str | None, message: str, status: int = 400) -> None:
        """Record a request the HTTP layer refused before the app saw it (a malformed request line or header)."""
        try:
            self._log(self.policy.clock(), "http-error", Reply(status, {"error": message}), client=client)
        except AuditUnavailable:
            pass  # nothing to answer: the HTTP layer has replied already; the log's failure shows on /health

    def log_other(self, method: str, path: str, client: str | None, secret: str | None, status: int) -> None:
        """Record a request the app answered before any handler (another method, a path no route matches, an error)."""
        key = self.policy.identify(secret)
        reasons = {404: "no such path", 405: "method not allowed", 500: "internal error"}
        reply = Reply(status, {"error": reasons.get(status, f"HTTP {status}")})
        try:
            self._log(self.policy.clock(), "other", reply, client=client, method=method, path=path,
                      key_id=key and key.key_id, role=key and key.role)
        except AuditUnavailable:
            pass  # already answered; /health shows the log's failure

    def predict(self, secret: str | None, model_name: str, body: bytes, client: str | None = None) -> Reply:
        """POST /v1/models/{model}/predict: every check, the answer at the key's granularity, one audit row."""
        return self._guard(lambda: self._predict(secret, model_name, body, client))

    def _predict(self, secret: str | None, model_name: str, body: bytes, client: str | None) -> Reply:
        now, key = self.policy.clock(), self.policy.identify(secret)
        log = dict(model=model_name, client=client, body=body, method="POST", path=f"/v1/models/{model_name}/predict",
                   key_id=key and key.key_id, role=key and key.role)
        refused = self._first_checks(now, key, log)
        if refused is not None:
            return refused
        n = 0
        try:
            model = self._model_named(model_name)
            limit = self.body_limit(key, model)
            if len(body) > limit:
                raise InputError(413, f"the request body is {len(body):,} bytes, over this key's limit of {limit:,}: "
                                      "send fewer inputs per request")
            most = self.policy.batch_limit(key) * (N_PIXELS if model.kind == "image" else 4 * len(model.columns)) + 64
            if body.count(b",") > most:  # counted before parsing: a body of millions of tiny values is never parsed
                raise InputError(413, f"the body holds more values than a batch of {self.policy.batch_limit(key)} "
                                      "inputs can: send fewer inputs per request")
            data = parse_body(body)
            n = count_inputs(data, model)
            decision = self.policy.authorise(secret, n, data.get("output"))
            if not decision.allowed:
                raise InputError(decision.status, decision.reason)
            explanation, classes = self._explanation(key, model, data, n)
            inputs = image_inputs(data) if model.kind == "image" else record_inputs(data, model)
            admitted = self.policy.admit(decision, n, now)
            decision = self.policy.admit_explanations(admitted, n if explanation is not None else 0, now)
            if not decision.allowed:
                if admitted.allowed:  # refused for its explanations only: the queries it was charged are given back
                    self.policy.refund(admitted, n, now)
                reply = self._error(decision.status, decision.reason, decision.retry_after)
                self._log(now, "predict", reply, n=n, **log)
                return reply
        except InputError as exc:
            reply = self._error(exc.status, str(exc))
            self._log(now, "predict", reply, n=n, **log)
            return reply
        try:
            return self._answer(now, model, decision, inputs, log, explanation, classes)
        except AuditUnavailable:  # not answered (503): the queries it was charged are given back
            self.policy.refund(decision, n, now)
            self.policy.refund_explanations(decision, n if explanation is not None else 0, now)
            raise

    def _explanation(self, key, model: ServedModel, data: dict, n: int):
        """The explanation policy a request asks for and may have, and the classes to explain (or an InputError)."""
        spec = data.get("explain")
        if spec is None or spec is False:
            if data.get("classes") is not None:
                raise InputError(422, '"classes" goes with "explain": say which explanation you want')
            return None, None
        if model.kind != "image" or model.net is None:
            raise InputError(422, f"model {model.name!r} offers no explanations")
        role = self.policy.roles[key.role]
        try:
            policy = role.explanation(spec)
        except ValueError as exc:
            raise InputError(422, str(exc)) from None
        if policy is None:
            offered = ", ".join(str(e) if isinstance(e, str) else e.spelling() for e in role.explanations) or "none"
            raise InputError(403, f"role {key.role!r} may not ask for explanation {spec!r}; allowed: {offered}")
        classes = data.get("classes")
        if classes is not None:
            if len(classes) not in (1, n) or not all(0 <= c < len(model.classes) for c in classes):
                raise InputError(422, f'"classes" must hold 1 or {n} class numbers from 0 to {len(model.classes) - 1}')
            classes = np.broadcast_to(np.asarray(classes, dtype=np.int64), (n,)).copy()
        return policy, classes

    def _maps(self, model: ServedModel, inputs, labels: list[str], policy, classes) -> list[dict]:
        """One explanation per input: the class it explains and the map, under the role's explanation policy."""
        from ..defences.explanations import apply_controls, raw_maps

        explained = np.array([model.classes.index(label) for label in labels])
        if classes is not None and policy.scope == "any":
            explained = classes
        with self._predict_lock:
            rng = self._map_rngs.setdefault((model.name, policy), np.random.default_rng(len(self._map_rngs)))
            maps = apply_controls(raw_maps(model.net, np.asarray(inputs, dtype=np.float32), explained, policy.method),
                                  policy, rng)
        return [{"method": policy.spelling(), "class": model.classes[int(c)], "map": [float(f"{v:.6g}") for v in m]}
                for c, m in zip(explained, maps)]

    def _answer(self, now: float, model: ServedModel, decision, inputs, log: dict, explanation=None,
                classes=None) -> Reply:
        import pandas as pd

        api_key = (model.name, decision.output)
        with self._predict_lock:
            if api_key not in self._apis:
                shape = {"input_size": N_PIXELS} if model.kind == "image" else {"columns": model.columns}
                self._apis[api_key] = ModelAPI(model.predict_proba, decision.output, class_names=model.classes, **shape)
            api = self._apis[api_key]
            x = inputs if model.kind == "image" else pd.DataFrame(inputs, columns=model.columns)
            results = api.respond(x)
        if model.kind == "image":
            sketches = sketch_images(inputs)
        else:
            sketches = sketch_records(inputs, model.columns, self.audit.digest)
        output = decision.output.kind
        if explanation is not None:
            for item, shown in zip(results, self._maps(model, inputs, [r["label"] for r in results], explanation, classes)):
                item["explanation"] = shown
            output = f"{output}+{explanation.spelling()}"
        reply = Reply(200, {"model": model.name, "output": decision.output.kind,
                            "output_detail": decision.output.describe(), "results": results})
        if explanation is not None:
            reply.payload["explanation_detail"] = explanation.describe()
        with self._record_lock:  # the detector sees requests in audit-log order; suspensions are atomic
            if decision.key_id in self.policy.suspended:  # suspended while this request was being computed
                refused = self._error(403, f"key suspended: {self.policy.suspended[decision.key_id]}")
                self._log(now, "predict", refused, n=len(results), **log)
                return refused
            request_id = self._log(now, "predict", reply, n=len(results), output=output,
                                   returned=[r["label"] for r in results], sketches=sketches, **log)
            alerts = self.detector.observe(decision.key_id, now, model.kind, sketches, output,
                                           labels=[r["label"] for r in results], source=source_of(log.get("client")))
            for alert in alerts:
                if self.policy.block_on_alert:
                    self.policy.suspend(alert.key_id, f"probing alert ({alert.rule}); ask an admin to review")
                self.audit.record_alert(alert.time, alert.key_id, alert.rule, alert.queries, alert.detail, request_id)
        reply.payload["request_id"] = request_id
        return reply

    def close(self) -> None:
        """Write the last summary rows of refusals without a key, and close the audit log."""
        try:
            self.flush_keyless()
        except AuditUnavailable:
            pass
        self.audit.close()


# ---------------------------------------------------------------- HTTP

def make_app(service: ModelService):
    """The FastAPI app (three endpoints and a catch-all, each a thin call into the service), inside a layer that logs
    every request the app itself did not (another method: 405; a path no route matches; an error)."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool

    app = FastAPI(title="Model Inversion Lab: model service", docs_url=None, redoc_url=None, openapi_url=None)

    def respond(reply: Reply, request: Request) -> JSONResponse:
        request.state.logged = True
        payload = {k: v for k, v in reply.payload.items() if k != "throttled"}
        return JSONResponse(payload, status_code=reply.status, headers=reply.headers)

    def caller(request: Request) -> tuple[str | None, str | None]:
        return secret_of(request.headers), (f"{request.client.host}:{request.client.port}" if request.client else None)

    @app.get("/health")
    async def health(request: Request):
        return respond(await run_in_threadpool(service.health, caller(request)[1]), request)

    @app.get("/v1/models")
    async def models(request: Request):
        return respond(await run_in_threadpool(service.describe_models, *caller(request)), request)

    @app.post("/v1/models/{model}/predict")
    async def predict(model: str, request: Request):
        secret, client = caller(request)
        declared = request.headers.get("content-length")
        declared = int(declared) if declared and declared.isdigit() else None
        refusal, limit = await run_in_threadpool(service.before_body, secret, model, client, declared)
        if refusal is not None:  # refused before a byte of the body is read
            return respond(refusal, request)
        chunks, size = [], 0
        stream, deadline = request.stream().__aiter__(), time.monotonic() + service.body_seconds
        while True:
            try:
                chunk = await asyncio.wait_for(stream.__anext__(), max(0.0, deadline - time.monotonic()))
            except StopAsyncIteration:
                break
            except asyncio.TimeoutError:  # a slow client: answered, logged, and its connection closed
                reply = respond(await run_in_threadpool(service.too_slow, secret, model, client), request)
                reply.headers["Connection"] = "close"
                return reply
            size += len(chunk)
            if size > limit:
                return respond(await run_in_threadpool(service.oversize, secret, model, client, limit), request)
            chunks.append(chunk)
        return respond(await run_in_threadpool(service.predict, secret, model, b"".join(chunks), client), request)

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
    async def anything_else(path: str, request: Request):
        secret, client = caller(request)
        return respond(await run_in_threadpool(service.not_found, request.method, "/" + path, client, secret), request)

    return CompleteLog(app, service)


def secret_of(headers) -> str | None:
    """The API key a request presents: X-API-Key, or an `Authorization: Bearer` token."""
    secret = headers.get("x-api-key")
    auth = headers.get("authorization", "")
    if secret is None and auth.lower().startswith("bearer "):
        secret = auth[7:].strip()
    return secret


class CompleteLog:
    """ASGI layer: any HTTP request the app answered without an audit row (405, unrouted path, 500) gets one."""

    def __init__(self, app, service: ModelService):
        self.app, self.service = app, service

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        from starlette.concurrency import run_in_threadpool
        from starlette.datastructures import Headers

        state = scope.setdefault("state", {})
        seen: dict = {}
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in scope.get("path", "")):
            # a control character in the decoded path (".../predict%0A"): no route may match it, whatever its
            # pattern's "$" allows before a trailing newline; answered 404 and logged as what it is
            client = f"{scope['client'][0]}:{scope['client'][1]}" if scope.get("client") else None
            raw = scope.get("raw_path") or scope["path"].encode("utf-8", "replace")  # logged as it was sent
            reply = await run_in_threadpool(self.service.not_found, scope.get("method", "?"),
                                            raw.decode("latin-1") if isinstance(raw, bytes) else str(raw), client,
                                            secret_of(Headers(scope=scope)))
            body = json.dumps({k: v for k, v in reply.payload.items() if k != "throttled"}).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            headers += [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in reply.headers.items()]
            await send({"type": "http.response.start", "status": reply.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return

        async def watch(message):
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            if not state.get("logged"):
                client = f"{scope['client'][0]}:{scope['client'][1]}" if scope.get("client") else None
                raw = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "replace")
                path = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
                status = seen.get("status", 500)
                await run_in_threadpool(self.service.log_other, scope.get("method", "?"), path, client,
                                        secret_of(Headers(scope=scope)), status)


def http_protocol(service: ModelService):
    """uvicorn's HTTP protocol, with the requests it refuses itself (malformed, 400) written to the audit log.

    Two limits no caller needs a key to hit: a request's headers must arrive within `service.header_seconds` of
    the connection opening or going idle (else it is closed: a slow-headers client holds nothing), and one address
    may hold at most `service.waiting_per_address` connections on which no request has arrived yet (beyond that,
    its oldest such connection is closed, so a caller who sends its request promptly always gets in). Both are counted like refusals without a key: in one audit row per address and minute.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    waiting: dict[str, dict] = {}  # address -> its connections with no request's headers yet, oldest first

    class LoggedH11Protocol(H11Protocol):
        _header_timer = None

        def _address(self) -> str:
            return self.client[0] if self.client else "unknown"

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._start_waiting()
            mine = waiting[self._address()]
            while len(mine) > service.waiting_per_address:  # the oldest gives way: a new caller always gets in
                oldest = next(iter(mine))
                oldest._refuse_quietly(f"{self._address()} held more than {service.waiting_per_address} connections "
                                       "with no request: the oldest closed", 429)

        def _start_waiting(self) -> None:
            waiting.setdefault(self._address(), {})[self] = None
            if self._header_timer is not None:
                self._header_timer.cancel()
            self._header_timer = self.loop.call_later(service.header_seconds, self._headers_too_slow)

        def _stop_waiting(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None
            mine = waiting.get(self._address())
            if mine is not None and self in mine:
                del mine[self]
                if not mine:
                    del waiting[self._address()]

        @property
        def _waiting(self) -> bool:
            return self in waiting.get(self._address(), ())

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self._waiting and not self.transport.is_closing():
                self._refuse_quietly(f"no complete request headers within {service.header_seconds:g} s: closed", 408)

        def _refuse_quietly(self, why: str, status: int) -> None:
            """Close the connection and count it in the address's row for this minute (no row of its own)."""
            self._stop_waiting()
            client = f"{self.client[0]}:{self.client[1]}" if self.client else None
            self.transport.close()
            try:
                self.loop.run_in_executor(None, service.log_http_error, client, why, status)
            except RuntimeError:  # the loop is closing
                pass

        def handle_events(self) -> None:
            super().handle_events()
            if self._waiting and self.conn.their_state is not h11.IDLE:  # a request's headers have arrived
                self._stop_waiting()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                self._start_waiting()  # idle on keep-alive: the next headers have the same deadline

        def connection_lost(self, exc) -> None:
            self._stop_waiting()
            super().connection_lost(exc)

        def send_400_response(self, msg: str) -> None:
            client = f"{self.client[0]}:{self.client[1]}" if getattr(self, "client", None) else None
            try:
                self.loop.run_in_executor(None, service.log_http_error, client, msg)
            except RuntimeError:  # the loop is closing: nothing more is logged
                pass
            super().send_400_response(msg)

    return LoggedH11Protocol


def listening_socket(port: int = 0, host: str = "127.0.0.1") -> socket.socket:
    """A listening socket on host, 127.0.0.1 by default (port 0: a free port chosen by the operating system)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # else small replies wait ~40 ms for a delayed ACK
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"Port {port} on {host} is not free or not this computer's ({exc.strerror}); pick another "
                      "with --port (0 for any free one) or --host.") from None
    sock.listen(128)
    return sock


class ServerHandle:
    """A running server: its URL, and `stop()` to shut it down (also on leaving a `with` block)."""

    def __init__(self, server, thread: threading.Thread, sock: socket.socket, service: ModelService):
        self._server, self._thread, self._sock, self.service = server, thread, sock, service
        host, port = sock.getsockname()[:2]
        self.url = f"http://{host}:{port}"

    @property
    def running(self) -> bool:
        """True while the server thread is alive."""
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, wait for the thread, close the socket and the audit log."""
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        self._sock.close()
        self.service.close()

    def __enter__(self) -> "ServerHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<model service at {self.url}, {'running' if self.running else 'stopped'}>"


def start_server(service: ModelService, host: str = "127.0.0.1", startup_timeout: float = 15.0,
                 trusted_proxy: str | None = None) -> ServerHandle:
    """Serve on a free port of 127.0.0.1 in a background thread; returns once the server answers.

    trusted_proxy: the address of a reverse proxy whose X-Forwarded-For the service believes (default: none).
    """
    if host not in ("127.0.0.1", "localhost"):
        raise ValueError(f"The lab serves on this computer only (127.0.0.1), not on {host!r}.")
    return start_app(make_app(service), service, listening_socket(0), startup_timeout, trusted_proxy)


def server_config(app, service, trusted_proxy: str | None = None):
    """uvicorn's settings for the service. The client address is the connection's own: X-Forwarded-For and similar
    headers are believed only from `trusted_proxy` (an address of a reverse proxy the operator runs), never by
    default — otherwise any caller could write any address into the audit log and dodge per-address limits."""
    import uvicorn

    return uvicorn.Config(app, http=http_protocol(service), log_level="warning", access_log=False, lifespan="off",
                          timeout_graceful_shutdown=5, proxy_headers=trusted_proxy is not None,
                          forwarded_allow_ips=trusted_proxy or "")


def start_app(app, service, sock: socket.socket, startup_timeout: float = 15.0,
              trusted_proxy: str | None = None) -> ServerHandle:
    """Run an ASGI app on a listening socket in a background thread (malformed requests logged by `service`)."""
    import uvicorn

    server = uvicorn.Server(server_config(app, service, trusted_proxy))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="lab06-model-service", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(5)
            sock.close()
            raise RuntimeError("The model service did not start; run it in a terminal with "
                               "`python -m lab_helpers serve` to see why.")
        time.sleep(0.02)
    return ServerHandle(server, thread, sock, service)


# ---------------------------------------------------------------- the lab's models and `python -m lab_helpers serve`

LAB_MODELS = ("faces", "patients")
LAB_KEYS = {"public-1": "public", "analyst-1": "analyst", "admin-1": "admin"}


def lab_models(names=LAB_MODELS, progress: bool = False) -> list[ServedModel]:
    """The lab 03 face model (softmax, overfit) and the lab 02 patient model (overfit forest), ready to serve."""
    unknown = sorted(set(names) - set(LAB_MODELS))
    if unknown or not names:
        raise ValueError(f"Unknown model(s) {unknown}; the lab serves: {', '.join(LAB_MODELS)}.")
    served = []
    if "faces" in names:
        from ..data.face_photos import load_faces
        from ..targets.face_classifiers import train_face_model

        served.append(face_endpoint(train_face_model(load_faces(seed=0), "softmax", progress=progress)))
    if "patients" in names:
        from ..data.synthetic_people import load_people
        from ..targets.forests import train_tabular_model

        data = load_people("healthcare")
        served.append(patient_endpoint(train_tabular_model(data, name="overfit"), data))
    return served


def serve_forever(service: ModelService, port: int = 8000, announce: Callable[[str], None] = print,
                  host: str = "127.0.0.1", app=None, trusted_proxy: str | None = None) -> None:
    """Serve on host:port (127.0.0.1 by default) in this thread until Ctrl-C (port 0: a free port); announce(url).

    app: another ASGI app to serve (the class target's), whose malformed requests `service` logs.
    trusted_proxy: the address of a reverse proxy whose X-Forwarded-For the service believes (default: none).
    """
    import uvicorn

    sock = listening_socket(port, host)
    shown = f"[{host}]" if ":" in host else host
    announce(f"http://{shown}:{sock.getsockname()[1]}")
    config = server_config(app or make_app(service), service, trusted_proxy)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        service.close()


# ---------------------------------------------------------------- one control at a time

@dataclass
class Scenario:
    """One run of the attacks against a fresh service: its controls, each attacker's outcome, its audit log."""

    name: str
    controls: dict
    outcomes: dict  # attacker's key id -> Outcome
    audit_path: Path


def run_scenario(name: str, served: list[ServedModel], attacks: dict, role: str = "public",
                 folder: str | Path | None = None, **controls) -> Scenario:
    """Start a fresh service with these controls, run each attacker's attack over HTTP with its own key, stop it.

    attacks maps an attacker's key id to (model name, attack function taking a `ModelAPI`-like client); the
    audit log goes to folder/scenario-<name>.sqlite (default: data/cache/lab06/).
    """
    from ..defences.audit import default_audit_path
    from .client import HttpModelAPI, run_until_refused

    policy = AccessPolicy(**controls)
    keys = {who: policy.issue_key(who, role) for who in attacks}
    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    path = Path(folder) / f"scenario-{slug}.sqlite" if folder is not None else default_audit_path(f"scenario-{slug}")
    service = ModelService(served, policy, path, fresh=True)
    outcomes = {}
    with start_server(service) as server:
        for who, (model, attack) in attacks.items():
            with HttpModelAPI(server.url, keys[who], model) as client:
                outcomes[who] = run_until_refused(attack, client)
    return Scenario(name, controls, outcomes, service.audit_path)

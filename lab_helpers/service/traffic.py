"""Simulated clients of the model service: ordinary users (cameras, clinicians, a ward dashboard) and their replay.

The detector and the rate limits are tested on this traffic: an ordinary user must not be flagged or refused.
Four benign patterns that look like probing to a naive detector (a fixed camera, an app that retries, a 24/7
dashboard, a monitor whose one vital sign drifts) are here too, and `Gateway`, the service's answer-and-watch
path without HTTP, for measuring detectors on a simulated clock in seconds.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..defences.access import DAY
from ..defences.monitoring import ORDINARY_ROLES, sketch_images, sketch_records

# ---------------------------------------------------------------- ordinary traffic (synthetic users)

@dataclass(frozen=True)
class TrafficEvent:
    """One request an ordinary user sends: when, who, to which model, what."""

    time: float
    user: str
    model: str
    inputs: object  # (n, 4096) images or a list of records


def camera_frames(faces, people: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Door-camera frames of these people: a random photo each, shifted, lit and noised a little."""
    frames = []
    for person in people:
        photos = np.flatnonzero(faces.labels == person)
        img = faces.images[rng.choice(photos)]
        img = np.roll(img, tuple(rng.integers(-2, 3, size=2)), axis=(0, 1))
        img = img * rng.uniform(0.85, 1.15) + rng.normal(0, 0.02, img.shape)
        frames.append(np.clip(img, 0, 1).astype(np.float32))
    return np.stack(frames).reshape(len(frames), -1)


def camera_user(faces, user: str, start: float, n_requests: int = 120, mean_gap: float = 240.0,
                seed: int = 0) -> list[TrafficEvent]:
    """A door camera: one to four frames a request, often the same person a few times in a row."""
    rng = np.random.default_rng(seed)
    events, t, person = [], start, int(rng.integers(faces.n_people))
    for _ in range(n_requests):
        t += rng.exponential(mean_gap)
        if rng.random() > 0.3:
            person = int(rng.integers(faces.n_people))
        events.append(TrafficEvent(t, user, "faces", camera_frames(faces, np.full(rng.integers(1, 5), person), rng)))
    return events


def clinician_user(data, user: str, start: float, n_requests: int = 120, mean_gap: float = 180.0,
                   seed: int = 0) -> list[TrafficEvent]:
    """A clinician: one to three patient records a request; now and then a re-send, or a typo fixed in one field."""
    rng = np.random.default_rng(seed)
    numeric = {c.name: c for c in data.framing.numeric}
    events, t, last = [], start, None
    for _ in range(n_requests):
        t += rng.exponential(mean_gap)
        roll = rng.random()
        if last is not None and roll < 0.05:  # the same records again
            records = [dict(r) for r in last]
        elif last is not None and roll < 0.10:  # one field corrected
            records = [dict(r) for r in last]
            column = str(rng.choice(list(numeric)))
            c = numeric[column]
            for r in records:
                r[column] = float(np.clip(round(r[column] + rng.choice([-1, 1]) * max(1, c.sd / 5), c.decimals), c.low, c.high))
        else:
            rows = rng.choice(data.test_idx, size=int(rng.integers(1, 4)), replace=False)
            records = data.frame[data.features].iloc[rows].to_dict("records")
        events.append(TrafficEvent(t, user, "patients", records))
        last = records
    return events


def dashboard_user(data, user: str, start: float, batch: int = 25, every_minutes: float = 5.0, hours: float = 8.0,
                   seed: int = 0) -> list[TrafficEvent]:
    """A ward dashboard: re-scores the ward's patients every few minutes; one is discharged and one admitted each time."""
    rng = np.random.default_rng(seed)
    pool = rng.permutation(data.test_idx)
    ward, admitted, events = list(pool[:batch]), batch, []
    for i in range(int(hours * 60 // every_minutes)):
        events.append(TrafficEvent(start + i * every_minutes * 60, user, "patients",
                                   data.frame[data.features].iloc[ward].to_dict("records")))
        ward[int(rng.integers(batch))] = pool[admitted % len(pool)]
        admitted += 1
    return events


def role_of(user: str) -> str:
    """The role an ordinary user's key has: cameras are public (labels only), clinicians and the dashboard analysts."""
    return next(role for prefix, role in ORDINARY_ROLES.items() if user.startswith(prefix))


def ordinary_traffic(faces, data, start: float, cameras: int = 3, clinicians: int = 2, dashboard: bool = True,
                     n_requests: int = 100, seed: int = 0, patterns: bool = False) -> list[TrafficEvent]:
    """A working day of ordinary users (door cameras, clinicians, a ward dashboard), merged in time order.

    patterns=True adds the four benign patterns of `benign_patterns` (24 hours each).
    """
    events = [e for pattern in benign_patterns(faces, data, start, seed).values() for e in pattern] if patterns else []
    for i in range(cameras):
        events += camera_user(faces, f"camera-{i + 1}", start, n_requests, seed=seed + i)
    for i in range(clinicians):
        events += clinician_user(data, f"clinician-{i + 1}", start, n_requests, seed=seed + 100 + i)
    if dashboard:
        events += dashboard_user(data, "ward-dashboard", start, seed=seed + 200)
    return sorted(events, key=lambda e: e.time)


def replay(url: str, secrets: dict[str, str], events: list[TrafficEvent], clock) -> Counter:
    """Send every event over HTTP at its (simulated) time: set the server's clock, then query. Returns status counts."""
    from tqdm.auto import tqdm

    from .client import ApiError, HttpModelAPI

    clients, statuses = {}, Counter()
    try:
        for event in tqdm(events, desc="ordinary traffic", leave=False):
            clock.now = event.time
            key = (event.user, event.model)
            if key not in clients:
                clients[key] = HttpModelAPI(url, secrets[event.user], event.model)
            try:
                clients[key].query(event.inputs)
                statuses[200] += 1
            except ApiError as exc:
                statuses[exc.status] += 1
    finally:
        for client in clients.values():
            client.close()
    return statuses


@dataclass(frozen=True)
class Dashboard:
    """A legitimate dashboard: a batch of `batch` queries every `every_minutes`, for `hours` a day."""

    batch: int = 25
    every_minutes: float = 5.0
    hours: float = 8.0

    @property
    def requests_per_day(self) -> int:
        """Refreshes in one working day."""
        return int(self.hours * 60 // self.every_minutes)

    @property
    def queries_per_day(self) -> int:
        """Queries it sends in one working day."""
        return self.requests_per_day * self.batch


def simulate_dashboard(limit, dashboard: Dashboard = Dashboard(), days: int = 2) -> dict:
    """Run a dashboard's schedule against a rate limit on a simulated clock: how many refreshes were refused."""
    from ..defences.access import AccessPolicy, Role, SimulatedClock
    from ..defences.output_policies import OutputPolicy

    clock = SimulatedClock()
    policy = AccessPolicy(roles={"dashboard": Role("dashboard", (OutputPolicy("rounded", decimals=2),), limit)},
                          clock=clock, max_batch=max(1, dashboard.batch))
    secret = policy.issue_key("dashboard", "dashboard")
    refused, statuses = 0, Counter()
    for day in range(days):
        clock.now = SimulatedClock().now + day * DAY
        for _ in range(dashboard.requests_per_day):
            status = policy.decide(secret, dashboard.batch).status
            statuses[status] += 1
            refused += status != 200
            clock.advance(dashboard.every_minutes * 60)
    return {"refreshes": days * dashboard.requests_per_day, "refused": refused, "statuses": dict(statuses)}


# ---------------------------------------------------------------- benign patterns a naive detector mistakes for probing

def fixed_camera_user(faces, user: str, start: float, hours: float = 24.0, every_minutes: float = 1.0,
                      person: int | None = None, seed: int = 0) -> list[TrafficEvent]:
    """A fixed camera (a reception desk): one frame a minute, all day, of the same scene and the same person.

    The frames are near-identical: one photo, a little sensor noise, and daylight that brightens and dims slowly.
    """
    rng = np.random.default_rng(seed)
    person = int(rng.integers(faces.n_people)) if person is None else int(person)
    scene = faces.images[rng.choice(np.flatnonzero(faces.labels == person))].astype(np.float32)
    events = []
    for i in range(int(hours * 60 // every_minutes)):
        t = start + i * every_minutes * 60
        daylight = 1.0 + 0.08 * np.sin(2 * np.pi * (t - start) / DAY)
        frame = np.clip(scene * daylight + rng.normal(0, 0.02, scene.shape), 0, 1).astype(np.float32)
        events.append(TrafficEvent(t, user, "faces", frame.reshape(1, -1)))
    return events


def retrying_app_user(faces, user: str, start: float, n_requests: int = 150, mean_gap: float = 300.0,
                      max_tries: int = 4, seed: int = 0) -> list[TrafficEvent]:
    """A check-in app on a flaky network: each photo is sent, then sent again (the same bytes) up to max_tries times."""
    rng = np.random.default_rng(seed)
    events, t = [], start
    for _ in range(n_requests):
        t += rng.exponential(mean_gap)
        photo = camera_frames(faces, [int(rng.integers(faces.n_people))], rng)
        for attempt in range(int(rng.integers(2, max_tries + 1))):
            events.append(TrafficEvent(t + attempt * float(rng.uniform(2, 10)), user, "faces", photo))
    return sorted(events, key=lambda e: e.time)


def vital_monitor_user(data, user: str, start: float, patients: int = 2, every_minutes: float = 5.0,
                       hours: float = 24.0, column: str = "systolic_bp", seed: int = 0) -> list[TrafficEvent]:
    """A bedside monitor: re-scores its patients every few minutes as one vital sign drifts slowly (a random walk).

    Every record differs from the one before in that one field only: a benign one-attribute-at-a-time pattern.
    """
    rng = np.random.default_rng(seed)
    numeric = {c.name: c for c in data.framing.numeric}
    if column not in numeric:
        raise ValueError(f"{column!r} is not a numeric field; numeric fields: {', '.join(numeric)}.")
    c = numeric[column]
    rows = rng.choice(data.test_idx, size=patients, replace=False)
    records = [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
               for r in data.frame[data.features].iloc[rows].to_dict("records")]
    events = []
    for i in range(int(hours * 60 // every_minutes)):
        events.append(TrafficEvent(start + i * every_minutes * 60, user, "patients", [dict(r) for r in records]))
        for r in records:
            step = float(rng.choice([-2, -1, 0, 1, 2]))
            r[column] = float(np.clip(round(r[column] + step, c.decimals), c.low, c.high))
    return events


def benign_patterns(faces, data, start: float, seed: int = 0) -> dict[str, list[TrafficEvent]]:
    """The four benign patterns, one user each, over 24 hours: fixed camera, retrying app, 24/7 dashboard, monitor."""
    return {"fixed camera": fixed_camera_user(faces, "camera-fixed", start, seed=seed + 300),
            "retrying app": retrying_app_user(faces, "app-checkin", start, seed=seed + 400),
            "24/7 dashboard": dashboard_user(data, "ward-dashboard-24h", start, hours=24.0, seed=seed + 500),
            "drifting monitor": vital_monitor_user(data, "monitor-bed-4", start, seed=seed + 600)}


# ---------------------------------------------------------------- the service's watch path, in-process

class Gateway:
    """The service's answer, detect and suspend path without HTTP, for fast measurements on a simulated clock.

    Each key gets a `WatchedAPI` (`gateway.key(...)`), with the same `.query` / `.queries` as `ModelAPI`. Every
    answered request is shown to the detector with its labels and source, as the service does; with
    `block_on_alert`, a key named in an alert is refused (403) from its next request on, as the service does.
    """

    def __init__(self, detector, clock=None, block_on_alert: bool = False, digest=None):
        from functools import lru_cache, partial

        from ..defences.access import SimulatedClock
        from ..defences.audit import keyed_digest

        self.detector, self.block_on_alert = detector, block_on_alert
        self.clock = clock if clock is not None else SimulatedClock()
        self.digest = digest or lru_cache(maxsize=100_000)(partial(keyed_digest, b"in-process gateway"))
        self.suspended: dict[str, str] = {}
        self.journal: list[dict] = []  # one row per request: as the audit log's requests table
        self.alerts: list[dict] = []  # one row per alert: as the audit log's alerts table

    def key(self, key_id: str, api, kind: str = "image", columns=None, source: str | None = None,
            max_batch: int = 100, output: str | None = None) -> WatchedAPI:
        """One key's client: `api` is the ModelAPI (its policy is what this key sees).

        api=None with output='rounded' (say): the detector sees the requests as answered at that output, but no
        model runs (its answers are zeros) -- for traffic whose answers no rule reads, at a fraction of the time.
        """
        return WatchedAPI(self, api, key_id, kind, columns, source, max_batch, output)

    def requests(self):
        """The requests so far as a DataFrame with the audit log's columns (id, time, key_id, status, n_inputs...)."""
        import pandas as pd

        return pd.DataFrame(self.journal, columns=["id", "time", "endpoint", "key_id", "status", "n_inputs", "output"])

    def alert_frame(self):
        """The alerts so far as a DataFrame with the audit log's columns (time, key_id, rule, queries, request_id)."""
        import pandas as pd

        return pd.DataFrame(self.alerts, columns=["time", "key_id", "rule", "queries", "detail", "request_id"])


class WatchedAPI:
    """One API key's view of an in-process `Gateway`: answers under the ModelAPI's policy, watched by the detector."""

    def __init__(self, gateway: Gateway, api, key_id: str, kind: str = "image", columns=None,
                 source: str | None = None, max_batch: int = 100, output: str | None = None):
        if kind not in ("image", "record"):
            raise ValueError(f"kind must be 'image' or 'record' (got {kind!r}).")
        if kind == "record" and not columns:
            raise ValueError("A 'record' key needs columns=[...], the fields its records have.")
        if api is None and output is None:
            raise ValueError("Without a model (api=None) say which output the key gets, e.g. output='rounded'.")
        self.output = output if api is None else api.policy.kind
        self.gateway, self.api, self.key_id, self.kind = gateway, api, key_id, kind
        self.columns, self.source, self.max_batch = list(columns or []), source, int(max_batch)
        self.queries = 0
        self.requests = 0

    def _send(self, chunk):
        import pandas as pd

        from .client import ApiError

        gw = self.gateway
        if self.key_id in gw.suspended:
            gw.journal.append({"id": len(gw.journal) + 1, "time": gw.clock(), "endpoint": "predict", "key_id": self.key_id,
                                   "status": 403, "n_inputs": len(chunk), "output": None})
            raise ApiError(403, f"key suspended: {gw.suspended[self.key_id]}")
        if self.api is not None:
            numbers, scores = self.api.answer(chunk if self.kind == "image" else pd.DataFrame(chunk, columns=self.columns))
            names = self.api.class_names or [str(i) for i in range(scores.shape[1])]
            labels = [names[int(i)] for i in numbers]
        else:
            numbers, labels, scores = np.zeros(0, dtype=np.int64), None, np.zeros((len(chunk), 0))
        if self.kind == "image":
            sketches = sketch_images(np.asarray(chunk))
        else:
            sketches = sketch_records(chunk, self.columns, gw.digest)
        now, output = gw.clock(), self.output
        request_id = len(gw.journal) + 1
        gw.journal.append({"id": request_id, "time": now, "endpoint": "predict", "key_id": self.key_id, "status": 200,
                               "n_inputs": len(chunk), "output": output})
        self.queries += len(chunk)
        self.requests += 1
        for alert in gw.detector.observe(self.key_id, now, self.kind, sketches, output,
                                         labels=labels, source=self.source):
            gw.alerts.append(alert.__dict__ | {"request_id": request_id})
            if gw.block_on_alert:
                gw.suspended.setdefault(alert.key_id, f"probing alert ({alert.rule})")
        return numbers, scores

    def answer(self, x) -> tuple[np.ndarray, np.ndarray]:
        """(labels, scores) as `ModelAPI.answer` gives them, through the watched gateway."""
        parts = self._send_all(x)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def query(self, x) -> np.ndarray:
        """Answer a batch (one row per query), in requests of at most max_batch inputs, as the HTTP client does."""
        return np.concatenate([scores for _, scores in self._send_all(x)])

    def _send_all(self, x) -> list:
        """Send a batch in requests of at most max_batch inputs: [(labels, scores)] per request."""
        import pandas as pd

        if self.kind == "record":  # records as a list of dicts (a DataFrame is slow to build per request)
            rows = [x] if isinstance(x, dict) else x.to_dict("records") if isinstance(x, pd.DataFrame) else list(x)
            chunks = [rows[i:i + self.max_batch] for i in range(0, len(rows), self.max_batch)]
        else:
            arr = np.asarray(x, dtype=np.float32).reshape(-1, 4096)
            chunks = [arr[i:i + self.max_batch] for i in range(0, len(arr), self.max_batch)]
        return [self._send(chunk) for chunk in chunks]

    def reset_count(self) -> None:
        """Start counting queries from zero."""
        self.queries = self.requests = 0


def watch_traffic(events: list[TrafficEvent], detector, face_model=None, data=None, patient_model=None,
                  block_on_alert: bool = False, source: str | dict | None = None) -> Gateway:
    """Run ordinary users' events through an in-process gateway on a simulated clock, each key at its role's output.

    Public keys (cameras) get labels only, analyst keys (clinicians, dashboards, apps, monitors) rounded scores, as
    the service gives them with every control on. Face requests are answered by face_model (the detector reads
    their labels); patient records need data=... for their fields and are answered by patient_model only when
    given (no rule reads a record's answer, and a forest is slow). Returns the gateway: requests, alerts, suspensions.
    source: every user's network address (one address: everyone behind one NAT), or {user: address}.
    """
    from ..defences.access import ROLES, SimulatedClock
    from .api import ModelAPI
    from .client import ApiError

    gateway = Gateway(detector, SimulatedClock(), block_on_alert)
    clients = {}
    for event in sorted(events, key=lambda e: e.time):
        gateway.clock.now = event.time
        if (event.user, event.model) not in clients:
            output = ROLES[role_of(event.user)].default_output
            where = source.get(event.user) if isinstance(source, dict) else source
            if event.model == "faces":
                if face_model is None:
                    raise ValueError("Face traffic needs face_model=...")
                api = ModelAPI(face_model.predict_proba, output, input_size=4096)
                clients[event.user, event.model] = gateway.key(event.user, api, "image", source=where)
            else:
                if data is None:
                    raise ValueError("Patient traffic needs data=... (the patients' fields).")
                api = None if patient_model is None else ModelAPI(
                    getattr(patient_model, "model", patient_model).predict_proba, output, columns=data.features,
                    class_names=data.class_names)
                clients[event.user, event.model] = gateway.key(event.user, api, "record", data.features, where,
                                                               output=output.kind)
        try:
            clients[event.user, event.model].query(event.inputs)
        except ApiError:
            pass  # refused (suspended): recorded in the gateway's journal
    return gateway

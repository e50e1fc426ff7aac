"""Catching probing in the audit log: input sketches, a rule-based detector, and ordinary traffic to test it on.

The detector keeps a little state per API key and raises an alert when a key's traffic looks like an
attack: bursts of near-duplicate inputs (gradient estimation, as in black-box MI-FACE), one-attribute-at-
a-time sweeps (the lab 02 probing loop) or a heavy volume of score-bearing answers. It runs online in the
service and offline over a saved log, with the same result.
"""
from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

THUMB = 8  # image sketches are 8x8 block averages of the 64x64 image
RULES = ("near_duplicates", "one_attribute_sweep", "heavy_scores")
DAY = 86_400.0


# ---------------------------------------------------------------- sketches: what the log keeps of an input

def sketch_images(images: np.ndarray) -> list[str]:
    """Each image as an 8x8 thumbnail of block averages, 0-255, in hex: close images give close sketches."""
    x = np.asarray(images, dtype=np.float32).reshape(-1, 64, 64)
    thumbs = x.reshape(len(x), THUMB, 64 // THUMB, THUMB, 64 // THUMB).mean(axis=(2, 4))
    return [bytes(row).hex() for row in np.clip(np.rint(thumbs * 255), 0, 255).astype(np.uint8).reshape(len(x), -1)]


def thumbnails(sketches: Iterable[str]) -> np.ndarray:
    """Image sketches back to an (n, 64) array of 0-255 values."""
    return np.array([np.frombuffer(bytes.fromhex(s), dtype=np.uint8) for s in sketches], dtype=np.float32)


def canonical(value) -> str:
    """One text form per value, so 70 and 70.0 sketch the same."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return repr(float(value))
    return str(value)


def sketch_records(records: list[dict], columns: list[str], digest: Callable[[bytes, int], str]) -> list[str]:
    """Each record as one short keyed digest per field ('a1b2c3.d4e5f6...'): which fields differ, not their values."""
    return [".".join(digest(f"{c}={canonical(r[c])}".encode(), 6) for c in columns) for r in records]


# ---------------------------------------------------------------- the detector

@dataclass(frozen=True)
class Alert:
    """One key flagged by one rule, after how many answered queries."""

    time: float
    key_id: str
    rule: str
    queries: int
    detail: str


@dataclass
class _KeyState:
    queries: int = 0
    images: deque = field(default_factory=deque)
    record_flags: deque = field(default_factory=deque)
    record_memory: deque = field(default_factory=deque)
    seen: dict = field(default_factory=dict)  # masked record -> Counter of the masked field's values
    scores: deque = field(default_factory=deque)  # (time, queries answered with scores)
    fired: set = field(default_factory=set)


@dataclass
class Detector:
    """Three probing rules over each key's answered requests; each rule alerts once per key."""

    near_duplicate_window: int = 50  # the key's last 50 images ...
    near_duplicate_share: float = 0.6  # ... of which this share has a near-duplicate among the others
    near_duplicate_distance: float = 3.0  # mean absolute thumbnail difference (0-255 scale) counted as "near"
    sweep_window: int = 100  # the key's last 100 records ...
    sweep_count: int = 30  # ... of which this many differ from an earlier record in exactly one field
    sweep_memory: int = 5_000  # how many earlier records a sweep is compared with
    max_scores_per_day: int = 5_000  # score-bearing answers per key in any 24 hours
    states: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if not 0 < self.near_duplicate_share <= 1:
            raise ValueError(f"near_duplicate_share must be in (0, 1] (got {self.near_duplicate_share}).")
        for name in ("near_duplicate_window", "sweep_window", "sweep_count", "sweep_memory", "max_scores_per_day"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a whole number, 1 or more (got {getattr(self, name)!r}).")

    def observe(self, key_id: str, time: float, kind: str, sketches: list[str], output: str) -> list[Alert]:
        """Take in one answered request (kind 'image' or 'record') and return any new alerts."""
        state = self.states.setdefault(key_id, _KeyState())
        state.queries += len(sketches)
        found = []
        if kind == "image":
            found.append(self._near_duplicates(state, sketches))
        elif kind == "record":
            found.append(self._sweep(state, sketches))
        found.append(self._heavy_scores(state, time, len(sketches), output))
        alerts = []
        for rule, detail in (f for f in found if f):
            if rule not in state.fired:
                state.fired.add(rule)
                alerts.append(Alert(time, key_id, rule, state.queries, detail))
        return alerts

    def _near_duplicates(self, state: _KeyState, sketches: list[str]):
        state.images.extend(thumbnails(sketches))
        while len(state.images) > self.near_duplicate_window:
            state.images.popleft()
        if len(state.images) < self.near_duplicate_window:
            return None
        window = np.stack(state.images)
        distance = np.abs(window[:, None, :] - window[None, :, :]).mean(axis=2)
        np.fill_diagonal(distance, np.inf)
        share = float((distance.min(axis=1) <= self.near_duplicate_distance).mean())
        if share >= self.near_duplicate_share:
            return "near_duplicates", (f"{share:.0%} of the last {len(window)} images are near-duplicates of "
                                       "another (gradient estimation looks like this)")
        return None

    def _sweep(self, state: _KeyState, sketches: list[str]):
        for sketch in sketches:
            fields = sketch.split(".")
            masked = [(i, ".".join(fields[:i] + fields[i + 1:])) for i in range(len(fields))]
            variant = any(set(state.seen.get(m, ())) - {fields[i]} for i, m in masked)
            for i, m in masked:
                state.seen.setdefault(m, Counter())[fields[i]] += 1
            state.record_memory.append([(m, fields[i]) for i, m in masked])
            if len(state.record_memory) > self.sweep_memory:
                for m, value in state.record_memory.popleft():
                    state.seen[m][value] -= 1
                    if state.seen[m][value] <= 0:
                        del state.seen[m][value]
                    if not state.seen[m]:
                        del state.seen[m]
            state.record_flags.append(variant)
            if len(state.record_flags) > self.sweep_window:
                state.record_flags.popleft()
        count = sum(state.record_flags)
        if count >= self.sweep_count:
            return "one_attribute_sweep", (f"{count} of the last {len(state.record_flags)} records differ from an "
                                           "earlier one in exactly one attribute (a probing sweep looks like this)")
        return None

    def _heavy_scores(self, state: _KeyState, time: float, n: int, output: str):
        if output == "label":
            return None
        state.scores.append((time, n))
        while state.scores and state.scores[0][0] <= time - DAY:
            state.scores.popleft()
        total = sum(k for _, k in state.scores)
        if total > self.max_scores_per_day:
            return "heavy_scores", f"{total:,} answers with confidence scores in 24 hours (limit {self.max_scores_per_day:,})"
        return None


def scan_log(path, detector: Detector | None = None):
    """Replay a saved audit log through a fresh detector: the alerts it raises, as a DataFrame."""
    import pandas as pd

    from .audit import read_requests, read_sketches

    detector = detector or Detector()
    requests = read_requests(path)
    answered = requests[(requests["status"] == 200) & (requests["endpoint"] == "predict")]
    by_request = read_sketches(path).groupby("request_id")["sketch"].apply(list)
    alerts = []
    for row in answered.itertuples():
        sketches = by_request.get(row.id, [])
        kind = "image" if sketches and "." not in sketches[0] else "record"
        alerts += [a.__dict__ | {"request_id": row.id}
                   for a in detector.observe(row.key_id, row.time, kind, sketches, row.output)]
    return pd.DataFrame(alerts, columns=["time", "key_id", "rule", "queries", "detail", "request_id"])


def detection_summary(requests, alerts, attackers: Iterable[str] = ()):
    """Per key: queries answered, the first alert (rule, after how many queries), and whether it is an attacker."""
    import pandas as pd

    attackers = set(attackers)
    answered = requests[(requests["status"] == 200) & (requests["endpoint"] == "predict")]
    rows = []
    for key_id, mine in answered.groupby("key_id", sort=False):
        flagged = alerts[alerts["key_id"] == key_id].sort_values("queries")
        first = flagged.iloc[0] if len(flagged) else None
        rows.append({"key": key_id, "attacker": key_id in attackers, "requests": len(mine),
                     "queries": int(mine["n_inputs"].sum()), "first alert": None if first is None else first["rule"],
                     "queries until alert": None if first is None else int(first["queries"]),
                     "alerts": len(flagged)})
    return pd.DataFrame(rows)


def first_flag(rule: Callable, requests, key_id: str) -> int | None:
    """Run a rule of your own over one key's answered requests, in order: the queries answered when it first fires."""
    mine = requests[(requests["key_id"] == key_id) & (requests["status"] == 200) & (requests["endpoint"] == "predict")]
    mine = mine.reset_index(drop=True)
    total = mine["n_inputs"].cumsum()
    for i in range(len(mine)):
        if rule(mine.iloc[: i + 1]):
            return int(total.iloc[i])
    return None


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


ORDINARY_ROLES = {"camera": "public", "clinician": "analyst", "ward-dashboard": "analyst"}


def role_of(user: str) -> str:
    """The role an ordinary user's key has: cameras are public (labels only), clinicians and the dashboard analysts."""
    return next(role for prefix, role in ORDINARY_ROLES.items() if user.startswith(prefix))


def ordinary_traffic(faces, data, start: float, cameras: int = 3, clinicians: int = 2, dashboard: bool = True,
                     n_requests: int = 100, seed: int = 0) -> list[TrafficEvent]:
    """A working day of ordinary users (door cameras, clinicians, a ward dashboard), merged in time order."""
    events = []
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

    from .http_client import ApiError, HttpModelAPI

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
    from .access_policy import AccessPolicy, Role, SimulatedClock
    from .defences import OutputPolicy

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

"""Simulated clients of the model service: ordinary users (cameras, clinicians, a ward dashboard) and their replay.

The detector and the rate limits are tested on this traffic: an ordinary user must not be flagged or refused.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..defences.access import DAY
from ..defences.monitoring import ORDINARY_ROLES

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
    from ..defences.output import OutputPolicy

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

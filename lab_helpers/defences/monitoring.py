"""Catching probing in the audit log: input sketches and a rule-based detector.

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

from .access import DAY

THUMB = 8  # image sketches are 8x8 block averages of the 64x64 image
RULES = ("near_duplicates", "one_attribute_sweep", "heavy_scores")


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


ORDINARY_ROLES = {"camera": "public", "clinician": "analyst", "ward-dashboard": "analyst"}

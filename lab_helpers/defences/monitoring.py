"""Catching probing in the audit log: input sketches and two rule-based detectors.

`BaselineDetector` (also importable as `Detector`, the service's default) is the kit's first detector: a
little state per API key, an alert when a key's traffic looks like an attack: bursts of near-duplicate
inputs (gradient estimation, as in black-box MI-FACE), one-attribute-at-a-time sweeps (the lab 02 probing
loop) or a heavy volume of score-bearing answers. An attacker who knows those rules slips past them (a
random offset on every probe, a slow pace, several keys), and some ordinary clients trip them (a fixed
camera, an app that retries, a 24/7 dashboard, a drifting vital sign).

`AdaptiveDetector` is built for that attacker and those clients: it counts per key *and* across the keys
of one source, ignores exact repeats (they tell the caller nothing new), and its rules look at what an
inversion attack cannot do without: many answers with scores about one identity, a dense cloud of probes
around one slowly moving image, many different people each swept in one field. Both run online in the
service and offline over a saved log (`scan_log`), with the same result.
"""
from __future__ import annotations

import json
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np

from .access import DAY

THUMB = 8  # image sketches are 8x8 block averages of the 64x64 image
RULES = ("near_duplicates", "one_attribute_sweep", "heavy_scores")  # the baseline detector's rules
ADAPTIVE_RULES = ("identity_focus", "probe_cloud", "swept_people", "new_scores")  # the adaptive detector's rules


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
class BaselineDetector:
    """The kit's first detector: three probing rules over each key's answered requests; each alerts once per key.

    It is kept as the baseline the adaptive detector is measured against (`Detector` is the same class). What it
    misses: an attacker who adds a random offset to every 8x8 block of every probe (no two sketches are within
    `near_duplicate_distance`), stays under `max_scores_per_day` on each of several keys, and paces itself.
    What it flags by mistake: a fixed camera and an app that retries (near-duplicates), a 24/7 dashboard
    (heavy scores, though it re-sends the same patients), a monitor whose one vital sign drifts (a sweep).
    """

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

    def observe(self, key_id: str, time: float, kind: str, sketches: list[str], output: str,
                labels: Sequence[str] | None = None, source: str | None = None) -> list[Alert]:
        """Take in one answered request (kind 'image' or 'record') and return any new alerts.

        `labels` (the answers' top labels) and `source` (the caller's network address) are ignored here: this
        detector looks at one key at a time and at the inputs only.
        """
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


# ---------------------------------------------------------------- the adaptive detector

def low_frequency(sketches: Iterable[str]) -> np.ndarray:
    """Image sketches as 4x4 block means (16x16-pixel blocks, 0-255 scale), each minus its own mean brightness.

    Coarser than the sketch on purpose: a random offset on each 8x8 block mostly averages out over four blocks,
    and a change of overall brightness (daylight on a fixed camera) drops out with the mean.
    """
    t = thumbnails(sketches).reshape(-1, 4, 2, 4, 2).mean(axis=(2, 4)).reshape(-1, 16)
    return t - t.mean(axis=1, keepdims=True)


class _Window:
    """Counts in a sliding time window, in total and per key: add (time, key, n), purge what is older."""

    def __init__(self):
        self.events: deque = deque()
        self.total = 0
        self.per_key: Counter = Counter()

    def add(self, time: float, key_id: str, n: int) -> None:
        self.events.append((time, key_id, n))
        self.total += n
        self.per_key[key_id] += n

    def purge(self, since: float) -> None:
        while self.events and self.events[0][0] <= since:
            _, key_id, n = self.events.popleft()
            self.total -= n
            self.per_key[key_id] -= n
            if self.per_key[key_id] <= 0:
                del self.per_key[key_id]


@dataclass
class _Scope:
    """What the adaptive detector remembers about one key, or about all the keys of one source."""

    seen: dict = field(default_factory=dict)  # sketch -> last time asked (exact repeats are not new)
    seen_log: deque = field(default_factory=deque)  # (time, sketch), to forget after a day
    identity: dict = field(default_factory=dict)  # predicted identity -> _Window of score-bearing answers
    centres: np.ndarray = field(default_factory=lambda: np.empty((0, 16), dtype=np.float32))
    tracks: list = field(default_factory=list)  # one _Window per centre: probes that joined it
    last_used: list = field(default_factory=list)  # per centre: when a probe last joined it
    values: dict = field(default_factory=dict)  # record minus one field -> {that field's value: time}
    value_log: deque = field(default_factory=deque)  # (time, base, value)
    swept: dict = field(default_factory=dict)  # record minus one field, asked with 2+ values -> (time, key id)
    new_scores: _Window = field(default_factory=_Window)  # score-bearing answers to inputs not asked before


@dataclass
class AdaptiveDetector:
    """Four probing rules, each counted per key *and* across all the keys of one source; each alerts once per key.

    Exact repeats of an input the key (or source) sent in the last 24 hours are not counted by any rule: a
    repeat tells the caller nothing new (only noisy answers make repeats worth sending). Across keys, the
    thresholds are `source_factor` times the per-key ones, and an alert names every key that gave at least
    `min_share` of the count that crossed the line. Each answer's predicted labels and the caller's source come
    with the request (`observe(..., labels=..., source=...)`; the service passes both); without labels the identity
    rule is off, without a source all keys count as one source.

    What it cannot see: an attacker slow enough, with enough keys on enough networks, to stay under every
    count (a limit is a price, not a wall); a white-box attacker who has the weights and never queries; and a
    client with scores that points at one person all day (a fixed camera given scores) looks to the identity
    rule like an attacker on that person -- give such clients labels only.
    """

    identity_per_day: int = 500  # score-bearing image answers with the same predicted identity in any 24 hours
    cloud_radius: float = 6.0  # RMS distance (0-255 scale) of a probe's low-frequency sketch to a probe cloud's centre
    cloud_size: int = 300  # probes joining one cloud ...
    cloud_seconds: float = 3_600.0  # ... within this many seconds
    cloud_follow: float = 0.05  # how far a cloud's centre moves towards each probe that joins it
    max_clouds: int = 64  # clouds remembered per key or source (the least recently used is forgotten)
    swept_people: int = 30  # different records, each asked with 2+ values of one field, in any 24 hours
    max_new_scores_per_day: int = 5_000  # score-bearing answers to inputs not asked in the last 24 hours
    source_factor: float = 2.0  # thresholds across the keys of one source, as a multiple of the per-key ones
    min_share: float = 0.05  # a cross-key alert names the keys that gave at least this share of the count
    segment_prefix: int | None = None  # count sources by network segment (IPv4 /prefix, IPv6 /64), None: by address
    window: float = DAY
    states: dict = field(default_factory=dict, repr=False)  # ("key", id) or ("source", address) -> _Scope
    queries: Counter = field(default_factory=Counter, repr=False)  # per key: queries answered
    fired: dict = field(default_factory=dict, repr=False)  # per key: the rules that alerted

    def __post_init__(self):
        for name in ("identity_per_day", "cloud_size", "max_clouds", "swept_people", "max_new_scores_per_day"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a whole number, 1 or more (got {getattr(self, name)!r}).")
        for name in ("cloud_radius", "cloud_seconds", "window", "source_factor"):
            if not np.isfinite(getattr(self, name)) or getattr(self, name) <= 0:
                raise ValueError(f"{name} must be a number above 0 (got {getattr(self, name)!r}).")
        for name in ("cloud_follow", "min_share"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1] (got {getattr(self, name)!r}).")
        if self.segment_prefix is not None and (not isinstance(self.segment_prefix, int)
                                                or not 8 <= self.segment_prefix <= 32):
            raise ValueError(f"segment_prefix must be a whole number of bits from 8 to 32, e.g. 24, or None "
                             f"(got {self.segment_prefix!r}).")

    # ---- one answered request
    def observe(self, key_id: str, time: float, kind: str, sketches: list[str], output: str,
                labels: Sequence[str] | None = None, source: str | None = None) -> list[Alert]:
        """Take in one answered request (kind 'image' or 'record') and return any new alerts.

        labels: the answer's top label for each input (None: the identity rule is off for this request);
        source: the caller's network address (None: every key counts as one source); with `segment_prefix`, its
        network segment is the source (e.g. every address of 192.0.2.0/24 counts as one).
        """
        if source and self.segment_prefix:
            source = network_segment(source, self.segment_prefix)
        self.queries[key_id] += len(sketches)
        scored = output != "label"
        found = []
        for scope_kind, name, factor in (("key", key_id, 1.0), ("source", source or "any", self.source_factor)):
            scope = self.states.setdefault((scope_kind, name), _Scope())
            fresh = self._fresh(scope, time, sketches)
            where = ("key", name) if scope_kind == "key" else ("source", name)
            if kind == "image" and scored and labels is not None:
                new_labels = [label for label, f in zip(labels, fresh) if f]
                found += self._identity_focus(scope, time, key_id, new_labels, factor, where)
            new = [sketch for sketch, f in zip(sketches, fresh) if f]
            if kind == "image":
                found += self._probe_cloud(scope, time, key_id, new, factor, where)
            elif kind == "record":
                found += self._swept_people(scope, time, key_id, new, factor, where)
            if scored:
                found += self._new_scores(scope, time, key_id, sum(fresh), factor, where)
        alerts = []
        for rule, detail, keys in found:
            for k in sorted(keys):
                fired = self.fired.setdefault(k, set())
                if rule not in fired:
                    fired.add(rule)
                    alerts.append(Alert(time, k, rule, int(self.queries[k]), detail))
        return alerts

    def _keys(self, per_key: Counter, limit: float, where: tuple) -> set:
        """Whom an alert names: the keys that gave at least min_share of the count that crossed `limit`.

        For a key's own count that is the key. Across keys, an ordinary user of the same network with a few answers
        in the same count is not named; when no key gave that much (very many keys, each a little), the alert names
        the source itself, as 'source:<address>'.
        """
        total = sum(per_key.values())
        keys = {k for k, n in per_key.items() if n > 0 and n >= self.min_share * total}
        return keys or {f"source:{where[1]}"}

    @staticmethod
    def _who(where: tuple, per_key: Counter) -> str:
        """'key k' or 'N key(s) from source s', for an alert's detail."""
        kind, name = where
        return f"key {name}" if kind == "key" else f"{len(+per_key)} key(s) from source {name}"

    def _fresh(self, scope: _Scope, time: float, sketches: list[str]) -> list[bool]:
        """Which inputs were not asked in this scope in the last 24 hours (and remember them)."""
        while scope.seen_log and scope.seen_log[0][0] <= time - self.window:
            old_time, sketch = scope.seen_log.popleft()
            if scope.seen.get(sketch) == old_time:
                del scope.seen[sketch]
        fresh = []
        for sketch in sketches:
            fresh.append(sketch not in scope.seen)
            scope.seen[sketch] = time
            scope.seen_log.append((time, sketch))
        return fresh

    def _identity_focus(self, scope: _Scope, time: float, key_id: str, labels: list, factor: float, where: tuple):
        """Rule 'identity_focus': many answers with scores about one person.

        In plain words: an attacker rebuilding a face needs thousands of answers with confidence scores for
        images the model sees as one identity (here all its probes are near-grey images the model gives one
        label). An ordinary user's scored answers spread over the people it meets. Counted over any 24 hours,
        per key and across the keys of one source, new inputs only.
        """
        out = []
        for label, n in Counter(map(str, labels)).items():
            window = scope.identity.setdefault(label, _Window())
            window.purge(time - self.window)
            window.add(time, key_id, n)
            limit = self.identity_per_day * factor
            if window.total >= limit:
                detail = (f"{self._who(where, window.per_key)}: {window.total:,} answers with scores predicted as "
                          f"identity {label} in 24 hours (limit {limit:,.0f}); rebuilding a face looks like this")
                out.append(("identity_focus", detail, self._keys(window.per_key, limit, where)))
        return out

    def _probe_cloud(self, scope: _Scope, time: float, key_id: str, sketches: list[str], factor: float, where: tuple):
        """Rule 'probe_cloud': a dense cloud of probes around one slowly moving image.

        In plain words: gradient estimation asks about many small variations of the same image, and the image
        moves only a little between steps. Each probe's coarse low-frequency sketch (4x4 blocks, brightness
        removed) joins the nearest cloud within `cloud_radius`, whose centre then follows it a little; a random
        offset on each 8x8 block mostly averages out at this scale, so randomised probes still join. An alert
        when one cloud gathers `cloud_size` probes within `cloud_seconds`. A fixed camera sends near-identical
        frames too, but one a minute: its cloud never fills that fast.
        """
        if not sketches:
            return []
        touched = set()
        for probe in low_frequency(sketches):
            if len(scope.centres):
                distance = np.sqrt(((scope.centres - probe) ** 2).mean(axis=1))
                j = int(distance.argmin())
            if not len(scope.centres) or distance[j] > self.cloud_radius:
                if len(scope.centres) >= self.max_clouds:  # forget the least recently used cloud
                    j = int(np.argmin(scope.last_used))
                    scope.centres[j], scope.tracks[j] = probe, _Window()
                else:
                    scope.centres = np.vstack([scope.centres, probe[None]])
                    scope.tracks.append(_Window())
                    scope.last_used.append(time)
                    j = len(scope.centres) - 1
            else:
                scope.centres[j] += self.cloud_follow * (probe - scope.centres[j])
            scope.last_used[j] = time
            touched.add(j)
            scope.tracks[j].add(time, key_id, 1)
        out, limit = [], self.cloud_size * factor
        for j in touched:
            track = scope.tracks[j]
            track.purge(time - self.cloud_seconds)
            if track.total >= limit:
                detail = (f"{self._who(where, track.per_key)}: {track.total:,} probes within {self.cloud_radius:g} of "
                          f"one slowly moving image in {self.cloud_seconds / 60:g} minutes (limit {limit:,.0f}); "
                          "gradient estimation looks like this, random offsets or not")
                out.append(("probe_cloud", detail, self._keys(track.per_key, limit, where)))
        return out

    def _swept_people(self, scope: _Scope, time: float, key_id: str, sketches: list[str], factor: float, where: tuple):
        """Rule 'swept_people': many different people, each asked about with two or more values of one field.

        In plain words: attribute inference (lab 02) takes a person's record and tries every value of the hidden
        field, for person after person. A ward monitor whose blood pressure drifts also changes one field at a
        time, but for the same one or two patients all day; a clinician fixing a typo does it a few times a day.
        So count *people* (records with one field masked) swept, not one-field changes.
        """
        while scope.value_log and scope.value_log[0][0] <= time - self.window:
            _, base, value = scope.value_log.popleft()
            values = scope.values.get(base)
            if values is not None and values.get(value, time) <= time - self.window:
                del values[value]
                if not values:
                    del scope.values[base]
        for base in [b for b, (t, _) in scope.swept.items() if t <= time - self.window]:
            del scope.swept[base]
        for sketch in sketches:
            fields = sketch.split(".")
            for i in range(len(fields)):
                base = f"{i}:" + ".".join(fields[:i] + fields[i + 1:])
                values = scope.values.setdefault(base, {})
                values[fields[i]] = time
                scope.value_log.append((time, base, fields[i]))
                if len(values) >= 2 and base not in scope.swept:
                    scope.swept[base] = (time, key_id)
        limit = self.swept_people * factor
        if len(scope.swept) >= limit:
            counts = Counter(k for _, k in scope.swept.values())
            detail = (f"{self._who(where, counts)}: {len(scope.swept)} different records each asked with 2 or more "
                      f"values of one field in 24 hours (limit {limit:,.0f}); attribute inference looks like this")
            return [("swept_people", detail, self._keys(counts, limit, where))]
        return []

    def _new_scores(self, scope: _Scope, time: float, key_id: str, n: int, factor: float, where: tuple):
        """Rule 'new_scores': a heavy volume of answers with scores to inputs never asked before.

        In plain words: the baseline's heavy-scores rule, but a dashboard that re-scores the same patients all
        day (exact repeats) is not counted: only new inputs carry new information.
        """
        scope.new_scores.purge(time - self.window)
        if n:
            scope.new_scores.add(time, key_id, n)
        limit = self.max_new_scores_per_day * factor
        if scope.new_scores.total > limit:
            detail = (f"{self._who(where, scope.new_scores.per_key)}: {scope.new_scores.total:,} answers with scores "
                      f"to new inputs in 24 hours (limit {limit:,.0f})")
            return [("new_scores", detail, self._keys(scope.new_scores.per_key, limit, where))]
        return []


def network_segment(address: str, prefix: int = 24) -> str:
    """The network an address belongs to: '192.0.2.77' -> '192.0.2.0/24' (IPv6: its /64); anything else unchanged."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    bits = prefix if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


def source_of(client: str | None) -> str | None:
    """The network address of a logged client ('127.0.0.1:52114' -> '127.0.0.1'), None when unknown."""
    if not client or not isinstance(client, str):
        return None
    host, _, port = client.rpartition(":")
    return host if host and port.isdigit() else client


Detector = BaselineDetector  # the service's default detector, under its original name


def scan_log(path, detector: BaselineDetector | AdaptiveDetector | None = None, keys=None):
    """Replay a saved audit log through a fresh detector: the alerts it raises, as a DataFrame.

    Each request goes in with its answer's labels and the caller's address, as the log recorded them. Its sketches
    are opened with the day keys in the log's key folder (`keys`, default: where the service keeps them); requests
    whose day key was destroyed are skipped.
    """
    import pandas as pd

    from .audit import read_requests, read_sketches

    detector = detector or BaselineDetector()
    requests = read_requests(path)
    answered = requests[(requests["status"] == 200) & (requests["endpoint"] == "predict")]
    by_request = read_sketches(path, keys).groupby("request_id")["sketch"].apply(list)
    alerts = []
    for row in answered.itertuples():
        sketches = by_request.get(row.id, [])
        if any(s is None for s in sketches):
            continue  # sealed under a day key since destroyed: nobody can read it any more
        kind = "image" if sketches and "." not in sketches[0] else "record"
        labels = json.loads(row.returned) if isinstance(row.returned, str) and row.returned else None
        alerts += [a.__dict__ | {"request_id": row.id}
                   for a in detector.observe(row.key_id, row.time, kind, sketches, row.output, labels=labels,
                                             source=source_of(row.client))]
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


ORDINARY_ROLES = {"camera": "public", "clinician": "analyst", "ward-dashboard": "analyst", "app": "analyst",
                  "monitor": "analyst"}


def time_to_detection(requests, alerts, keys: Iterable[str]) -> dict | None:
    """The first alert on any of these keys, and how long it took: None when none of them was flagged.

    requests and alerts are the audit log's tables (`read_requests`, `read_alerts` or `scan_log`; a `Gateway`'s
    `requests()` and `alert_frame()`). Returns the rule, the key, the queries those keys had answered by then
    (together) and the minutes from their first answered request to the alert.
    """
    keys = set(keys)
    flagged = alerts[alerts["key_id"].isin(keys)]
    if not len(flagged):
        return None
    first = flagged.sort_values(["request_id", "time"]).iloc[0]
    mine = requests[requests["key_id"].isin(keys) & (requests["status"] == 200) & (requests["endpoint"] == "predict")]
    before = mine[mine["id"] <= first["request_id"]]
    return {"rule": first["rule"], "key": first["key_id"], "queries": int(before["n_inputs"].sum()),
            "minutes": float((first["time"] - mine["time"].min()) / 60)}

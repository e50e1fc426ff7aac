"""An adaptive attacker: the kit's black-box MI-FACE, built to slip past a probing detector that it knows.

Three tricks, each one the lab 06 detector's rules invite, all going through the same query-counting API
(an in-process `ModelAPI`, a `Gateway` key, or `HttpModelAPI` over HTTP):

- **randomised probes**: a random offset on every 8x8 block of every probe, so no two probes have close
  sketches (the audit log keeps 8x8 block averages; the baseline's near-duplicate rule compares those);
- **pacing**: requests spread over (simulated) time, each key under a daily budget of answers;
- **rotation**: the requests go round several API keys, so each key's count stays small.

`ProbeRouter` does the three tricks for any attack that calls `.query(x)`; `evade_black_box` runs the kit's
NES gradient estimate (`estimate_gradient`) through it and, unlike `invert_black_box`, keeps the faces it has
when the service stops answering. Everything is bounded: the attack in queries per person, the router in
answered queries (`max_queries`) and simulated days (`Pacing.max_days`).
"""
from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from ..defences.access import DAY
from ..service.client import ApiError
from .mi_face import (
    N_PIXELS,
    SIDE,
    NesWorkspace,
    Reconstructions,
    check_identities,
    dct_basis,
    estimate_gradient,
    start_images,
)

BLOCK = 8  # the audit log's sketch averages 8x8-pixel blocks


class AttackStopped(RuntimeError):
    """The router cannot send the next request: every key refused, or a bound (queries, days) is reached."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Pacing:
    """How an attacker spends its keys over time: requests of `batch` inputs, `gap_seconds` apart (over all keys),
    each key at most `per_key_per_day` answered inputs in any 24 hours (None: no cap), for at most `max_days`."""

    batch: int = 100
    gap_seconds: float = 60.0
    per_key_per_day: int | None = 4_500  # under the baseline detector's 5,000 score-bearing answers a day
    max_days: float = 30.0

    def __post_init__(self):
        if not isinstance(self.batch, int) or self.batch < 1:
            raise ValueError(f"batch must be a whole number of inputs, 1 or more (got {self.batch!r}).")
        if not np.isfinite(self.gap_seconds) or self.gap_seconds < 0:
            raise ValueError(f"gap_seconds must be 0 or more (got {self.gap_seconds!r}).")
        if self.per_key_per_day is not None and (not isinstance(self.per_key_per_day, int)
                                                 or self.per_key_per_day < self.batch):
            raise ValueError(f"per_key_per_day must be None or a whole number, at least the batch ({self.batch}); "
                             f"got {self.per_key_per_day!r}.")
        if not np.isfinite(self.max_days) or self.max_days <= 0:
            raise ValueError(f"max_days must be a number of days above 0 (got {self.max_days!r}).")


NAIVE = Pacing(batch=100, gap_seconds=1.0, per_key_per_day=None)  # the kit's attack: one key, as fast as it can


def block_offsets(images: np.ndarray, offset: float, rng: np.random.Generator) -> np.ndarray:
    """Each image plus its own random offset, uniform in [-offset, offset], on every 8x8 block; pixels kept in [0, 1]."""
    x = np.asarray(images, dtype=np.float32).reshape(-1, SIDE, SIDE)
    if offset <= 0:
        return x.reshape(-1, N_PIXELS)
    blocks = SIDE // BLOCK
    noise = rng.uniform(-offset, offset, size=(len(x), blocks, blocks)).astype(np.float32)
    noise = np.repeat(np.repeat(noise, BLOCK, axis=1), BLOCK, axis=2)
    return np.clip(x + noise, 0.0, 1.0).reshape(-1, N_PIXELS)


class ProbeRouter:
    """The attacker's side of the API: randomises image probes, paces requests and rotates them over several keys.

    apis maps a key's name to a client with `.query(x)` (ModelAPI, a Gateway key, HttpModelAPI). The router
    itself offers `.query(x)` and `.queries`, so any attack runs through it unchanged. With a `clock` (the
    simulated clock the service or gateway reads), it sets `clock.now` before each request, as `replay` does.
    A key refused with 401/403 is dropped; a 429 makes that key wait its Retry-After. When no key is left,
    or a bound is reached, `.query` raises `AttackStopped`.
    """

    def __init__(self, apis: Mapping[str, object], clock=None, pacing: Pacing = Pacing(), offset: float = 0.03,
                 seed: int = 0, max_queries: int | None = None, max_refusals: int = 1_000):
        if not apis:
            raise ValueError("The router needs at least one key: apis={'key name': client, ...}.")
        if not np.isfinite(offset) or not 0 <= offset <= 0.5:
            raise ValueError(f"offset must be a pixel value from 0 to 0.5 (got {offset!r}); the review used 0.03.")
        self.apis, self.clock, self.pacing, self.offset = dict(apis), clock, pacing, float(offset)
        self.max_queries, self.max_refusals = max_queries, max_refusals
        self.rng = np.random.default_rng(seed)
        self.live = list(self.apis)
        self.started = float(clock()) if clock is not None else 0.0
        self.now = self.started
        self._next = 0  # the key whose turn it is
        self._sent_any = False
        self._history = {k: deque() for k in self.apis}  # (time, n) answered per key, for the daily budget
        self._wait_until = dict.fromkeys(self.apis, -np.inf)  # after a 429
        self.queries = 0  # inputs answered, over all keys
        self.per_key: Counter = Counter()
        self.log: list[tuple[float, str, int]] = []  # (time, key, inputs answered), one per answered request
        self.refusals: Counter = Counter()  # HTTP status -> count
        self.dropped: dict[str, str] = {}  # key -> why it was dropped

    @property
    def elapsed_days(self) -> float:
        """Simulated days from the first request to the last."""
        return (self.now - self.started) / DAY

    def _earliest(self, key: str, n: int, t: float) -> float:
        """The first time from t at which `key` may send n more inputs under its daily budget and any Retry-After."""
        t = max(t, self._wait_until[key])
        cap = self.pacing.per_key_per_day
        if cap is None:
            return t
        history = self._history[key]
        while history and history[0][0] <= t - DAY:
            history.popleft()
        used = sum(k for _, k in history)
        for sent_at, k in history:  # wait until enough of the last 24 hours has slid out
            if used + n <= cap:
                break
            used -= k
            t = max(t, sent_at + DAY + 1e-3)
        return t

    def _send(self, chunk, labels: bool = False):
        for _ in range(self.max_refusals):
            if not self.live:
                raise AttackStopped("every key refused (" + ", ".join(sorted(set(self.dropped.values()))) + ")")
            if self.max_queries is not None and self.queries + len(chunk) > self.max_queries:
                raise AttackStopped(f"query bound ({self.max_queries:,}) reached")
            base = self.now + self.pacing.gap_seconds if self._sent_any else self.now
            order = [self.live[(self._next + i) % len(self.live)] for i in range(len(self.live))]
            times = [self._earliest(k, len(chunk), base) for k in order]
            best = int(np.argmin(times))  # the first key in rotation order that may send soonest
            key, t = order[best], times[best]
            if t - self.started > self.pacing.max_days * DAY:
                raise AttackStopped(f"time bound ({self.pacing.max_days:g} days) reached")
            self.now, self._sent_any = t, True
            if self.clock is not None:
                self.clock.now = t
            try:
                answer = self.apis[key].answer(chunk) if labels else np.asarray(self.apis[key].query(chunk))
            except ApiError as exc:
                self.refusals[exc.status] += 1
                if exc.status == 429 and exc.retry_after:
                    self._wait_until[key] = t + exc.retry_after
                    continue
                self.dropped[key] = f"HTTP {exc.status}"
                self.live.remove(key)
                self._next = self._next % max(1, len(self.live))
                continue
            self._history[key].append((t, len(chunk)))
            self.queries += len(chunk)
            self.per_key[key] += len(chunk)
            self.log.append((t, key, len(chunk)))
            self._next = (self.live.index(key) + 1) % len(self.live)
            return answer
        raise AttackStopped(f"{self.max_refusals:,} refusals in a row")

    def query(self, x) -> np.ndarray:
        """Answer a batch of queries (one row each): image rows get block offsets; requests of `pacing.batch`."""
        import pandas as pd

        b = self.pacing.batch
        if isinstance(x, (pd.DataFrame, dict)):
            rows = pd.DataFrame([x]) if isinstance(x, dict) else x.reset_index(drop=True)
            chunks = [rows.iloc[i:i + b] for i in range(0, len(rows), b)]
        else:
            arr = block_offsets(x, self.offset, self.rng)
            chunks = [arr[i:i + b] for i in range(0, len(arr), b)]
        return np.concatenate([self._send(chunk) for chunk in chunks])

    def answer(self, x) -> tuple[np.ndarray, np.ndarray]:
        """(labels, scores) for a batch of images, as `ModelAPI.answer` gives them, through the router's tricks."""
        arr = block_offsets(x, self.offset, self.rng)
        b = self.pacing.batch
        parts = [self._send(arr[i:i + b], labels=True) for i in range(0, len(arr), b)]
        return (np.concatenate([np.asarray(labels) for labels, _ in parts]),
                np.concatenate([np.asarray(scores) for _, scores in parts]))

    def time_of(self, queries: int) -> float | None:
        """Simulated seconds from the first request until `queries` inputs had been answered (None: never)."""
        total = 0
        for t, _, n in self.log:
            total += n
            if total >= queries:
                return t - self.started
        return None


@dataclass
class EvasionRun(Reconstructions):
    """The faces an evading attack has, why it stopped (`stopped`, '' when it spent its budget), and what it spent,
    per key and in (simulated) time: the router that sent its requests."""

    router: ProbeRouter | None = field(default=None, repr=False)

    @property
    def answered(self) -> int:
        """Inputs answered over all keys."""
        return self.router.queries

    @property
    def stopped_by(self) -> str:
        """'finished', or why the attack stopped: 'every key refused (HTTP 403)', 'time bound (...) reached', ..."""
        return self.stopped or "finished"

    @property
    def per_key(self) -> dict:
        """Inputs answered per key."""
        return dict(self.router.per_key)

    @property
    def days(self) -> float:
        """Simulated days the attack took."""
        return self.router.elapsed_days

    def __repr__(self) -> str:
        keys = ", ".join(f"{k}: {n:,}" for k, n in self.per_key.items())
        return (f"<EvasionRun {self.stopped_by} after {self.answered:,} queries ({keys}) over "
                f"{self.days:.2f} simulated days>")


def evade_black_box(apis: Mapping[str, object] | ProbeRouter, identities=None, *, queries_per_person: int = 2_000,
                    offset: float = 0.03, pacing: Pacing = Pacing(), clock=None, seed: int = 0,
                    max_queries: int | None = None, probes: int = 50, sigma: float = 0.5, step_size: float = 3.0,
                    l2_weight: float = 0.005, low_freq: int = 24, progress: bool = False,
                    on_step: Callable[[int, ProbeRouter], None] | None = None) -> EvasionRun:
    """Black-box MI-FACE (the kit's NES step) through randomised, paced probes rotated over several keys.

    With offset=0, one key and `NAIVE` pacing it sends what `invert_black_box` sends. The attack stops after
    `queries_per_person` per person, or earlier when the router raises `AttackStopped` (every key refused,
    `max_queries` answered, `pacing.max_days` used); either way the result holds the faces it had (iterate-averaged,
    as `invert_black_box` returns them).

    Parameters
    ----------
    apis : key name -> client (`QueryAPI`), or a ready `ProbeRouter`.
    identities : person numbers to rebuild (default: all 40).
    queries_per_person : the budget; no person gets more.
    offset : the random offset on every 8x8 block of every probe (0: none, the naive attack's probes).
    pacing : requests' size, spacing over (simulated) time, and each key's daily cap.
    clock : the simulated clock the service or gateway reads (the router moves it).
    seed : fixes every random choice of the attack.
    max_queries : a bound on inputs answered over all keys (None: no bound).
    probes, sigma, step_size, l2_weight, low_freq : the NES step, as in `invert_black_box`.
    progress : show a progress bar.
    on_step : called after each step with (step number, router), e.g. to watch the detector.
    """
    from tqdm.auto import tqdm

    ids = check_identities(identities)
    per_step = 2 * probes
    if queries_per_person < per_step:
        raise ValueError(f"queries_per_person must be at least {per_step} (2 x probes={probes}); "
                         f"got {queries_per_person}.")
    router = apis if isinstance(apis, ProbeRouter) else ProbeRouter(apis, clock, pacing, offset, seed, max_queries)
    generator, basis = torch.Generator().manual_seed(seed), dct_basis(low_freq)
    workspace = NesWorkspace(len(ids), probes, basis, generator)
    x, average, stopped = start_images(len(ids)), None, ""
    began = time.perf_counter()
    for step in tqdm(range(1, queries_per_person // per_step + 1), desc="evading MI-FACE", disable=not progress,
                     leave=False):
        try:
            grad = estimate_gradient(router, x, ids, workspace.new_directions(), sigma, workspace)
        except AttackStopped as exc:
            stopped = exc.reason
            break
        x = (x + step_size * (grad - l2_weight * (x - 0.5))).clamp(0, 1)
        average = x.clone() if average is None else 0.9 * average + 0.1 * x  # iterate averaging
        if on_step is not None:
            on_step(step, router)
    images = (x if average is None else average).numpy().reshape(-1, SIDE, SIDE)
    seconds = time.perf_counter() - began
    strategy = (f"NES through {len(router.apis)} key(s), block offsets ±{router.offset:g}, "
                f"{router.pacing.batch} inputs per request")
    return EvasionRun(images, ids, seconds, queries=router.queries // len(ids), stopped=stopped,
                      attack="evasion", strategy=strategy, router=router)

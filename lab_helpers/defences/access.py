"""Who may ask the model what, how often and in how much detail: API keys, roles, rate limits and daily quotas.

Plain Python with an injectable clock, so every decision is testable without a server: the HTTP layer
(`serving.py`) only turns a `Decision` into a status code.
"""
from __future__ import annotations

import hashlib
import math
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from .output_policies import POLICIES, OutputPolicy

DAY = 86_400.0  # seconds


@dataclass(frozen=True)
class RateLimit:
    """Per-key limits in queries (one input row = one query): a burst, a sustained rate and a daily quota."""

    burst: int = 20
    per_minute: float = 20.0
    per_day: int = 1_000

    def __post_init__(self):
        if not isinstance(self.burst, int) or self.burst < 1:
            raise ValueError(f"burst must be a whole number of queries, 1 or more (got {self.burst!r}).")
        if not (isinstance(self.per_minute, (int, float)) and math.isfinite(self.per_minute) and self.per_minute > 0):
            raise ValueError(f"per_minute must be a number of queries above 0 (got {self.per_minute!r}).")
        if not isinstance(self.per_day, int) or self.per_day < self.burst:
            raise ValueError(f"per_day must be a whole number of queries, at least the burst ({self.burst}); "
                             f"got {self.per_day!r}.")

    def per_day_capacity(self) -> int:
        """The most queries one key can get answered in one day under this limit."""
        return int(min(self.per_day, self.burst + self.per_minute * 24 * 60))

    def days_needed(self, queries: int) -> float:
        """How many days an attacker holding one key needs to send this many queries."""
        by_rate = max(0.0, queries - self.burst) / (self.per_minute * 24 * 60)
        return max(queries / self.per_day, by_rate)

    def describe(self) -> str:
        """e.g. 'burst 20, 20 per minute, 1,000 per day'."""
        return f"burst {self.burst:,}, {self.per_minute:g} per minute, {self.per_day:,} per day"


@dataclass(frozen=True)
class Role:
    """A kind of caller: the output detail it may ask for (the first is its default) and its rate limit."""

    name: str
    outputs: tuple[OutputPolicy, ...]
    limit: RateLimit
    explanations: tuple = ()  # the explanations it may ask for (spellings or ExplanationPolicy), e.g. ("gradient",)
    explanations_per_day: int | None = None  # explained inputs per key and day, a quota apart (None: only `limit`)

    def __post_init__(self):
        quota = self.explanations_per_day
        if quota is not None and (not isinstance(quota, int) or quota < 1):
            raise ValueError(f"explanations_per_day must be a whole number, 1 or more, or None (got {quota!r}); "
                             "it counts explained inputs per key and day.")

    def explanation(self, spec: str):
        """The role's explanation policy of that spelling (or, for 'true', its first), None when it may not have it."""
        from .explanations import parse_explanation

        allowed = [parse_explanation(e) for e in self.explanations]
        if spec in (True, "true", "default"):
            return allowed[0] if allowed else None
        return next((e for e in allowed if e.spelling() == parse_explanation(spec).spelling()), None)

    @property
    def default_output(self) -> OutputPolicy:
        """The output policy used when a request does not ask for one."""
        return self.outputs[0]

    def output(self, kind: str | None) -> OutputPolicy | None:
        """The role's policy of that kind (None when the role may not see it)."""
        if kind is None:
            return self.default_output
        return next((p for p in self.outputs if p.kind == kind), None)


ROLES = {
    "public": Role("public", (OutputPolicy("label"),), RateLimit(burst=20, per_minute=20, per_day=1_000)),
    "analyst": Role("analyst", (OutputPolicy("rounded", decimals=2), OutputPolicy("top_k", k=3),
                                OutputPolicy("label_score"), OutputPolicy("label")),
                    RateLimit(burst=100, per_minute=100, per_day=10_000)),
    "admin": Role("admin", (OutputPolicy("probabilities"), OutputPolicy("rounded", decimals=2), OutputPolicy("top_k", k=3),
                            OutputPolicy("label_score"), OutputPolicy("label"), OutputPolicy("noisy", noise_scale=0.05)),
                  RateLimit(burst=100, per_minute=600, per_day=100_000)),
}
FULL_DETAIL = OutputPolicy("probabilities")
# refused requests (401, 403, 404, 413, 422, 429...) one client address may cause: a burst, then one a second
REFUSAL_LIMIT = RateLimit(burst=120, per_minute=60, per_day=100_000)


def refusal_source(address: str | None, key_id: str | None) -> str | None:
    """Whom refusals are counted against: the client's address together with the valid key it presented ('-' for no
    key or an unknown one). Keyless callers at an address share one count; a valid key has its own."""
    return None if not address else f"{address} {key_id or '-'}"


def hash_secret(secret: str) -> str:
    """What the policy stores instead of a key's secret (SHA-256, hex)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    """One caller's identity: a public key id (logged) and its role; the secret itself is never stored."""

    key_id: str
    role: str
    secret_hash: str


@dataclass
class TokenBucket:
    """Tokens refill at `rate` per second up to `capacity`; a request of n queries takes n tokens."""

    capacity: float
    rate: float
    tokens: float
    updated: float

    def wait(self, n: int, now: float) -> float:
        """Take n tokens and return 0, or take nothing and return the seconds until n tokens are there.

        A clock that steps back refills nothing and freezes nothing: the bucket counts from the new time.
        """
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= n:
            self.tokens -= n
            return 0.0
        return (n - self.tokens) / self.rate


@dataclass(frozen=True)
class Decision:
    """The verdict on one request: an HTTP-style status, the reason, and what the caller may see."""

    status: int
    reason: str
    key_id: str | None = None
    role: str | None = None
    output: OutputPolicy | None = None
    retry_after: int | None = None

    @property
    def allowed(self) -> bool:
        """True when the request may be answered."""
        return self.status == 200


class SimulatedClock:
    """A clock you set by hand (seconds since 1970), for replaying a day of traffic in seconds."""

    def __init__(self, now: float = 1_767_600_000.0):  # a Monday, 08:00 UTC
        self.now = float(now)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move the clock forward and return the new time."""
        self.now += float(seconds)
        return self.now


@dataclass
class AccessPolicy:
    """Keys, roles, limits and suspensions; every control can be switched off to measure what it buys."""

    roles: dict[str, Role] = field(default_factory=lambda: dict(ROLES))
    rate_limits: bool = True
    granularity: bool = True
    block_on_alert: bool = False
    max_batch: int = 100
    clock: Callable[[], float] = time.time  # wall time: daily quotas, the audit log
    monotonic: Callable[[], float] | None = None  # bursts and rates (None: time.monotonic with the real clock, else `clock`)
    refusal_limit: RateLimit | None = REFUSAL_LIMIT  # refused requests per address and key (None: not limited)

    def __post_init__(self):
        if not isinstance(self.max_batch, int) or self.max_batch < 1:
            raise ValueError(f"max_batch must be a whole number of inputs, 1 or more (got {self.max_batch!r}).")
        self._keys: dict[str, ApiKey] = {}  # secret hash -> key
        self._by_id: dict[str, ApiKey] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._used_today: dict[str, tuple[int, int]] = {}  # key id -> (day number, queries answered)
        self._explained_today: dict[str, tuple[int, int]] = {}  # key id -> (day number, inputs explained)
        self._refusals: dict[str, TokenBucket] = {}  # refusal_source(address, key) -> its refusal bucket
        self._restored: set[str] = set()  # key ids with queries today before a restart
        self.suspended: dict[str, str] = {}  # key id -> reason
        self._lock = threading.Lock()
        if self.monotonic is None:
            self.monotonic = time.monotonic if self.clock is time.time else self.clock

    # ---- keys
    def issue_key(self, key_id: str, role: str, secret: str | None = None) -> str:
        """Create a key for a role and return its secret (shown once; only its hash is kept)."""
        if role not in self.roles:
            raise ValueError(f"Unknown role {role!r}. Roles: {', '.join(self.roles)}.")
        if key_id in self._by_id:
            raise ValueError(f"A key with id {key_id!r} exists already; pick another id.")
        secret = secret or "lab-" + secrets.token_urlsafe(18)
        if hash_secret(secret) in self._keys:
            raise ValueError("That secret is in use by another key; leave secret=None for a fresh random one.")
        key = ApiKey(key_id, role, hash_secret(secret))
        self._keys[key.secret_hash] = self._by_id[key_id] = key
        return secret

    def adopt_key(self, key_id: str, role: str, secret_hash: str) -> None:
        """Register a key issued earlier (by its id, role and stored secret hash): a class's keys across rounds."""
        if role not in self.roles:
            raise ValueError(f"Unknown role {role!r}. Roles: {', '.join(self.roles)}.")
        if key_id in self._by_id or secret_hash in self._keys:
            raise ValueError(f"A key with id {key_id!r} (or that secret) exists already.")
        key = ApiKey(key_id, role, secret_hash)
        self._keys[secret_hash] = self._by_id[key_id] = key

    @property
    def keys(self) -> dict[str, str]:
        """Key id -> role, for every issued key (no secrets)."""
        return {k.key_id: k.role for k in self._by_id.values()}

    def identify(self, secret: str | None) -> ApiKey | None:
        """The key a secret belongs to, or None."""
        return self._keys.get(hash_secret(secret)) if secret else None

    # ---- what a role may see and send
    def limit_for(self, key: ApiKey) -> RateLimit | None:
        """The key's rate limit, or None when rate limits are switched off."""
        return self.roles[key.role].limit if self.rate_limits else None

    def batch_limit(self, key: ApiKey) -> int:
        """The most inputs one request from this key may carry."""
        limit = self.limit_for(key)
        return min(self.max_batch, limit.burst) if limit else self.max_batch

    def allowed_outputs(self, key: ApiKey) -> tuple[str, ...]:
        """The output kinds this key may ask for."""
        return POLICIES if not self.granularity else tuple(p.kind for p in self.roles[key.role].outputs)

    def output_for(self, key: ApiKey, kind: str | None) -> OutputPolicy | None:
        """The output policy the key gets for a requested kind (None: not allowed for its role)."""
        if not self.granularity:
            return FULL_DETAIL if kind is None else self.roles["admin"].output(kind) or OutputPolicy(kind)
        return self.roles[key.role].output(kind)

    def authorise(self, secret: str | None, n_inputs: int, output: str | None = None) -> Decision:
        """Who is asking and may they ask this: 401 unknown key, 403 not allowed, 413 oversize batch."""
        key = self.identify(secret)
        if key is None:
            return Decision(401, "missing or unknown API key: send it in the X-API-Key header")
        who = dict(key_id=key.key_id, role=key.role)
        if output is not None and output not in POLICIES:
            return Decision(422, f"unknown output {output!r}; valid outputs: {', '.join(POLICIES)}", **who)
        if key.key_id in self.suspended:
            return Decision(403, f"key suspended: {self.suspended[key.key_id]}", **who)
        policy = self.output_for(key, output)
        if policy is None:
            return Decision(403, f"role {key.role!r} may not ask for output {output!r}; allowed: "
                                 f"{', '.join(self.allowed_outputs(key))}", **who)
        if n_inputs > self.batch_limit(key):
            return Decision(413, f"a batch of {n_inputs} inputs is over this key's limit of {self.batch_limit(key)} "
                                 "per request: split it into smaller batches", **who)
        return Decision(200, "ok", output=policy, **who)

    # ---- how often
    def _bucket(self, key: ApiKey, limit: RateLimit, now: float) -> TokenBucket:
        bucket = self._buckets.get(key.key_id)
        if bucket is None:  # a key that had queries before a restart starts empty: a restart refills nothing
            start = 0.0 if key.key_id in self._restored else limit.burst
            bucket = self._buckets[key.key_id] = TokenBucket(limit.burst, limit.per_minute / 60, start, now)
        return bucket

    def _day(self, key_id: str, now: float) -> tuple[int, int]:
        """Today's day number for this key and its queries so far: a clock stepped back never starts a new day."""
        day = int(now // DAY)
        seen_day, used = self._used_today.get(key_id, (day, 0))
        if day < seen_day:  # the clock went back across midnight: keep counting the later day
            return seen_day, used
        return day, (used if seen_day == day else 0)

    def admit(self, decision: Decision, n_inputs: int, now: float | None = None) -> Decision:
        """Apply the key's burst, sustained rate and daily quota to an authorised request (429 when over)."""
        if not decision.allowed:
            return decision
        now = self.clock() if now is None else now
        key = self._by_id[decision.key_id]
        limit = self.limit_for(key)
        with self._lock:
            day, used = self._day(key.key_id, now)
            if limit is not None:
                if used + n_inputs > limit.per_day:
                    wait = (day + 1) * DAY - now
                    return Decision(429, f"daily quota of {limit.per_day:,} queries used ({used:,} so far today); "
                                         "it resets at 00:00 UTC", decision.key_id, decision.role,
                                    retry_after=max(1, math.ceil(wait)))
                tick = self.monotonic()
                wait = self._bucket(key, limit, tick).wait(n_inputs, tick)
                if wait > 0:
                    return Decision(429, f"rate limit: {limit.describe()}; slow down", decision.key_id, decision.role,
                                    retry_after=max(1, math.ceil(wait)))
            self._used_today[key.key_id] = (day, used + n_inputs)
        return decision

    def admit_explanations(self, decision: Decision, n_inputs: int, now: float | None = None) -> Decision:
        """Apply the role's explanation quota (explained inputs per key and day, apart from the query quota): 429 when
        over. Call it after `admit`, for requests that ask for explanations."""
        if not decision.allowed or not n_inputs:
            return decision
        now = self.clock() if now is None else now
        key = self._by_id[decision.key_id]
        quota = self.roles[key.role].explanations_per_day
        with self._lock:
            day, used = self._count(self._explained_today, key.key_id, now)
            if quota is not None and used + n_inputs > quota:
                return Decision(429, f"daily explanation quota of {quota:,} explained inputs used ({used:,} so far "
                                     "today); answers without explanations are still allowed; it resets at 00:00 UTC",
                                decision.key_id, decision.role, retry_after=max(1, math.ceil((day + 1) * DAY - now)))
            self._explained_today[key.key_id] = (day, used + n_inputs)
        return decision

    def refund_explanations(self, decision: Decision, n_inputs: int, now: float | None = None) -> None:
        """Give back what `admit_explanations` took for a request that was then not answered."""
        if not decision.allowed or decision.key_id not in self._by_id or not n_inputs:
            return
        now = self.clock() if now is None else now
        with self._lock:
            day, used = self._count(self._explained_today, decision.key_id, now)
            self._explained_today[decision.key_id] = (day, max(0, used - n_inputs))

    def explained_today(self, key_id: str, now: float | None = None) -> int:
        """Inputs explained for this key so far today (UTC)."""
        with self._lock:
            return self._count(self._explained_today, key_id, self.clock() if now is None else now)[1]

    @staticmethod
    def _count(counts: dict, key_id: str, now: float) -> tuple[int, int]:
        """Today's day number and count in `counts`: a clock stepped back never starts a new day."""
        day = int(now // DAY)
        seen_day, used = counts.get(key_id, (day, 0))
        if day < seen_day:
            return seen_day, used
        return day, (used if seen_day == day else 0)

    def refund(self, decision: Decision, n_inputs: int, now: float | None = None) -> None:
        """Give back what `admit` took for a request that was then not answered (e.g. its audit row failed: 503)."""
        if not decision.allowed or decision.key_id not in self._by_id:
            return
        now = self.clock() if now is None else now
        key = self._by_id[decision.key_id]
        with self._lock:
            day, used = self._day(key.key_id, now)
            self._used_today[key.key_id] = (day, max(0, used - n_inputs))
            bucket = self._buckets.get(key.key_id)
            if bucket is not None:
                bucket.tokens = min(bucket.capacity, bucket.tokens + n_inputs)

    # ---- refused requests, per client address and the key it presented
    def refusal_wait(self, address: str | None) -> int | None:
        """Seconds until this address may be refused again (None: it may send): a flood of refusals is itself refused.

        `address` is what the service counts refusals by: the client's address and the key it presented (see
        `refusal_source`), so an unauthenticated neighbour's flood never throttles a valid key at the same address.
        """
        if self.refusal_limit is None or not address:
            return None
        with self._lock:
            bucket = self._refusals.get(address)
            if bucket is None:
                return None
            tick = self.monotonic()
            bucket.tokens = min(bucket.capacity, bucket.tokens + max(0.0, tick - bucket.updated) * bucket.rate)
            bucket.updated = tick
            return None if bucket.tokens >= 1 else max(1, math.ceil((1 - bucket.tokens) / bucket.rate))

    def note_refusal(self, address: str | None) -> None:
        """Count one refused request against the client address."""
        if self.refusal_limit is None or not address:
            return
        limit = self.refusal_limit
        with self._lock:
            tick = self.monotonic()
            bucket = self._refusals.setdefault(address, TokenBucket(limit.burst, limit.per_minute / 60, limit.burst, tick))
            bucket.tokens = min(bucket.capacity, bucket.tokens + max(0.0, tick - bucket.updated) * bucket.rate)
            bucket.updated = tick
            bucket.tokens = max(0.0, bucket.tokens - 1)
            if len(self._refusals) > 10_000:  # bounded memory: forget the addresses refused longest ago
                for old in sorted(self._refusals, key=lambda a: self._refusals[a].updated)[:1_000]:
                    del self._refusals[old]

    def decide(self, secret: str | None, n_inputs: int, output: str | None = None, now: float | None = None) -> Decision:
        """The whole access decision for one request of n inputs."""
        return self.admit(self.authorise(secret, n_inputs, output), n_inputs, now)

    def used_today(self, key_id: str, now: float | None = None) -> int:
        """Queries answered for this key so far today (UTC)."""
        with self._lock:
            return self._day(key_id, self.clock() if now is None else now)[1]

    def restore_usage(self, used: dict[str, int], now: float | None = None, explained: dict[str, int] | None = None) -> None:
        """Start today's quota counts from saved numbers (the larger of what is known), so a restart resets nothing.

        Every key with queries today starts with an empty burst bucket: a restart refills nothing.
        explained: inputs explained per key today (the explanation quota), when known.
        """
        now = self.clock() if now is None else now
        day = int(now // DAY)
        with self._lock:
            for key_id, n in (explained or {}).items():
                seen_day, before = self._explained_today.get(key_id, (day, 0))
                self._explained_today[key_id] = (day, max(int(n), before if seen_day == day else 0))
            for key_id, n in used.items():
                seen_day, before = self._used_today.get(key_id, (day, 0))
                self._used_today[key_id] = (day, max(int(n), before if seen_day == day else 0))
                if n > 0:
                    self._restored.add(key_id)
                    self._buckets.pop(key_id, None)

    def suspend(self, key_id: str, reason: str) -> None:
        """Refuse every further request from this key (403) until an admin lifts it."""
        with self._lock:
            self.suspended.setdefault(key_id, reason)

    def lift_suspension(self, key_id: str) -> None:
        """Let a suspended key back in."""
        with self._lock:
            self.suspended.pop(key_id, None)

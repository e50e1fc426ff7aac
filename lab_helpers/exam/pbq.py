"""Performance-based questions on the kit's own artefacts: a day's audit log to triage, a gateway to configure, a
model card to review. Each task builds what the learner works on and knows its answers; the bank grades them.

- `LogTriage`: a real SQLite audit log written by the kit's `ModelService` for a simulated working day, with one
  probing client hidden among ordinary ones. Built on first use into data/cache/exam/ (a few seconds; never
  committed), the same every time: ordinary traffic, the attacker's key, address and start time are seeded.
  The answers (the key, the first probing request) are read back from the log itself.
- `GatewayTask`: a policy (roles, output granularity, rate limits, suspension on alert, detector) graded by running
  ordinary traffic and the real attacks (black-box MI-FACE, the attribute sweep) through a fresh `ModelService`
  on a simulated clock: one mark per requirement met, measured, in seconds.
- `ReleaseReview`: a `ModelCard` with wrong or missing entries, rendered by the card's own `to_markdown`.
"""
from __future__ import annotations

import base64
import json
import os
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..defences.output_policies import OUTPUT_KINDS, OutputPolicy

DAY = 86_400.0
LOG_VERSION = 5  # bump when a triage log's recipe changes: the cached log is rebuilt (5: false alarms beside the attack)
# what a role may be given, by kind, each at the kit's usual setting (OutputPolicy's defaults), least detail first
OUTPUTS = tuple(sorted(OUTPUT_KINDS, key=lambda name: OUTPUT_KINDS[name].detail))
ROLE_KEYS = ("output", "burst", "per_minute", "per_day")
SPEC_KEYS = ("public", "analyst", "rate_limits", "granularity", "block_on_alert", "detector")
DETECTORS = ("baseline", "adaptive")


# ---------------------------------------------------------------- the lab's world, loaded once per process

_WORLD: dict[str, Any] = {}


def lab_world() -> dict:
    """The faces, the patients, and the two served models of lab 06 (cached models; loaded once per process)."""
    if not _WORLD:
        from ..data.face_photos import load_faces
        from ..data.synthetic_people import load_people
        from ..service.server import face_endpoint, patient_endpoint
        from ..targets.face_classifiers import train_face_model
        from ..targets.forests import train_tabular_model

        faces, people = load_faces(seed=0), load_people("healthcare")
        face_model = train_face_model(faces, "softmax", progress=False)
        patient_model = train_tabular_model(people, name="overfit")
        patients = patient_endpoint(patient_model, people)
        patients.predict_proba = RecordCache(patients.predict_proba, people)
        _WORLD.update(faces=faces, people=people, served=[face_endpoint(face_model), patients])
    return _WORLD


class RecordCache:
    """A tabular model's predict_proba with its answers kept per record: the same numbers, without asking a forest
    again for a record it has answered (a dashboard re-sends its ward every few minutes)."""

    def __init__(self, predict_proba: Callable, data=None):
        self.predict_proba, self.known = predict_proba, {}
        if data is not None:  # every record of the data set at once: one call instead of thousands
            frame = data.frame[data.features]
            self._fill(frame)

    @staticmethod
    def _keys(frame) -> list[tuple]:
        from ..defences.monitoring import canonical

        return [tuple(canonical(v) for v in row) for row in frame.to_numpy(dtype=object)]

    def _fill(self, frame) -> None:
        self.known.update(zip(self._keys(frame), self.predict_proba(frame)))

    def __call__(self, frame):
        import numpy as np

        keys = self._keys(frame)
        missing = [i for i, k in enumerate(keys) if k not in self.known]
        if missing:
            self._fill(frame.iloc[missing])
        return np.stack([self.known[k] for k in keys])


# ---------------------------------------------------------------- a client of an in-process service

class ServiceClient:
    """One API key's client of an in-process `ModelService` (no HTTP, a simulated clock), with the `.query` and
    `.queries` of `ModelAPI`, so the kit's attacks run through it unchanged.

    Requests go out `gap` seconds apart (from `start`); `before(t)` runs before each, at its time (ordinary traffic
    due by then). With `wait_until`, a 429 makes the client wait for Retry-After and try again, until that time.
    """

    def __init__(self, service, secret: str, model: str, address: str, clock, start: float | None = None,
                 gap: float = 0.0, wait_until: float | None = None, before: Callable[[float], None] | None = None,
                 max_requests: int = 5_000, max_queries: int | None = None):
        self.service, self.secret, self.model, self.address, self.clock = service, secret, model, address, clock
        self.served = service.models[model]
        key = service.policy.identify(secret)
        self.max_batch = service.policy.batch_limit(key)
        self.classes, self.columns = list(self.served.classes), self.served.columns
        self.next_time = clock.now if start is None else float(start)
        self.gap, self.wait_until, self.before, self.max_requests = gap, wait_until, before, max_requests
        self.max_queries = max_queries  # a measurement that only needs to know "more than this" stops there
        self.queries = self.requests = self.sent = 0
        self.statuses: Counter = Counter()
        self.results: list[dict] = []  # every answered input's result, as the service sent it
        self.request_ids: list[int] = []

    def _body(self, chunk) -> bytes:
        import numpy as np

        if self.served.kind == "image":
            raw = np.stack(chunk).astype("<f4").tobytes()
            return b'{"encoding": "base64-float32", "inputs": "' + base64.b64encode(raw) + b'"}'
        return json.dumps({"inputs": chunk}).encode()

    def _items(self, x) -> list:
        import numpy as np

        if self.served.kind == "image":
            return list(np.asarray(x, dtype=np.float32).reshape(-1, 4096))
        import pandas as pd

        frame = pd.DataFrame([x]) if isinstance(x, dict) else pd.DataFrame(x)
        return [{c: (v.item() if hasattr(v, "item") else v) for c, v in row.items()}
                for row in frame[self.columns].to_dict("records")]

    def respond(self, x) -> list[dict]:
        """Send the inputs in requests of at most max_batch; the answers as the service sent them (ApiError on a refusal)."""
        from ..service.client import ApiError

        items, results = self._items(x), []
        for start in range(0, len(items), self.max_batch):
            chunk = items[start:start + self.max_batch]
            while True:
                if self.sent >= self.max_requests or (self.max_queries is not None and self.queries > self.max_queries):
                    raise ApiError(499, "the client's bound is reached (a measurement needs no more)")
                at = max(self.clock.now, self.next_time)
                if self.before is not None:
                    self.before(at)
                self.clock.now = at
                self.sent += 1
                reply = self.service.predict(self.secret, self.model, self._body(chunk),
                                             client=f"{self.address}:{40_000 + self.sent % 20_000}")
                self.next_time = self.clock.now + self.gap
                self.statuses[reply.status] += 1
                if reply.status == 200:
                    break
                wait = int(reply.headers.get("Retry-After", 0) or 0)
                if reply.status == 429 and self.wait_until is not None and at + max(wait, 1) < self.wait_until:
                    self.next_time = at + max(wait, 1)
                    continue
                raise ApiError(reply.status, reply.payload.get("error", ""), wait or None)
            self.requests += 1
            self.queries += len(chunk)
            self.request_ids.append(reply.payload["request_id"])
            self.results += reply.payload["results"]
            results += reply.payload["results"]
        return results

    def answer(self, x):
        """(labels, scores) as `ModelAPI.answer` gives them."""
        import numpy as np

        results = self.respond(x)
        index = {name: i for i, name in enumerate(self.classes)}
        labels = np.array([index[r["label"]] for r in results], dtype=np.int64)
        return labels, self._scores(results)

    def query(self, x):
        """The answers as a score matrix: shown scores, or a one-hot row for a label-only answer."""
        return self._scores(self.respond(x))

    def _scores(self, results: list[dict]):
        from ..service.client import score_matrix

        return score_matrix(results, self.classes)

    def reset_count(self) -> None:
        """Start counting queries from zero."""
        self.queries = self.requests = 0


def address_of(user: str, users: list[str]) -> str:
    """A fixed address on the clinic's network for each ordinary user ('10.20.0.13')."""
    return f"10.20.0.{11 + sorted(users).index(user)}"


class TrafficDriver:
    """Ordinary users' events sent through a service at their simulated times, each from its own address."""

    def __init__(self, service, clock, events, secrets: dict[str, str], addresses: dict[str, str]):
        from collections import deque

        self.service, self.clock, self.secrets, self.addresses = service, clock, secrets, addresses
        self.pending = deque(sorted(events, key=lambda e: e.time))
        self.clients: dict[tuple[str, str], ServiceClient] = {}

    def client(self, user: str, model: str) -> ServiceClient:
        """The user's client for a model (made on first use)."""
        if (user, model) not in self.clients:
            self.clients[user, model] = ServiceClient(self.service, self.secrets[user], model, self.addresses[user],
                                                      self.clock, start=0.0)
        return self.clients[user, model]

    def run_until(self, until: float) -> None:
        """Send every event due by `until` (refusals are counted in each client's statuses, never raised)."""
        from ..service.client import ApiError

        while self.pending and self.pending[0].time <= until:
            event = self.pending.popleft()
            self.clock.now = max(self.clock.now, event.time)
            try:
                self.client(event.user, event.model).respond(event.inputs)
            except ApiError:
                pass

    def statuses(self, user: str) -> Counter:
        """Every status a user's requests got."""
        total: Counter = Counter()
        for (who, _), c in self.clients.items():
            if who == user:
                total += c.statuses
        return total


# ---------------------------------------------------------------- log triage

@dataclass(frozen=True)
class LogTriage:
    """A day's audit log with one probing client among ordinary ones; the learner names the key, the first probing
    request, the model it targeted and the control to apply.

    The learner sees the log under `log_file`, a name that gives no answer away, and its alerts name the attacker
    beside benign clients a naive rule mistakes for probing (a fixed reception camera, a bedside monitor).
    """

    name: str
    log_file: str  # the log's file name in the cache: neutral, so that it answers no field
    key: str  # the API key the attacker uses
    model: str  # the model it probes
    attack: str  # "mi-face" (black-box MI-FACE on faces) or "sweep" (the attribute sweep on patients)
    start_hour: float  # hours after 08:00 when the probing starts
    address: str | None = None  # the attacker's address when it is not the key owner's
    extra_users: tuple[str, ...] = ()  # beyond the usual day: "clinician-3", "monitor-bed-4", "camera-reception"
    seed: int = 0
    kind: str = "fields"
    answers_given: tuple[str, ...] = ("key", "first_request")
    requirements: tuple[str, ...] = ()

    def _where(self) -> Path:
        """data/cache/exam/<log_file>.sqlite; when the cache is shared and read-only (a hub) and holds no log, a folder
        of this user's own."""
        from ..paths import cache_dir

        path = cache_dir() / "exam" / f"{self.log_file}.sqlite"
        if self._is_built(path):
            return path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            writable = os.access(path.parent, os.W_OK)
        except OSError:
            writable = False
        if writable:
            return path
        own = Path(tempfile.gettempdir()) / f"lab-exam-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
        return own / path.name

    @staticmethod
    def _is_built(path: Path) -> bool:
        done = path.with_name(path.name + ".built")
        return path.is_file() and done.is_file() and done.read_text().strip() == f"{LOG_VERSION}"

    def path(self) -> Path:
        """The log, built on first use (data/cache/exam/<log_file>.sqlite)."""
        from ..paths import cache_lock

        path = self._where()
        done = path.with_name(path.name + ".built")
        with cache_lock(path):
            if not (done.is_file() and done.read_text().strip() == f"{LOG_VERSION}" and path.is_file()):
                done.unlink(missing_ok=True)
                self.build(path)
                done.write_text(f"{LOG_VERSION}\n")
        return path

    def build(self, path: Path) -> None:
        """Write the day: ordinary traffic and the probing client, through a fresh service, into `path`."""
        from ..defences.access import AccessPolicy, SimulatedClock
        from ..defences.monitoring import BaselineDetector
        from ..service.client import ApiError
        from ..service.server import ModelService
        from ..service.traffic import clinician_user, fixed_camera_user, ordinary_traffic, role_of, vital_monitor_user

        world = lab_world()
        faces, people = world["faces"], world["people"]
        clock = SimulatedClock()
        day_start = clock.now
        attack_at = day_start + self.start_hour * 3600
        events = ordinary_traffic(faces, people, day_start, cameras=3, clinicians=2, dashboard=True, n_requests=100,
                                  seed=self.seed)
        if "clinician-3" in self.extra_users:  # an insider: ordinary records all morning, then the sweep
            events += [e for e in clinician_user(people, "clinician-3", day_start, n_requests=60, seed=self.seed + 7)
                       if e.time < attack_at - 600]
        if "monitor-bed-4" in self.extra_users:
            events += vital_monitor_user(people, "monitor-bed-4", day_start, hours=10.0, seed=self.seed + 600)
        if "camera-reception" in self.extra_users:  # the same scene all day: near-duplicates to a naive rule
            events += fixed_camera_user(faces, "camera-reception", day_start, hours=10.0, every_minutes=2.0,
                                        seed=self.seed + 700)
        users = sorted({e.user for e in events} | {self.key})
        policy = AccessPolicy(clock=clock, rate_limits=True, granularity=True, block_on_alert=False)
        secrets = {u: policy.issue_key(u, role_of(u)) for u in users}
        addresses = {u: address_of(u, users) for u in users}
        service = ModelService(world["served"], policy, path, detector=BaselineDetector(), fresh=True)
        try:
            driver = TrafficDriver(service, clock, events, secrets, addresses)
            attacker = ServiceClient(service, secrets[self.key], self.model, self.address or addresses[self.key], clock,
                                     start=attack_at, gap=60.0 if self.attack == "mi-face" else 90.0,
                                     before=driver.run_until)
            try:
                self._attack(attacker, world)
            except ApiError:
                pass  # refused: the log shows it
            driver.run_until(float("inf"))
        finally:
            service.close()

    def _attack(self, api, world) -> None:
        import numpy as np

        if self.attack == "mi-face":
            from ..attacks.mi_face import invert_black_box

            invert_black_box(api, identities=np.array([6, 19, 33]), queries_per_person=1_000, seed=self.seed,
                             progress=False)
        else:
            from ..attacks.probing import attribute_inference

            attribute_inference(api, world["people"], "members", n_people=300)

    def requests(self):
        """The log's requests table (pandas)."""
        from ..defences.audit import read_requests

        return read_requests(self.path())

    def _probing(self, log):
        """The attacker's requests in a requests table: its key, its model, from its start (and from its address)."""
        from ..defences.access import SimulatedClock

        mine = log[(log["key_id"] == self.key) & (log["model"] == self.model)
                   & (log["time"] >= SimulatedClock().now + self.start_hour * 3600)]
        if self.address:
            mine = mine[mine["client"].str.startswith(self.address + ":")]
        return mine

    def answers(self) -> dict:
        """The key and the id of its first probing request, read back from the log."""
        return {"key": self.key, "first_request": int(self._probing(self.requests())["id"].min())}

    def facts(self) -> dict:
        """What an explanation may quote: the key, the first request, its time and address, the alerts."""
        from ..defences.audit import read_alerts

        log = self.requests()
        probing = self._probing(log)
        first = probing.iloc[0]
        alerts = read_alerts(self.path())
        mine = alerts[alerts["key_id"] == self.key]
        flagged_at = int(mine["request_id"].iloc[0]) if len(mine) else None
        after = int(((probing["id"] > flagged_at) & (probing["status"] == 200)).sum()) if flagged_at else 0
        return {"key": self.key, "first_request": int(first["id"]), "when": first["when"].strftime("%H:%M"),
                "address": str(first["client"]).rsplit(":", 1)[0], "model": self.model, "requests": len(probing),
                "queries": int(probing["n_inputs"].sum()), "rule": mine["rule"].iloc[0] if len(mine) else "none",
                "alert_request": flagged_at or 0, "answered_after_alert": after,
                "other_alerts": _and(sorted(set(alerts["key_id"]) - {self.key})) or "none"}

    def built(self) -> bool:
        """Is the log there already (no need to build it)?"""
        return self._is_built(self._where())

    def brief(self, prepare: bool = True) -> str:
        """What the learner is given: where the log is and how to read it (prepare=False: without building it)."""
        path = self.path() if prepare else self._where()
        built = "" if prepare or self.built() else " (built on first use: about 30 seconds)"
        return (f"The audit log: {path}{built}\n"
                "Tables: requests (one row per request: id, time, key_id, client address:port, model, n_inputs, status, "
                "output, returned labels...), sketches (one row per answered input, sealed in the file; read_sketches opens "
                "them: an 8x8 thumbnail of an image in hex, or one keyed digest per field of a record), alerts (the detector's alerts, with request_id).\n"
                "Read it with SQL (sqlite3) or pandas: from lab_helpers.defences import read_requests, read_sketches, "
                "read_alerts")


def _and(names: list[str]) -> str:
    """['a', 'b', 'c'] -> 'a, b and c'."""
    return " and ".join([", ".join(names[:-1]), names[-1]]) if len(names) > 1 else "".join(names)


# ---------------------------------------------------------------- configure the gateway

def policy_from_spec(spec, clock=None):
    """(AccessPolicy, detector name) from a spec: {'public': {'output', 'burst', 'per_minute', 'per_day'}, 'analyst':
    {...}, 'rate_limits', 'granularity', 'block_on_alert', 'detector'}; or from an AccessPolicy (detector
    'baseline', or a (policy, detector) pair). ValueError says what is wrong."""
    from ..defences.access import ROLES, AccessPolicy, RateLimit, Role

    kwargs = {"clock": clock} if clock is not None else {}
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], AccessPolicy):
        spec, detector = spec
    else:
        detector = "baseline"
    if isinstance(spec, AccessPolicy):
        if detector not in DETECTORS:
            raise ValueError(f"detector must be one of {', '.join(DETECTORS)} (got {detector!r}).")
        return AccessPolicy(roles=dict(spec.roles), rate_limits=spec.rate_limits, granularity=spec.granularity,
                            block_on_alert=spec.block_on_alert, max_batch=spec.max_batch, **kwargs), detector
    if not isinstance(spec, dict):
        raise ValueError("The policy must be a dict like the template (or an AccessPolicy).")
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise ValueError(f"Unknown setting(s) {unknown}; settings: {', '.join(SPEC_KEYS)}.")
    roles = dict(ROLES)
    for name in ("public", "analyst"):
        given = spec.get(name)
        if not isinstance(given, dict):
            raise ValueError(f"{name!r} must be a dict with {', '.join(ROLE_KEYS)}.")
        missing = [k for k in ROLE_KEYS if k not in given]
        extra = sorted(set(given) - set(ROLE_KEYS))
        if missing or extra:
            raise ValueError(f"{name!r} needs exactly {', '.join(ROLE_KEYS)}" + (f"; missing {missing}" if missing else "")
                             + (f"; unknown {extra}" if extra else "") + ".")
        if given["output"] not in OUTPUTS:
            raise ValueError(f"{name}: output must be one of {', '.join(OUTPUTS)} (got {given['output']!r}).")
        numbers = {k: given[k] for k in ("burst", "per_minute", "per_day")}
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in numbers.values()):
            raise ValueError(f"{name}: burst, per_minute and per_day must be numbers.")
        try:
            limit = RateLimit(int(numbers["burst"]), float(numbers["per_minute"]), int(numbers["per_day"]))
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
        roles[name] = Role(name, (OutputPolicy(given["output"]),), limit)
    flags = {k: spec.get(k, False) for k in ("rate_limits", "granularity", "block_on_alert")}
    if not all(isinstance(v, bool) for v in flags.values()):
        raise ValueError("rate_limits, granularity and block_on_alert must be true or false.")
    detector = spec.get("detector", "baseline")
    if detector not in DETECTORS:
        raise ValueError(f"detector must be one of {', '.join(DETECTORS)} (got {detector!r}).")
    return AccessPolicy(roles=roles, **flags, **kwargs), detector


@dataclass
class Check:
    """One requirement: met or not, and what was measured."""

    name: str
    met: bool
    measured: str


@dataclass(frozen=True)
class GatewayTask:
    """Business requirements for the gateway; a policy is graded by running the day's ordinary traffic and the real
    attacks through a fresh service with it, on a simulated clock (seconds of computing)."""

    name: str
    requirements: tuple[str, ...]
    day: str  # "clinic" (cameras, clinicians, an office-hours dashboard) or "ward" (a 24/7 dashboard, a bedside monitor)
    mallory_role: str  # the role of the key Mallory runs black-box MI-FACE through
    mallory_budget: tuple[int, int]  # (people, queries per person)
    answer_limit: int  # the most answers one such key may collect in 24 hours
    seed: int = 0
    kind: str = "policy"
    answers_given: tuple[str, ...] = ()

    def brief(self, prepare: bool = True) -> str:
        """What the learner is given besides the requirements."""
        usual = "; ".join(f"{p.kind}: {p.describe()}" for p in map(OutputPolicy, OUTPUTS) if p.record.parameter)
        return ("Outputs: " + ", ".join(OUTPUTS) + f" ({usual}). "
                "Rate limits count queries (one input = one query): burst, per_minute (refill), per_day (quota). "
                "Detectors: baseline (per key: near-duplicates, one-field sweeps, heavy scores) or adaptive (per key and "
                "source: scored answers per identity, probe clouds, people swept, new scores).")

    def answers(self) -> dict:
        """A policy task has no fixed answer: the simulation grades it."""
        return {}

    def facts(self) -> dict:
        """Nothing to quote: the measurements are in the feedback."""
        return {}

    def _service(self, policy, detector: str, folder: Path, name: str):
        from ..defences.monitoring import AdaptiveDetector, BaselineDetector
        from ..service.server import ModelService

        chosen = AdaptiveDetector() if detector == "adaptive" else BaselineDetector()
        return ModelService(lab_world()["served"], policy, folder / f"{name}.sqlite", detector=chosen, fresh=True)

    def _events(self, start: float):
        from ..service.traffic import camera_user, clinician_user, dashboard_user, vital_monitor_user

        world = lab_world()
        faces, people = world["faces"], world["people"]
        if self.day == "clinic":
            events = [e for i in range(3) for e in camera_user(faces, f"camera-{i + 1}", start, 40, seed=self.seed + i)]
            events += [e for i in range(2) for e in clinician_user(people, f"clinician-{i + 1}", start, 40,
                                                                    seed=self.seed + 100 + i)]
            events += dashboard_user(people, "ward-dashboard", start, seed=self.seed + 200)
        else:
            events = [e for i in range(2) for e in camera_user(faces, f"camera-{i + 1}", start, 30, seed=self.seed + i)]
            events += clinician_user(people, "clinician-1", start, 30, seed=self.seed + 100)
            events += dashboard_user(people, "ward-dashboard", start, hours=24.0, seed=self.seed + 200)
            events += vital_monitor_user(people, "monitor-bed-4", start, every_minutes=15.0, seed=self.seed + 600)
        return sorted(events, key=lambda e: e.time)

    def measure(self, spec) -> dict[str, Check]:
        """Run the day and the attacks against the policy; one Check per requirement."""
        from ..defences.access import SimulatedClock
        from ..defences.audit import read_alerts
        from ..service.traffic import role_of

        world = lab_world()
        memory = Path("/dev/shm")  # the services' audit logs are scratch: in memory where Linux offers it
        scratch = str(memory) if memory.is_dir() and os.access(memory, os.W_OK) else None
        with tempfile.TemporaryDirectory(prefix="lab-gateway-", dir=scratch) as tmp:
            folder = Path(tmp)
            # 1. the ordinary day
            clock = SimulatedClock()
            start = clock.now
            policy, detector = policy_from_spec(spec, clock)
            events = self._events(start)
            users = sorted({e.user for e in events})
            secrets = {u: policy.issue_key(u, role_of(u)) for u in users}
            service = self._service(policy, detector, folder, "day")
            try:
                driver = TrafficDriver(service, clock, events, secrets, {u: address_of(u, users) for u in users})
                driver.run_until(float("inf"))
            finally:
                service.close()
            refused = {u: sum(n for s, n in driver.statuses(u).items() if s != 200) for u in users}
            answered = {u: [r for (who, _), c in driver.clients.items() if who == u for r in c.results] for u in users}
            # 2. Mallory: black-box MI-FACE through one key, for up to 24 simulated hours. Her run measures the limits
            # and the output alone: the detector watches but suspends nothing (an attacker it misses, or before it fires).
            clock = SimulatedClock(SimulatedClock().now // DAY * DAY)  # 00:00 UTC: one whole quota day
            policy, detector = policy_from_spec(spec, clock)
            policy.block_on_alert = False
            secret = policy.issue_key("mallory", self.mallory_role)
            service = self._service(policy, detector, folder, "mallory")
            try:
                mallory = ServiceClient(service, secret, "faces", "10.99.0.7", clock, wait_until=clock.now + DAY,
                                        max_requests=2_000, max_queries=self.answer_limit)
                self._run(self._mallory, mallory)
            finally:
                service.close()
            # 3. Eve: the attribute sweep through an analyst key, until refused
            clock = SimulatedClock()
            policy, detector = policy_from_spec(spec, clock)
            secret = policy.issue_key("eve", "analyst")
            service = self._service(policy, detector, folder, "eve")
            try:
                eve = ServiceClient(service, secret, "patients", "10.99.0.8", clock, gap=30.0, wait_until=clock.now + DAY,
                                    max_requests=500)
                from ..attacks.probing import attribute_inference

                self._run(lambda api: attribute_inference(api, world["people"], "members", n_people=200), eve)
                alerts = read_alerts(service.audit_path)
            finally:
                service.close()
        return self._checks(refused, answered, mallory, eve, alerts)

    def _mallory(self, api) -> None:
        """Black-box MI-FACE on a few people, through whatever the key is answered with."""
        from ..attacks.mi_face import invert_black_box

        people, per_person = self.mallory_budget
        invert_black_box(api, identities=list(range(3, 3 + people)), queries_per_person=per_person, progress=False)

    @staticmethod
    def _run(attack, client) -> None:
        from ..service.client import ApiError

        try:
            attack(client)
        except ApiError:
            pass  # refused: what the client got so far is what counts

    def _checks(self, refused, answered, mallory, eve, alerts) -> dict[str, Check]:
        def never_refused(users: list[str]) -> Check:
            bad = {u: refused[u] for u in users if refused.get(u)}
            total = sum(len(answered.get(u, [])) for u in users)
            return Check("", not bad, ("refused: " + ", ".join(f"{u} {n} request(s)" for u, n in bad.items())) if bad
                         else f"all {total:,} of their queries answered")

        cameras = [u for u in refused if u.startswith("camera")]
        scored = sum("scores" in r for r in mallory.results)
        mine = alerts[alerts["key_id"] == "eve"]
        first_alert = int(mine["request_id"].min()) if len(mine) else None
        after = sum(rid > first_alert for rid in eve.request_ids) if first_alert is not None else 0
        dash = answered.get("ward-dashboard", [])
        full = all("scores" in r and len(r["scores"]) == 3 for r in dash) and bool(dash)
        coarse = all(round(v, 2) == v for r in dash for v in r.get("scores", {}).values())
        kinds = sorted({("scores" if "scores" in r else "label") for u in cameras for r in answered[u]})
        checks = {
            "ordinary": never_refused([u for u in refused if u != "monitor-bed-4"]),
            "public_no_scores": Check("", bool(mallory.results) and not scored,
                                      f"Mallory's public key got {len(mallory.results):,} answers, {scored:,} of them "
                                      "with scores"),
            "kiosks_labels": Check("", kinds == ["label"] and not any(refused[u] for u in cameras),
                                   f"the cameras got {' and '.join(kinds) or 'no answers'}, "
                                   f"{sum(refused[u] for u in cameras)} request(s) refused"),
            "answer_limit": Check("", mallory.queries <= self.answer_limit,
                                  f"Mallory's {self.mallory_role} key got "
                                  + (f"{mallory.queries:,} answers in 24 hours" if mallory.queries <= self.answer_limit
                                     else f"more than {self.answer_limit:,} answers (stopped counting at "
                                          f"{mallory.queries:,})")
                                  + f"; her attack wanted {self.mallory_budget[0] * self.mallory_budget[1]:,}"),
            "dashboard_scores": Check("", full and coarse,
                                      "the dashboard got " + ("no answers" if not dash else
                                                              "a rounded score for every dose band" if full and coarse else
                                                              "scores with more than two decimals" if full else
                                                              "answers without a score for every dose band")),
            "dashboard_24h": never_refused(["ward-dashboard"]),
            "monitor_kept": never_refused(["monitor-bed-4"]),
            "suspend_flagged": Check("", first_alert is not None and after == 0,
                                     "Eve's key was never flagged" if first_alert is None else
                                     f"Eve's key flagged at request {first_alert} ({mine['rule'].iloc[0]}); "
                                     f"{after} of her requests answered after that"),
        }
        out = {}
        for name in self.requirements:
            check = checks[name]
            out[name] = Check(name, bool(check.met), check.measured)
        return out


# ---------------------------------------------------------------- release review

@dataclass(frozen=True)
class ReleaseReview:
    """A model card with entries to check, built with the kit's ModelCard and rendered by its to_markdown."""

    name: str
    card_name: str
    kind: str = "fields"
    answers_given: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()

    def card(self):
        """The card under review."""
        return CARDS[self.card_name]()

    def brief(self, prepare: bool = True) -> str:
        """The card, as Markdown."""
        return self.card().to_markdown()

    def answers(self) -> dict:
        """A review's answers are in the question."""
        return {}

    def facts(self) -> dict:
        """Nothing to quote."""
        return {}


def _face_card_v2():
    from ..governance.card import Approval, Audience, Measurement, ModelCard

    # no row measures an attack through the API, though outside callers now get full scores: "Missing", decidable
    # from the card alone (version 1 answered the kiosks with labels only)
    m = {"lab03-white-box": Measurement(0.375, 0.025, {}, "lab03-white-box", "03",
                                        "White-box MI-FACE (if the model file leaks): evaluator top-1"),
         "lab05-face-membership": Measurement(0.39, 0.0, {"unit": "score"}, "lab05-face-membership", "05",
                                              "Membership test on the face model: advantage (TPR - FPR)")}
    return ModelCard(
        "staff entry face recogniser", "2", "face",
        "Identify the 40 enrolled staff at the entry kiosks, so that doors open for them.",
        "Identifying visitors or the public; any use outside the building's entry system.",
        "The Olivetti faces (AT&T Laboratories Cambridge): 7 photos of each of 40 people, 64x64 grey-scale.",
        "Internal: staff photos, shared with the facilities team.",
        [Audience("entry kiosks (outside callers, one key per kiosk)", OutputPolicy("probabilities"),
                  "the kiosk screens show a match strength"),
         Audience("security desk (staff accounts, every lookup logged)", OutputPolicy("label_score"), "to judge doubtful matches"),
         Audience("model developers (training environment only)", OutputPolicy("probabilities"), "to test and retrain the model")],
        OutputPolicy("probabilities"), 1.0, 0.975, m,
        [Approval("model owner", "Head of facilities", "approved")],
        "Owner: the data protection officer. Every six months, and after every retraining (release gate).")


def _dosing_card_v2():
    from ..governance.card import Approval, Audience, Measurement, ModelCard

    m = {"lab01-membership": Measurement(0.11, 0.0, {"unit": "score"}, "lab01-membership", "01",
                                         "Membership test advantage (TPR - FPR)")}
    return ModelCard(
        "dosing model", "2", "tabular", "Suggest a starting-dose band for the clinic's prescribers.", "",
        "The kit's synthetic patients (data/synthetic_patients.csv), with age, weight, blood pressure, medicines and the "
        "VKORC1 genotype as inputs.",
        "Confidential: health data, including a genotype (special-category data if it were real).",
        [Audience("prescribers' system (one key)", OutputPolicy("probabilities"), "to show how sure the suggestion is"),
         Audience("research partner (outside the clinic, one key)", OutputPolicy("probabilities"),
                  "to study dosing across clinics")],
        OutputPolicy("probabilities"), 0.715, 0.637, m,
        [Approval("clinical lead", "Chief pharmacist", "approved")],
        "Owner: the chief pharmacist. Every six months, and after every retraining (release gate).")


CARDS: dict[str, Callable] = {"face-v2": _face_card_v2, "dosing-v2": _dosing_card_v2}


# ---------------------------------------------------------------- the tasks the bank's questions name

TASKS: dict[str, Any] = {
    "log-triage-faces": LogTriage("log-triage-faces", "clinic-api-audit-a", key="clinician-2", model="faces",
                                  attack="mi-face", start_hour=5.3, address="10.66.0.9",
                                  extra_users=("monitor-bed-4", "camera-reception"), seed=3),
    "log-triage-patients": LogTriage("log-triage-patients", "clinic-api-audit-b", key="clinician-3", model="patients",
                                     attack="sweep", start_hour=6.1,
                                     extra_users=("clinician-3", "monitor-bed-4", "camera-reception"), seed=5),
    "gateway-clinic": GatewayTask("gateway-clinic", ("ordinary", "public_no_scores", "answer_limit", "dashboard_scores",
                                                      "suspend_flagged"), day="clinic", mallory_role="public",
                                  mallory_budget=(2, 1_000), answer_limit=1_000, seed=21),
    "gateway-ward": GatewayTask("gateway-ward", ("dashboard_24h", "monitor_kept", "answer_limit", "suspend_flagged",
                                                  "kiosks_labels"), day="ward", mallory_role="analyst",
                                mallory_budget=(5, 2_000), answer_limit=8_000, seed=31),
    "release-review-face": ReleaseReview("release-review-face", "face-v2"),
    "release-review-dosing": ReleaseReview("release-review-dosing", "dosing-v2"),
}


def task_for(question: dict):
    """The task a performance-based question names (KeyError lists the tasks)."""
    try:
        return TASKS[question["task"]]
    except KeyError:
        raise KeyError(f"Unknown task {question.get('task')!r}; tasks: {', '.join(sorted(TASKS))}.") from None

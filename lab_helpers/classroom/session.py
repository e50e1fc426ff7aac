"""Running a class target: the server, the ordinary traffic that measures each door's utility, the house attacker.

`start_class` runs everything in background threads (tests, notebooks: `practice_class`); `serve_class` runs it in
the foreground until Ctrl-C (`python -m lab_helpers class-target start`). Every loop is bounded: the ordinary
traffic sends one request per client per tick and stops with the service; the house attacker spends a fixed
budget per door per round and stops at its time limit.
"""
from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..service.server import listening_socket, serve_forever, start_app
from .policy import POLICY_TEMPLATE
from .shared_target import HOUSE_KEYS, ORDINARY_CLIENTS, ClassTarget


class Background:
    """A loop in a daemon thread: `start()` runs `_run` (which watches `_stop`), `stop()` ends it after its current step."""

    name = "class-background"

    def __init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def start(self):
        """Start in the background; returns self."""
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to stop and wait for its current step to end."""
        self._stop.set()
        if self._thread.ident is not None:  # never started (stopped before it began): nothing to wait for
            self._thread.join(timeout)


class OrdinaryTraffic(Background):
    """Door cameras (labels) and apps (a label and its score) at every door, one request per client per tick.

    A request is *served* when it is answered with the model's own answer for every frame (and, for an app, a
    score): a refusal or a missing score is utility lost. The model's own mistakes are not the door's, so they
    are not counted against it (an open door serves 100 %).
    """

    name = "class-ordinary-traffic"

    def __init__(self, target: ClassTarget, url: str, interval: float = 2.0, seed: int = 0):
        self.target, self.url, self.interval = target, url.rstrip("/"), interval
        self.rng = np.random.default_rng(seed)
        super().__init__()

    def tick(self, http) -> int:
        """One request from every ordinary client at every door; returns how many were served."""
        from ..service.traffic import camera_frames

        private, served = self.target.setup.private, 0
        for door in list(self.target.doors):
            n_round = self.target.round
            for client, role in ORDINARY_CLIENTS.items():
                people = self.rng.choice(private.people, size=int(self.rng.integers(1, 4)))
                frames = camera_frames(private, people, self.rng)
                body = {"encoding": "base64-float32", "inputs": base64.b64encode(frames.astype("<f4").tobytes()).decode()}
                if role == "app":
                    body["output"] = "label_score"
                ok = False
                try:
                    response = http.post(f"{self.url}/doors/{door}/v1/models/faces/predict", content=json.dumps(body),
                                         headers={"X-API-Key": self.target.secret(client),
                                                  "Content-Type": "application/json"})
                    if response.status_code == 200:
                        results = response.json()["results"]
                        own = self.target.setup.target.predict_proba(frames).argmax(1)
                        ok = [r["label"] for r in results] == [str(p) for p in own] and (
                            role != "app" or all(r.get("scores") for r in results))
                except Exception:  # noqa: BLE001 - a timeout or a dropped connection is utility lost, not a crash
                    ok = False
                if self._stop.is_set():
                    return served
                self.target.record_ordinary(door, client, ok, n_round)
                served += ok
        return served

    def _run(self) -> None:
        import httpx

        with httpx.Client(timeout=10.0, trust_env=False) as http:
            while not self._stop.wait(self.interval):
                self.tick(http)


class HouseAttacker(Background):
    """The kit's own attacker: each round, through every door, the attack the door's output allows, then submits."""

    name = "class-house-attacker"

    def __init__(self, target: ClassTarget, url: str, queries_per_person: int = 300, seconds_per_door: float = 300.0):
        self.target, self.url = target, url
        self.budget, self.seconds = queries_per_person, seconds_per_door
        self.runs: dict[tuple[int, str], object] = {}  # (round, door) -> RedRun
        super().__init__()

    def _run(self) -> None:
        from ..attacks.face_priors import fit_pca_prior
        from .red_team import attack_door

        prior = fit_pca_prior(self.target.setup.public)
        while not self._stop.is_set():
            n = self.target.round
            for door in self.target.teams:
                if self._stop.is_set() or (n, door) in self.runs:
                    continue
                keys = [self.target.secret(k) for k in HOUSE_KEYS]  # a small red team pooling its keys
                self.runs[(n, door)] = attack_door(self.url, keys, door, self.target.setup.people,
                                                   prior, queries_per_person=self.budget, patience=self.seconds)
            self._stop.wait(2.0)


@dataclass
class ClassHandle:
    """A running class target: its URL, the target, its background clients; `stop()` ends them all."""

    url: str
    target: ClassTarget
    server: object
    traffic: OrdinaryTraffic | None = None
    house: HouseAttacker | None = None
    keys: dict = field(default_factory=dict)  # learner -> secret, issued at this start

    @property
    def running(self) -> bool:
        """True while the class's server answers (False after `stop()`)."""
        return bool(getattr(self.server, "running", True))

    def stop(self) -> None:
        """Stop the clients, then the server; close the logs and the class database."""
        for part in (self.house, self.traffic):
            if part is not None:
                part.stop()
        self.server.stop()

    def __enter__(self):  # noqa: ANN204 - returns self
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_class(target: ClassTarget, ordinary_interval: float | None = 2.0, house_budget: int | None = None,
                house_seconds: float = 300.0) -> ClassHandle:
    """Serve the class target on a free port of 127.0.0.1 in the background, with its ordinary traffic and house attacker."""
    server = start_app(target.asgi(), target.front, listening_socket(0))
    server.service = target  # stop() closes the target: its doors, the front log and the class database
    handle = ClassHandle(server.url, target, server, keys={n: s for n, (_, s) in target.new_keys.items()})
    if ordinary_interval:
        handle.traffic = OrdinaryTraffic(target, server.url, ordinary_interval).start()
    if house_budget:
        handle.house = HouseAttacker(target, server.url, house_budget, house_seconds).start()
    return handle


def serve_class(target: ClassTarget, host: str = "127.0.0.1", port: int = 8800, ordinary_interval: float | None = 2.0,
                house_budget: int | None = None, house_seconds: float = 300.0, announce=print) -> None:
    """Serve the class target on host:port in this thread until Ctrl-C, with its ordinary traffic and house attacker."""
    parts: list = []
    timers: list = []

    def started(url: str) -> None:
        local = url if host in ("127.0.0.1", "localhost") else f"http://127.0.0.1:{url.rsplit(':', 1)[1]}"
        if ordinary_interval:
            parts.append(OrdinaryTraffic(target, local, ordinary_interval))
        if house_budget:
            parts.append(HouseAttacker(target, local, house_budget, house_seconds))
        announce(url)
        timers.append(threading.Timer(1.0, lambda: [p.start() for p in parts]))  # once the server listens
        timers[-1].start()

    try:
        serve_forever(target.front, port, started, host=host, app=target.asgi())
    finally:
        for timer in timers:
            timer.cancel()
            timer.join(5)
        for p in parts:
            p.stop()
        target.close()


def practice_class(folder: str | Path | None = None, policy_text: str = POLICY_TEMPLATE,
                   house_budget: int | None = None) -> ClassHandle:
    """A class of one for practice: you on team red, one door ('practice') with this policy, ordinary traffic on.

    folder None: a new temporary folder (a fresh class each time); the door's policy file is folder/practice.toml.
    """
    import tempfile

    folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="lab09-practice-"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "practice.toml").write_text(policy_text, encoding="utf-8")
    roster = folder / "roster.csv"
    if not (folder / "class.sqlite").exists():
        roster.write_text("learner,team\nyou,red\n", encoding="utf-8")
    target = ClassTarget(folder, {"practice": folder / "practice.toml"},
                         roster=roster if not (folder / "class.sqlite").exists() else None, sources="key")
    return start_class(target, ordinary_interval=1.0, house_budget=house_budget)


def new_practice_round(handle: ClassHandle, policy_text: str) -> dict:
    """Write a new policy for the practice door and start the next round with it (as the instructor's key would)."""
    import httpx

    (handle.target.folder / "practice.toml").write_text(policy_text, encoding="utf-8")
    response = httpx.post(f"{handle.url}/class/next-round", headers={"X-API-Key": handle.keys["instructor"]},
                          timeout=60, trust_env=False)
    payload = response.json()
    if response.status_code != 200:
        raise ValueError(payload.get("error", response.text))
    return payload


def wait_for(condition, seconds: float, every: float = 0.2) -> bool:
    """Poll condition() until it is true or the seconds run out; returns its last value."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(every)
    return bool(condition())

"""The class target: one shared face model behind one door per blue team, judged submissions, scores in SQLite.

Each door (/doors/<team>/) is a lab 06 `ModelService` built from the team's policy file, with its own audit log per
round (folder/round-N/<team>.sqlite). Every learner's key works at every door with role `app`, as the ordinary
apps' keys do; the ordinary traffic (two door cameras, two apps per door) runs inside the service and measures
what each door still gives legitimate callers. /class/submit takes a red learner's reconstruction and has it
judged (`class_model.py`); /class/scoreboard shows the round. class.sqlite keeps the roster (secret hashes only), the
rounds and their policies, the submissions and the ordinary traffic's results, so a restart keeps the scores.
"""
# No `from __future__ import annotations` here: FastAPI must see the real `Request` class in class_routes.

import base64
import binascii
import csv
import json
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..defences.access import ROLES, AccessPolicy, RateLimit, Role, hash_secret
from ..defences.audit import AuditLog
from ..defences.output_policies import OutputPolicy
from ..service.server import (
    InputError,
    ModelService,
    Reply,
    face_endpoint,
    make_app,
    secret_of,
)
from .policy import BluePolicy, PolicyFileError, parse_blue_policy, read_blue_policy
from .class_model import JUDGES, ClassSetup, class_setup
from .scoreboard import png_data_uri

TEAM_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
LEARNER_NAME = re.compile(r"[\w .'-]{1,40}")
TRIES_PER_PERSON = 3  # submissions per learner, door, person and round: the referees' verdicts are no oracle
MAX_SUBMISSION_BYTES = 64 * 1024
ORDINARY_CLIENTS = {"camera-1": "camera", "camera-2": "camera", "app-1": "app", "app-2": "app"}
HOUSE = "house"  # the kit's own attacker's key id (it submits with this one)
HOUSE_KEYS = (HOUSE, "house-2", "house-3")  # its keys: a small red team pooling keys from one machine
HOUSE_NAME = f"the kit's attacker ({len(HOUSE_KEYS)} keys)"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS learners (key_id TEXT PRIMARY KEY, learner TEXT UNIQUE NOT NULL, team TEXT NOT NULL,
    secret_hash TEXT UNIQUE NOT NULL);
CREATE TABLE IF NOT EXISTS rounds (n INTEGER PRIMARY KEY, started REAL NOT NULL, policies TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS submissions (id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, round INTEGER NOT NULL,
    key_id TEXT NOT NULL, door TEXT NOT NULL, person INTEGER NOT NULL, image BLOB NOT NULL, evaluator INTEGER NOT NULL,
    closer INTEGER NOT NULL, correlation INTEGER NOT NULL, copy INTEGER NOT NULL, recovered INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS submissions_by_round ON submissions (round, key_id, door, person);
CREATE TABLE IF NOT EXISTS ordinary (round INTEGER NOT NULL, door TEXT NOT NULL, client TEXT NOT NULL,
    sent INTEGER NOT NULL, served INTEGER NOT NULL, PRIMARY KEY (round, door, client));
"""
FRONT_ROLES = {"learner": Role("learner", (OutputPolicy("label"),), RateLimit(burst=10, per_minute=10, per_day=10)),
               "instructor": ROLES["admin"]}


class ClassSetupError(ValueError):
    """A roster, team list or class folder the class target cannot use: what is wrong and what to do."""


@dataclass(frozen=True)
class Learner:
    """One learner of the class: name, team and key id (the secret is handed out once, never stored)."""

    key_id: str
    learner: str
    team: str


def read_roster(path: str | Path) -> list[tuple[str, str]]:
    """(learner, team) rows from a CSV file with the columns learner,team."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise ClassSetupError(f"The roster {path} cannot be read ({exc.strerror}).") from None
    if not rows or not {"learner", "team"} <= set(rows[0]):
        raise ClassSetupError(f"The roster {path} needs a header line 'learner,team' and one line per learner.")
    out, seen = [], set()
    for i, row in enumerate(rows, start=2):
        name, team = (row["learner"] or "").strip(), (row["team"] or "").strip().lower()
        if not LEARNER_NAME.fullmatch(name) or not TEAM_NAME.fullmatch(team):
            raise ClassSetupError(f"{path}, line {i}: learner names are up to 40 letters, digits, spaces, . ' or -, "
                                  f"team names up to 32 lower-case letters, digits or - (got {name!r}, {team!r}).")
        if name.lower() in seen:
            raise ClassSetupError(f"{path}, line {i}: {name!r} is listed twice; give each learner one line.")
        seen.add(name.lower())
        out.append((name, team))
    return out


def _key_id(name: str, taken: set) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:24] or "learner"
    key_id, i = base, 2
    while key_id in taken or key_id in ORDINARY_CLIENTS or key_id in (*HOUSE_KEYS, "instructor"):
        key_id, i = f"{base}-{i}", i + 1
    return key_id


class ClassDB:
    """class.sqlite: roster, rounds, submissions, ordinary traffic (one connection, one lock, WAL)."""

    def __init__(self, path: Path):
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self.lock = threading.Lock()

    def query(self, sql: str, args=()) -> list:
        """Rows of a read."""
        with self.lock:
            return self._db.execute(sql, args).fetchall()

    def write(self, sql: str, args=()) -> int:
        """One write, committed; returns the last row id."""
        with self.lock:
            return self._db.execute(sql, args).lastrowid

    def meta(self, name: str) -> str | None:
        """A stored setting."""
        rows = self.query("SELECT value FROM meta WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def close(self) -> None:
        """Close the connection."""
        with self.lock:
            self._db.close()


@dataclass
class Door:
    """One blue team's door for one round: its policy, its service (and audit log) and its HTTP app."""

    team: str
    policy: BluePolicy
    service: ModelService
    app: object


def _audit_counts(path: Path) -> tuple[dict, dict]:
    """From a door's audit log: per key (queries answered, requests answered), and per key its alerts."""
    if not path.exists():
        return {}, {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        answered = {k: (int(q or 0), int(r)) for k, q, r in db.execute(
            "SELECT key_id, SUM(n_inputs), COUNT(*) FROM requests WHERE endpoint = 'predict' AND status = 200 "
            "GROUP BY key_id")}
        alerts = {k: int(n) for k, n in db.execute("SELECT key_id, COUNT(*) FROM alerts GROUP BY key_id")}
    finally:
        db.close()
    return answered, alerts


class ClassTarget:
    """A class's shared target: doors, keys, rounds, the referees, the ordinary traffic and the scoreboard."""

    def __init__(self, folder: str | Path, policies: dict[str, str | Path], roster: str | Path | None = None,
                 setup: ClassSetup | None = None, sources: str = "address"):
        """Open the class in folder (a new class needs a roster), with one policy file per blue team.

        sources: 'address' (the detector and the refusal limit count per network address) or 'key' (per key:
        learners who all reach the service from one address, as on a one-server hub).
        """
        if sources not in ("address", "key"):
            raise ClassSetupError(f"sources must be 'address' or 'key' (got {sources!r}).")
        bad = [t for t in policies if not TEAM_NAME.fullmatch(t)]
        if bad or not policies:
            raise ClassSetupError(f"Blue team names are up to 32 lower-case letters, digits or - (got {bad}); "
                                  "give at least one blue team with its policy file (--blue TEAM=FILE).")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.policy_files = {team: Path(p) for team, p in policies.items()}
        self.sources = sources
        existed = (self.folder / "class.sqlite").exists()
        self.db = ClassDB(self.folder / "class.sqlite")
        self.new_keys: dict[str, tuple[str, str]] = {}  # learner -> (team, secret), for this start's handout
        try:
            self._check_or_store_doors(existed)
            if roster is not None:
                self._add_learners(read_roster(roster))
            if not existed and roster is None:
                raise ClassSetupError(f"{self.folder} holds no class yet: give the roster (--roster FILE.csv).")
            self.setup = setup or class_setup()
            self.setup.warm_up()
            self.setup.uninformed_people()  # the people a blank image passes two referees for (computed once)
            self.served = face_endpoint(self.setup.target)
            self.served.description = "the class target: a face recogniser of 20 private people (lab 08's model)"
            self._process_secrets = {name: "lab-" + secrets.token_urlsafe(18) for name in (*HOUSE_KEYS, *ORDINARY_CLIENTS)}
            self._retired: list[Door] = []
            self._swap = threading.Lock()
            self._boards: dict = {}
            self.front = ModelService([], self._front_policy(), self.folder / "front.sqlite")
            self.front.endpoints = ("GET /health, GET /class/scoreboard, GET /class/scoreboard.json, GET /class/doors, "
                                    "GET /class/gallery?round=N (a finished round), "
                                    "POST /class/submit, POST /class/next-round, and each door's API under "
                                    "/doors/<team>/ (GET /v1/models, POST /v1/models/faces/predict)")
            rounds = self.db.query("SELECT n, policies FROM rounds ORDER BY n DESC LIMIT 1")
            if rounds:  # a restart: the round's own policies, not the files as they are now
                n, texts = rounds[0][0], json.loads(rounds[0][1])
                self.round, self.doors = n, self._open_doors(n, {t: parse_blue_policy(t, texts[t], f"round {n}")
                                                                 for t in self.teams})
            else:
                self.round, self.doors = 0, {}
                self.next_round()
        except BaseException:
            self.db.close()
            raise

    # ---- roster and keys
    def _check_or_store_doors(self, existed: bool) -> None:
        stored = self.db.meta("teams")
        if stored is None:
            secret = "lab-" + secrets.token_urlsafe(24)
            self.db.write("INSERT INTO meta VALUES ('teams', ?)", (json.dumps(sorted(self.policy_files)),))
            self.db.write("INSERT INTO meta VALUES ('instructor', ?)", (hash_secret(secret),))
            self.new_keys["instructor"] = ("instructor", secret)
        elif sorted(json.loads(stored)) != sorted(self.policy_files):
            raise ClassSetupError(f"This class's blue teams are {', '.join(json.loads(stored))}; give one policy file "
                                  "for each (--blue TEAM=FILE), or start a new class in another folder.")
        self.teams = sorted(json.loads(self.db.meta("teams")))

    def _add_learners(self, rows: list[tuple[str, str]]) -> None:
        known = {name.lower() for (name,) in self.db.query("SELECT learner FROM learners")}
        taken = {k for (k,) in self.db.query("SELECT key_id FROM learners")}
        for name, team in rows:
            if name.lower() in known:
                continue  # already has a key (a restart, or a roster with late arrivals added)
            key_id, secret = _key_id(name, taken), "lab-" + secrets.token_urlsafe(18)
            taken.add(key_id)
            self.db.write("INSERT INTO learners VALUES (?, ?, ?, ?)", (key_id, name, team, hash_secret(secret)))
            self.new_keys[name] = (team, secret)

    @property
    def learners(self) -> list[Learner]:
        """Everyone on the roster."""
        return [Learner(*row) for row in self.db.query("SELECT key_id, learner, team FROM learners ORDER BY learner")]

    def red(self, learner: Learner) -> bool:
        """Is this learner on a red team (any team without a door)?"""
        return learner.team not in self.teams

    def _front_policy(self) -> AccessPolicy:
        policy = AccessPolicy(roles=dict(FRONT_ROLES))
        for key_id, secret_hash in self.db.query("SELECT key_id, secret_hash FROM learners"):
            policy.adopt_key(key_id, "learner", secret_hash)
        policy.adopt_key("instructor", "instructor", self.db.meta("instructor"))
        for key_id in HOUSE_KEYS:
            policy.issue_key(key_id, "learner", self._process_secrets[key_id])
        return policy

    def secret(self, client: str) -> str:
        """The secret of one of the service's own clients: a house key or an ordinary client (this process only)."""
        return self._process_secrets[client]

    def write_keys(self, path: str | Path) -> Path:
        """The keys issued at this start as a CSV handout (learner, team, key); only new learners' keys exist."""
        path = Path(path)
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["learner", "team", "key"])
            for name, (team, secret) in sorted(self.new_keys.items()):
                writer.writerow([name, team, secret])
        path.chmod(0o600)
        return path

    # ---- rounds and doors
    def _open_doors(self, n: int, policies: dict[str, BluePolicy]) -> dict[str, Door]:
        doors = {}
        learners = self.db.query("SELECT key_id, secret_hash FROM learners")
        for team, blue in policies.items():
            access = blue.access_policy()
            for key_id, secret_hash in learners:
                access.adopt_key(key_id, "app", secret_hash)
            for key_id in HOUSE_KEYS:
                access.issue_key(key_id, "app", self._process_secrets[key_id])
            for client, role in ORDINARY_CLIENTS.items():
                access.issue_key(client, role, self._process_secrets[client])
            (self.folder / f"round-{n}").mkdir(exist_ok=True)
            log = AuditLog(self.folder / f"round-{n}" / f"{team}.sqlite")
            service = ModelService([self.served], access, log, detector=blue.make_detector())
            doors[team] = Door(team, blue, service, make_app(service))
        return doors

    def next_round(self) -> dict:
        """Read every blue team's policy file and start the next round (PolicyFileError: nothing changes)."""
        policies = {team: read_blue_policy(team, self.policy_files[team]) for team in self.teams}
        with self._swap:
            n = self.round + 1
            doors = self._open_doors(n, policies)
            self.db.write("INSERT INTO rounds VALUES (?, ?, ?)",
                          (n, time.time(), json.dumps({t: p.text for t, p in policies.items()})))
            self._retired += list(self.doors.values())
            self.round, self.doors = n, doors
            self._boards.clear()
        return {"round": n, "doors": {t: p.summary() for t, p in policies.items()}}

    def close(self) -> None:
        """Close every audit log and the class database."""
        for door in [*self._retired, *self.doors.values()]:
            door.service.close()
        self.front.close()
        self.db.close()

    # ---- submissions
    def submit(self, key_id: str | None, body: bytes | None) -> Reply:
        """Judge one reconstruction a red learner sends: {"door", "person", "image": base64 float32 64x64}.

        body None: the body was longer than a submission may be (it was not read to its end).
        """
        if key_id is None:
            raise InputError(401, "missing or unknown API key: send your class key in the X-API-Key header")
        rows = self.db.query("SELECT key_id, learner, team FROM learners WHERE key_id = ?", (key_id,))
        if key_id != HOUSE and (not rows or not self.red(Learner(*rows[0]))):
            raise InputError(403, "only red team members submit reconstructions; blue teams defend their doors")
        if body is None or len(body) > MAX_SUBMISSION_BYTES:
            raise InputError(413, f"a submission is one 64x64 image, at most {MAX_SUBMISSION_BYTES:,} bytes")
        try:
            data = json.loads(body)
            door, person, image = data["door"], data["person"], data["image"]
        except (ValueError, KeyError, TypeError):
            raise InputError(422, 'send JSON {"door": TEAM, "person": NUMBER, "image": base64 of 4096 float32 in [0, 1]} '
                                  "(submit_reconstruction does this)") from None
        if door not in self.doors:
            raise InputError(404, f"no door {str(door)[:40]!r}; doors: {', '.join(self.teams)}")
        people = [int(p) for p in self.setup.people]
        if isinstance(person, bool) or not isinstance(person, int) or person not in people:
            raise InputError(422, f"person must be one of the people the model was trained on: {people}")
        try:
            pixels = np.frombuffer(base64.b64decode(str(image), validate=True), dtype="<f4")
        except (binascii.Error, ValueError):
            raise InputError(422, "image must be base64 of 4096 little-endian float32 values") from None
        if pixels.size != 4096 or not np.isfinite(pixels).all() or pixels.min() < 0 or pixels.max() > 1:
            raise InputError(422, f"image must be 4096 finite values in [0, 1] (a 64x64 face); got {pixels.size} values")
        with self._swap:
            n, service = self.round, self.doors[door].service
        answered, _ = _audit_counts(service.audit_path)
        if answered.get(key_id, (0, 0))[0] == 0:
            raise InputError(409, f"you have no answered queries at door {door} this round: attack through it first")
        used = self.db.query("SELECT COUNT(*) FROM submissions WHERE round = ? AND key_id = ? AND door = ? AND person = ?",
                             (n, key_id, door, person))[0][0]
        if used >= TRIES_PER_PERSON:
            raise InputError(429, f"you have used your {TRIES_PER_PERSON} submissions for person {person} at door {door} "
                                  "this round; your best one counts")
        verdict = self.setup.verdict(pixels, person)
        thumbnail = np.clip(np.round(pixels * 255), 0, 255).astype(np.uint8).tobytes()
        self.db.write("INSERT INTO submissions (time, round, key_id, door, person, image, evaluator, closer, "
                      "correlation, copy, recovered) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (time.time(), n, key_id, door, person, thumbnail, verdict["evaluator"],
                       verdict["closer than public"], verdict["correlation"], verdict["copy"], verdict["recovered"]))
        self._boards.clear()
        note = ("refused as a copy: it matches a photo of the data set (smoothed correlation "
                f"{verdict['copy_score']}); submit what your attack reconstructed" if verdict["copy"] else
                "recovered: the evaluator names the person and it is closer to their private photos than to any "
                "public face" if verdict["recovered"] else "not recovered: " + ", ".join(
                    f"{j} {'yes' if verdict[j] else 'no'}" for j in JUDGES)
                + (" (a template leak: it matches their photos, but no referee recognises the face)"
                   if verdict["correlation"] else ""))
        return Reply(200, {"round": n, "door": door, "person": person, "recovered": verdict["recovered"],
                           "judges": {j: verdict[j] for j in JUDGES}, "copy": verdict["copy"],
                           "tries_left": TRIES_PER_PERSON - used - 1, "verdict": note})

    # ---- ordinary traffic
    def record_ordinary(self, door: str, client: str, served: bool, n_round: int | None = None) -> None:
        """Count one ordinary request at a door this round, and whether it got what the client needed."""
        self.db.write("INSERT INTO ordinary VALUES (?, ?, ?, 1, ?) ON CONFLICT (round, door, client) DO UPDATE SET "
                      "sent = sent + 1, served = served + excluded.served",
                      (n_round or self.round, door, client, int(served)))

    # ---- the scoreboard
    def scoreboard(self, n_round: int | None = None) -> dict:
        """The round's scores: per red learner and per blue team (cached for two seconds)."""
        n = self.round if n_round is None else int(n_round)
        cached = self._boards.get(n)
        if cached and time.monotonic() - cached[0] < 2.0:
            return cached[1]
        board = self._scoreboard(n)
        self._boards[n] = (time.monotonic(), board)
        return board

    def _scoreboard(self, n: int) -> dict:
        rounds = self.db.query("SELECT n, started, policies FROM rounds ORDER BY n")
        if not any(r[0] == n for r in rounds):
            raise InputError(404, f"no round {n}; rounds: {', '.join(str(r[0]) for r in rounds)}")
        texts = json.loads(next(r[2] for r in rounds if r[0] == n))
        policies = {t: parse_blue_policy(t, texts[t], f"round {n}") for t in self.teams}
        counts = {t: _audit_counts(self.folder / f"round-{n}" / f"{t}.sqlite") for t in self.teams}
        current = n == self.round
        subs = self.db.query("SELECT key_id, door, person, evaluator, closer, correlation, copy, recovered "
                             "FROM submissions WHERE round = ?", (n,))
        n_people = len(self.setup.people)
        red, rows = [], [*[lr for lr in self.learners if self.red(lr)], Learner(HOUSE, HOUSE_NAME, "house")]
        for lr in rows:
            mine = [s for s in subs if s[0] == lr.key_id]
            ids = HOUSE_KEYS if lr.key_id == HOUSE else (lr.key_id,)  # the house row counts all its keys
            if lr.key_id == HOUSE and not mine and not any(k in c[0] for c in counts.values() for k in ids):
                continue
            suspended = [t for t in self.teams if any(
                (current and k in self.doors[t].service.policy.suspended)
                or (not current and policies[t].block_on_alert and counts[t][1].get(k)) for k in ids)]
            red.append({"learner": lr.learner, "team": lr.team, "key_id": lr.key_id, "keys": len(ids),
                        "recovered": len({s[2] for s in mine if s[7]}),
                        "template_only": len({s[2] for s in mine if s[5]} - {s[2] for s in mine if s[7]}),
                        **{judge: len({s[2] for s in mine if s[3 + i]}) for i, judge in enumerate(JUDGES)},
                        "submissions": len(mine), "copies": sum(s[6] for s in mine),
                        "queries": sum(c[0].get(k, (0, 0))[0] for c in counts.values() for k in ids),
                        "alerts": sum(c[1].get(k, 0) for c in counts.values() for k in ids), "suspended_at": suspended})
        red.sort(key=lambda r: (-r["recovered"], r["queries"], r["learner"]))
        ordinary = {(d, c): (s, v) for d, c, s, v in self.db.query(
            "SELECT door, client, sent, served FROM ordinary WHERE round = ?", (n,))}
        blue = []
        for t in self.teams:
            sent = sum(s for (d, _), (s, _) in ordinary.items() if d == t)
            served = sum(v for (d, _), (_, v) in ordinary.items() if d == t)
            by_kind = {kind: (sum(ordinary.get((t, c), (0, 0))[0] for c, r in ORDINARY_CLIENTS.items() if r == kind),
                              sum(ordinary.get((t, c), (0, 0))[1] for c, r in ORDINARY_CLIENTS.items() if r == kind))
                       for kind in ("camera", "app")}
            against = [s for s in subs if s[1] == t and s[0] != HOUSE]
            house = [s for s in subs if s[1] == t and s[0] == HOUSE]
            blue.append({"team": t, "members": [lr.learner for lr in self.learners if lr.team == t],
                         "policy": policies[t].summary(),
                         "utility": None if sent == 0 else served / sent, "ordinary_sent": sent,
                         "utility_by_kind": {k: (None if s == 0 else v / s) for k, (s, v) in by_kind.items()},
                         "people_recovered": len({s[2] for s in against if s[7]}),
                         "house_recovered": len({s[2] for s in house if s[7]}) if house else None,
                         "red_queries": sum(q for k, (q, _) in counts[t][0].items() if k not in ORDINARY_CLIENTS),
                         "alerts_on_red": sum(a for k, a in counts[t][1].items() if k not in ORDINARY_CLIENTS),
                         "false_alarms": sum(a for k, a in counts[t][1].items() if k in ORDINARY_CLIENTS)})
        started = next(r[1] for r in rounds if r[0] == n)
        return {"round": n, "rounds": [r[0] for r in rounds], "current": current, "started": started,
                "people": n_people, "red": red, "blue": blue}

    def gallery(self, n_round: int) -> list[dict]:
        """A finished round's best submission per person (recovered first, then by referees), for the debrief."""
        if n_round >= self.round:
            raise InputError(409, f"the gallery of round {n_round} opens when the round has ended (the instructor "
                                  "starts the next round): no learner sees another's reconstructions while it runs")
        rows = self.db.query("SELECT s.person, s.key_id, s.door, s.image, s.evaluator, s.closer, s.correlation, "
                             "s.recovered, COALESCE(l.learner, s.key_id) FROM submissions s LEFT JOIN learners l "
                             "ON l.key_id = s.key_id WHERE s.round = ? AND s.copy = 0 "
                             "ORDER BY s.recovered DESC, s.evaluator + s.closer + s.correlation DESC, s.id",
                             (n_round,))
        best: dict[int, dict] = {}
        for person, key_id, door, image, ev, cl, co, rec, name in rows:
            if person not in best:
                best[person] = {"person": person, "learner": HOUSE_NAME if key_id == HOUSE else name,
                                "door": door, "recovered": bool(rec), "judges": dict(zip(JUDGES, map(bool, (ev, cl, co)))),
                                "image": png_data_uri(np.frombuffer(image, dtype=np.uint8).reshape(64, 64))}
        return [best[p] for p in sorted(best)]

    # ---- HTTP
    def asgi(self):
        """The service's ASGI app: /doors/<team>/... to that door's lab 06 app, the rest to the class routes."""
        return ClassApp(self)


DOOR_PATH = re.compile(r"/doors/([a-z0-9][a-z0-9-]{0,31})(/.*)?")


class ClassApp:
    """ASGI: route /doors/<team>/ to the team's current door (each logs its own requests), the rest to the class app."""

    def __init__(self, target: ClassTarget):
        self.target = target
        self.class_app = class_routes(target)
        self._ids: dict[str, str] = {}

    def _source(self, scope) -> tuple | None:
        """The client as the door sees it: with sources='key', 'key-id@address', so each key is its own source."""
        client = scope.get("client")
        if self.target.sources != "key" or not client:
            return client
        from starlette.datastructures import Headers

        secret = secret_of(Headers(scope=scope))
        if not secret:
            return client
        digest = hash_secret(secret)
        if digest not in self._ids:
            rows = self.target.db.query("SELECT key_id FROM learners WHERE secret_hash = ?", (digest,))
            own = [c for c in (*HOUSE_KEYS, *ORDINARY_CLIENTS) if hash_secret(self.target.secret(c)) == digest]
            if not rows and not own:
                return client
            # the house attacker's keys are one red team on one machine: one source, as an address would show them
            self._ids[digest] = rows[0][0] if rows else (HOUSE if own[0] in HOUSE_KEYS else own[0])
        return (f"{self._ids[digest]}@{client[0]}", client[1])

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            match = DOOR_PATH.fullmatch(scope.get("path", ""))
            door = self.target.doors.get(match.group(1)) if match else None
            if door is not None:
                inner = match.group(2) or "/"
                scope = dict(scope, path=inner, raw_path=inner.encode("utf-8", "replace"), client=self._source(scope))
                return await door.app(scope, receive, send)
        return await self.class_app(scope, receive, send)


def class_routes(target: ClassTarget):
    """The class routes (scoreboard, submit, next round, doors) and /health, each logged in the front audit log."""
    from fastapi import FastAPI, Request
    from fastapi.responses import HTMLResponse, JSONResponse
    from starlette.concurrency import run_in_threadpool

    from ..service.server import CompleteLog
    from .scoreboard import render_scoreboard

    app = FastAPI(title="Model Inversion Lab: class target", docs_url=None, redoc_url=None, openapi_url=None)
    front = target.front

    def client_of(request: Request) -> str | None:
        return f"{request.client.host}:{request.client.port}" if request.client else None

    async def handled(request: Request, endpoint: str, work):
        reply = await run_in_threadpool(front.handle_other, endpoint, request.method, request.url.path,
                                        secret_of(request.headers), client_of(request), work)
        request.state.logged = True
        return reply

    def as_json(reply: Reply) -> JSONResponse:
        return JSONResponse({k: v for k, v in reply.payload.items() if k != "throttled"}, status_code=reply.status,
                            headers=reply.headers)

    def board_of(request: Request) -> Reply:
        chosen = request.query_params.get("round")
        if chosen is not None and not chosen.isdigit():
            raise InputError(422, "round must be a round number, e.g. ?round=1")
        return Reply(200, target.scoreboard(None if chosen is None else int(chosen)))

    @app.get("/health")
    async def health(request: Request):
        request.state.logged = True
        return as_json(await run_in_threadpool(front.health, client_of(request)))

    @app.get("/class/scoreboard")
    async def scoreboard(request: Request):
        reply = await handled(request, "scoreboard", lambda key: board_of(request))
        if reply.status != 200:
            return as_json(reply)
        return HTMLResponse(render_scoreboard(reply.payload), headers={"Cache-Control": "no-store"})

    @app.get("/class/scoreboard.json")
    async def scoreboard_json(request: Request):
        return as_json(await handled(request, "scoreboard", lambda key: board_of(request)))

    @app.get("/class/gallery")
    async def gallery(request: Request):
        from .scoreboard import render_gallery

        def work(key) -> Reply:
            chosen = request.query_params.get("round", "")
            if not chosen.isdigit():
                raise InputError(422, "give a finished round, e.g. /class/gallery?round=1")
            return Reply(200, {"round": int(chosen), "items": target.gallery(int(chosen))})

        reply = await handled(request, "gallery", work)
        if reply.status != 200:
            return as_json(reply)
        return HTMLResponse(render_gallery(reply.payload["round"], reply.payload["items"], len(target.setup.people)),
                            headers={"Cache-Control": "no-store"})

    @app.get("/class/doors")
    async def doors(request: Request):
        def work(key) -> Reply:
            return Reply(200, {"round": target.round, "people": [int(p) for p in target.setup.people],
                               "doors": {t: {"url": f"/doors/{t}", "policy": d.policy.summary(),
                                             "detector": d.policy.detector, "blocks": d.policy.block_on_alert}
                                         for t, d in target.doors.items()}})
        return as_json(await handled(request, "doors", work))

    @app.post("/class/submit")
    async def submit(request: Request):
        body, size = [], 0
        async for chunk in request.stream():  # bounded read: a submission is one small image
            size += len(chunk)
            if size > MAX_SUBMISSION_BYTES:
                break
            body.append(chunk)
        data = None if size > MAX_SUBMISSION_BYTES else b"".join(body)  # None: over the limit, the rest unread
        return as_json(await handled(request, "submit", lambda key: target.submit(key and key.key_id, data)))

    @app.post("/class/next-round")
    async def next_round(request: Request):
        def work(key) -> Reply:
            if key is None or key.role != "instructor":
                raise InputError(403 if key else 401, "only the instructor's key starts a round")
            try:
                return Reply(200, target.next_round())
            except PolicyFileError as exc:
                raise InputError(422, f"{exc} -- the round did not change") from None
        return as_json(await handled(request, "next-round", work))

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
    async def anything_else(path: str, request: Request):
        secret = secret_of(request.headers)
        reply = await run_in_threadpool(front.not_found, request.method, "/" + path, client_of(request), secret)
        request.state.logged = True
        return as_json(reply)

    return CompleteLog(app, front)

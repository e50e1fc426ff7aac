"""The red-team/blue-team round: policy files, one shared target with a door per blue team, 20 concurrent red learners
and ordinary traffic on 127.0.0.1, judged submissions, rounds without a restart, scores that survive one."""
from __future__ import annotations

import base64
import csv
import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from lab_helpers.attacks import fit_pca_prior
from lab_helpers.classroom import (
    POLICY_TEMPLATE,
    ClassSetupError,
    ClassTarget,
    PolicyFileError,
    attack_door,
    class_setup,
    parse_blue_policy,
    plan_attack,
    read_roster,
    render_scoreboard,
    open_door,
    submit_reconstruction,
    wait_for,
)
from lab_helpers.classroom.shared_target import HOUSE_KEYS
from lab_helpers.defences import read_requests
from lab_helpers.defences.audit import verify_log
from lab_helpers.service.client import ApiError

RED = 20  # concurrent red learners in the round
# door "blue-watch": scores, and the adaptive detector with a low identity threshold that suspends the key it flags
WATCH = POLICY_TEMPLATE.replace('outputs = ["probabilities", "label_score", "label"]',
                                'outputs = ["label_score", "probabilities", "label"]').replace(
    'kind = "adaptive"', 'kind = "adaptive"\nidentity_per_day = 60').replace("block_on_alert = false",
                                                                             "block_on_alert = true")
# door "blue-labels": labels only for app keys, and a quota of 150 queries per key (the attacker spends what it allows)
LABELS_ONLY = POLICY_TEMPLATE.replace('outputs = ["probabilities", "label_score", "label"]', 'outputs = ["label"]').replace(
    "burst = 500 ", "burst = 100 ").replace("per_day = 100000", "per_day = 150", 1)
DOORS = {"blue-open": POLICY_TEMPLATE, "blue-watch": WATCH, "blue-labels": LABELS_ONLY}


# ---------------------------------------------------------------- policy files and rosters (no model)

def test_the_template_is_a_valid_policy_and_says_what_it_allows():
    policy = parse_blue_policy("blue-1", POLICY_TEMPLATE)
    assert [p.kind for p in policy.roles["app"].outputs] == ["probabilities", "label_score", "label"]
    assert policy.roles["camera"].limit.per_minute == 300 and policy.detector == "adaptive"  # issue 25: the default
    assert "probabilities" in policy.summary() and "adaptive detector" in policy.summary()
    assert parse_blue_policy("blue-0", POLICY_TEMPLATE.replace('kind = "adaptive"', "")).detector == "adaptive"
    labels = parse_blue_policy("blue-2", LABELS_ONLY)
    assert [p.kind for p in labels.roles["app"].outputs] == ["label"] and labels.roles["app"].limit.per_day == 150
    watch = parse_blue_policy("blue-3", WATCH)
    assert watch.block_on_alert and watch.make_detector().identity_per_day == 60


@pytest.mark.parametrize("change, words", [
    (("[roles.camera]", "[roles.cameras]"), "needs exactly the roles"),
    (('outputs = ["label"]', 'outputs = ["blurred"]'), "Unknown output policy 'blurred'"),
    (("burst = 100", "burst = 0"), "burst must be a whole number"),
    (("per_minute = 300", "per_minute = 300\nper_hour = 5"), "unknown field(s) ['per_hour']"),
    (('kind = "adaptive"', 'kind = "baseline"\nidentity_per_day = 9'), "does not know"),
    (('kind = "adaptive"', 'kind = "magic"'), "kind must be one of none, baseline, adaptive"),
    (("max_batch = 50", "max_batch = 500"), "max_batch must be a whole number from 1 to 100"),
    (("max_batch = 50", "max_batch = [50"), "not valid TOML"),
])
def test_a_broken_policy_file_says_which_field_and_what_to_write(change, words):
    broken = POLICY_TEMPLATE.replace(*change)
    assert broken != POLICY_TEMPLATE
    with pytest.raises(PolicyFileError, match="blue-9") as caught:
        parse_blue_policy("blue-9", broken, "blue-9.toml")
    assert words in str(caught.value) and "blue-9.toml" in str(caught.value)


def test_a_roster_needs_its_header_and_one_line_per_learner(tmp_path):
    good = tmp_path / "roster.csv"
    good.write_text("learner,team\nAna Lima,Red-1\nBen,blue-1\n", encoding="utf-8")
    assert read_roster(good) == [("Ana Lima", "red-1"), ("Ben", "blue-1")]
    for text, words in [("name,group\nAna,red\n", "header line"), ("learner,team\nAna,red\nana,red\n", "listed twice"),
                        ("learner,team\n<b>x</b>,red\n", "learner names are")]:
        bad = tmp_path / "bad.csv"
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(ClassSetupError, match=words):
            read_roster(bad)


# ---------------------------------------------------------------- one class: two doors, 20 red learners, 2 blue

@pytest.fixture(scope="module")
def setup():
    return class_setup()


def start_class_process(folder: Path, policies: dict, roster: Path | None = None) -> tuple[subprocess.Popen, str]:
    """`python -m lab_helpers class-target start` in its own process, as an instructor runs it; (process, URL)."""
    command = [sys.executable, "-m", "lab_helpers", "class-target", "start", "--folder", str(folder), "--port", "0",
               "--sources", "key", "--ordinary-every", "0.5", "--keys-out", str(folder / "keys.csv")]
    command += [arg for team, path in policies.items() for arg in ("--blue", f"{team}={path}")]
    command += ["--roster", str(roster)] if roster else []
    path = folder / "server.log"
    before = path.stat().st_size if path.exists() else 0  # a restart appends: read only what this start wrote
    log = open(path, "a", encoding="utf-8")  # noqa: SIM115 - the process writes it until stopped
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
    news = lambda: path.read_bytes()[before:].decode("utf-8", "replace")  # noqa: E731
    try:
        found = wait_for(lambda: process.poll() is not None or "Class target on http" in news(), 180)
        text = news()
        assert found and process.poll() is None, text
        url = text.rsplit("Class target on ", 1)[1].split()[0]
        assert wait_for(lambda: httpx.get(f"{url}/health", trust_env=False).status_code == 200, 30)
    except BaseException:  # a start that failed leaves no server behind
        process.kill()
        process.wait(30)
        raise
    return process, url


def stop_class_process(process: subprocess.Popen) -> str:
    """Ctrl-C, as the instructor stops it; returns how it ended."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
        return "killed"
    return f"exit {process.returncode}"


@pytest.fixture(scope="module")
def classroom(tmp_path_factory, setup):
    folder = tmp_path_factory.mktemp("class")
    for team, text in DOORS.items():
        (folder / f"{team}.toml").write_text(text, encoding="utf-8")
    roster = folder / "roster.csv"
    lines = [f"red learner {i:02d},red-{1 + i % 4}" for i in range(RED)] + ["Bo,blue-open", "Lu,blue-labels",
                                                                         "Wu,blue-watch"]
    roster.write_text("learner,team\n" + "\n".join(lines) + "\n", encoding="utf-8")
    policies = {team: folder / f"{team}.toml" for team in DOORS}
    process, url = start_class_process(folder, policies, roster)
    with open(folder / "keys.csv", newline="", encoding="utf-8") as f:
        keys = {row["learner"]: row["key"] for row in csv.DictReader(f)}
    state = {"process": process, "url": url, "keys": keys, "folder": folder, "policies": policies, "setup": setup,
             "runs": {}}
    yield state
    if state["process"].poll() is None:
        stop_class_process(state["process"])


pytestmark_group = pytest.mark.xdist_group("class-target")


@pytest.fixture(scope="module")
def round_one(classroom):
    """Twenty red learners attack at once, each through one of the three doors, while ordinary traffic flows.

    Even-numbered learners read the door's published detector and plan for it (`attack_door` by default); odd-numbered
    ones attack as if nobody watched (rules={}), as a learner who skipped that step does."""
    url, keys, setup = classroom["url"], classroom["keys"], classroom["setup"]
    people = setup.people
    runs, errors = {}, []
    prior = fit_pca_prior(setup.public)  # each learner fits the same eigenfaces on their own machine; here once

    def learner(i: int) -> None:
        name = f"red learner {i:02d}"
        door = list(DOORS)[i % 3]
        mine = people[[(2 * i) % len(people), (2 * i + 1) % len(people)]]
        try:
            runs[name] = attack_door(url, keys[name], door, mine, prior, queries_per_person=120, patience=30, seed=i,
                                     rules={} if i % 2 else None)
        except Exception as exc:  # noqa: BLE001 - collected and reported below
            errors.append(f"{name}: {exc!r}")

    threads = [threading.Thread(target=learner, args=(i,), daemon=True) for i in range(RED)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not any(t.is_alive() for t in threads), "a red learner did not finish within 300 s"
    assert errors == []
    classroom["runs"] = runs
    return runs


@pytest.mark.slow
@pytestmark_group
@pytest.mark.timeout(600)
def test_twenty_red_learners_attack_at_once_while_ordinary_traffic_flows(classroom, round_one):
    url, runs = classroom["url"], round_one
    assert len(runs) == RED
    at = {door: [r for r in runs.values() if r.door == door] for door in DOORS}
    blind = {f"red learner {i:02d}" for i in range(1, RED, 2)}
    watch_blind = [r for name, r in runs.items() if r.door == "blue-watch" and name in blind]
    watch_aware = [r for name, r in runs.items() if r.door == "blue-watch" and name not in blind]
    # the attacker adapts to the door: the most revealing scores it may ask for, else the label-only attack; at the
    # door whose adaptive detector blocks on scored answers about one person, the learners who read it ask for labels
    assert {(r.attack, r.output) for r in at["blue-open"]} == {("black-box (prior)", "probabilities")}
    assert {(r.attack, r.output) for r in watch_blind} == {("black-box (prior)", "probabilities")}
    assert {(r.attack, r.output) for r in watch_aware} == {("label-only (prior)", "label")}
    assert {(r.attack, r.output) for r in at["blue-labels"]} == {("label-only (prior)", "label")}
    # the open door lets everyone finish; the watching door suspends learners who did not plan for it, and not those
    # who did; the quota stops the label-only attack
    assert all(r.stopped_by == "finished" and len(r.verdicts) == 2 for r in at["blue-open"])
    assert "HTTP 403" in {r.stopped_by for r in watch_blind} <= {"HTTP 403", "finished"}
    assert all(r.stopped_by == "finished" and len(r.verdicts) + len(r.no_signal) == 2 for r in watch_aware)
    # the attacker knows the quota (150 per key) and spends what it allows instead of being stopped halfway
    assert all(r.stopped_by == "finished" and r.queries <= 150 and len(r.verdicts) + len(r.no_signal) == 2
               for r in at["blue-labels"])
    # the scoreboard counts exactly what the service answered each learner
    assert wait_for(lambda: min(b["ordinary_sent"] for b in _board(url, 1)["blue"]) >= 24, 90)
    board = _board(url, 1)
    by_name = {r["learner"]: r for r in board["red"]}
    for name, run in runs.items():
        assert by_name[name]["queries"] == run.queries, name
        assert by_name[name]["submissions"] == sum("error" not in v for v in run.verdicts.values()), name
        # template only: people whose face the correlation referee matched but who were not recognised
        matched = {p for p, v in run.verdicts.items() if v.get("judges", {}).get("correlation")}
        recognised = {p for p, v in run.verdicts.items() if v.get("recovered")}
        assert by_name[name]["template_only"] == len(matched - recognised), name
        # a 403 that stops an attack is a suspension; a key is suspended only where an alert flagged it, and only
        # at the door that blocks (its last answer may have been the one that raised the alert)
        if run.stopped_by == "HTTP 403":
            assert by_name[name]["suspended_at"] == ["blue-watch"], name
        if by_name[name]["suspended_at"]:
            assert by_name[name]["suspended_at"] == ["blue-watch"] == [run.door] and by_name[name]["alerts"] >= 1, name
        if run.door == "blue-watch" and name not in blind:
            assert by_name[name]["alerts"] == 0 and by_name[name]["suspended_at"] == [], name
    blue = {b["team"]: b for b in board["blue"]}
    assert blue["blue-open"]["red_queries"] == sum(r.queries for r in at["blue-open"])
    assert blue["blue-open"]["people_recovered"] == len({p for r in at["blue-open"] for p, v in r.verdicts.items()
                                                         if v["recovered"]})
    assert blue["blue-watch"]["alerts_on_red"] >= sum(r.stopped_by == "HTTP 403" for r in at["blue-watch"])
    # what each door still gives its ordinary callers: all of it where scores are allowed and no one is flagged by
    # mistake; the labels-only door refuses its apps the score they need, while its cameras are still served
    for door in ("blue-open", "blue-watch"):
        assert blue[door]["utility"] >= 0.85 and blue[door]["false_alarms"] == 0, blue[door]
    assert blue["blue-labels"]["utility_by_kind"]["app"] == 0.0
    assert blue["blue-labels"]["utility_by_kind"]["camera"] >= 0.95


def _board(url: str, n: int | None = None) -> dict:
    params = {} if n is None else {"round": n}
    response = httpx.get(f"{url}/class/scoreboard.json", params=params, timeout=30, trust_env=False)
    assert response.status_code == 200, response.text
    return response.json()


def _image_of(setup, person: int, photo: int = 0) -> np.ndarray:
    return setup.private.images[setup.private.labels == person][photo]


@pytest.mark.slow
@pytestmark_group
@pytest.mark.timeout(300)
def test_an_image_with_no_information_recovers_no_one(setup):
    # measured: a flat grey square passed the evaluator and closer-than-public for one person, the eigenface prior's
    # centre (the average public face and its mirror image) for another; the referees must not count either
    average = setup.public.images.reshape(-1, 64, 64).mean(0)
    blanks = [np.full((64, 64), level) for level in (0.1, 0.25, 0.3, 0.45, 0.5, 0.55, 0.7, 0.9)]
    blanks += [average, (average + average[:, ::-1]) / 2, np.clip((average + average[:, ::-1]) / 2 * 1.1, 0, 1)]
    passed = {(i, int(p)) for i, image in enumerate(blanks) for p in setup.people
              if setup.verdict(image, int(p))["recovered"]}
    assert passed == set()
    assert setup.uninformed_people() <= {int(p) for p in setup.people}


@pytest.mark.slow
def test_submissions_are_judged_by_referees_not_the_target_and_bounded(classroom, round_one):
    url, keys, setup = classroom["url"], classroom["keys"], classroom["setup"]
    runs = classroom["runs"]
    name = next(n for n, r in runs.items() if r.door == "blue-open")
    key, person = keys[name], int(setup.people[0])
    with open_door(url, key, "blue-open") as door:  # answers at this door in the current round, whichever it is
        door.query(np.full((2, 4096), 0.5, dtype=np.float32))
    # a photo of the person is refused as a copy, even recontrasted and with noise; it recovers no one
    rng = np.random.default_rng(0)
    edited = np.clip(_image_of(setup, person) * 0.7 + 0.1 + rng.normal(0, 0.05, (64, 64)), 0, 1)
    verdict = submit_reconstruction(url, key, "blue-open", person, edited)
    assert verdict["copy"] and not verdict["recovered"] and "refused as a copy" in verdict["verdict"]
    # a grey square: every referee says no
    grey = submit_reconstruction(url, key, "blue-open", person, np.full((64, 64), 0.5))
    assert grey["judges"] == {"evaluator": False, "closer than public": False, "correlation": False} or \
        not grey["recovered"]
    with pytest.raises(ApiError, match="HTTP 429: you have used your 3 submissions"):
        for _ in range(3):
            submit_reconstruction(url, key, "blue-open", person, np.full((64, 64), 0.4))
    # the rules, each with its own status and a message that says what to do
    cases = [
        (keys["Bo"], "blue-open", person, 403, "only red team members"),
        (key, "blue-nowhere", person, 404, "no door"),
        (key, "blue-open", int(setup.public.people[0]), 422, "one of the people the model was trained on"),
        (keys["red learner 19"] if runs["red learner 19"].door != "blue-open" else keys["red learner 18"],
         "blue-open", person, 409, "no answered queries at door blue-open"),
        ("lab-not-a-key", "blue-open", person, 401, "missing or unknown API key"),
    ]
    for who, door, someone, status, words in cases:
        with pytest.raises(ApiError) as caught:
            submit_reconstruction(url, who, door, someone, np.full((64, 64), 0.5))
        assert caught.value.status == status and words in caught.value.message, (status, caught.value)
    for body, words in [(b"{}", "send JSON"), (json.dumps({"door": "blue-open", "person": person, "image": "!!"}).encode(),
                                               "base64"),
                        (json.dumps({"door": "blue-open", "person": person,
                                     "image": base64.b64encode(np.full(4096, 2, "<f4").tobytes()).decode()}).encode(),
                         "in [0, 1]"),
                        (b"x" * 70_000, "at most 65,536 bytes")]:
        response = httpx.post(f"{url}/class/submit", content=body, headers={"X-API-Key": key}, trust_env=False)
        assert response.status_code in (413, 422) and words in response.json()["error"], response.text
    # what is stored agrees with the rule: recovered = evaluator and closer than public, and never a copy
    with sqlite3.connect(classroom["folder"] / "class.sqlite") as db:
        rows = db.execute("SELECT evaluator, closer, copy, recovered FROM submissions").fetchall()
    assert rows and all(rec == int(ev and cl and not cp) for ev, cl, cp, rec in rows)


@pytestmark_group
@pytest.mark.timeout(300)
def test_a_new_round_reads_the_changed_policy_without_a_restart(classroom, round_one):
    url, keys, folder = classroom["url"], classroom["keys"], classroom["folder"]
    before = _board(url, 1)
    assert _board(url)["round"] == 1  # only this test starts a round
    path = classroom["policies"]["blue-labels"]
    original = path.read_text(encoding="utf-8")
    instructor = {"X-API-Key": keys["instructor"]}
    # a learner cannot start a round; a broken file leaves the round as it was
    refused = httpx.post(f"{url}/class/next-round", headers={"X-API-Key": keys["Lu"]}, trust_env=False)
    assert refused.status_code == 403
    path.write_text(original.replace("[roles.camera]", "[roles.kamera]"), encoding="utf-8")
    broken = httpx.post(f"{url}/class/next-round", headers=instructor, trust_env=False)
    assert broken.status_code == 422 and "the round did not change" in broken.json()["error"]
    assert _board(url)["round"] == before["round"]
    # the blue team gives its apps the top label's score back
    path.write_text(original.replace('outputs = ["label"]', 'outputs = ["label_score", "label"]', 1), encoding="utf-8")
    started = httpx.post(f"{url}/class/next-round", headers=instructor, timeout=60, trust_env=False)
    assert started.status_code == 200 and started.json()["round"] == before["round"] + 1
    suspended = next(r["learner"] for r in before["red"] if r["suspended_at"])
    watch = httpx.get(f"{url}/doors/blue-watch/v1/models", headers={"X-API-Key": keys[suspended]}, trust_env=False)
    assert watch.status_code == 200 and watch.json()["you"]["suspended"] is None  # a new round, a clean slate
    door = httpx.get(f"{url}/doors/blue-labels/v1/models", headers={"X-API-Key": keys[suspended]}, trust_env=False)
    assert door.status_code == 200 and door.json()["you"]["outputs"] == ["label_score", "label"]
    labels_door = lambda: next(b for b in _board(url)["blue"] if b["team"] == "blue-labels")  # noqa: E731
    assert wait_for(lambda: (labels_door()["utility_by_kind"]["app"] or 0) > 0.5, 60, every=0.5)
    # the finished round is still there, unchanged, and no longer reloads itself
    old = _board(url, before["round"])
    assert not old["current"] and [r["queries"] for r in old["red"]] == [r["queries"] for r in before["red"]]
    page = httpx.get(f"{url}/class/scoreboard", params={"round": before["round"]}, trust_env=False).text
    assert 'http-equiv="refresh"' not in page
    assert (folder / f"round-{before['round'] + 1}" / "blue-labels.sqlite").exists()
    # the finished round's gallery: the best reconstruction of each person submitted in it; the live round's is shut
    with sqlite3.connect(folder / "class.sqlite") as db:
        people = {p for (p,) in db.execute("SELECT DISTINCT person FROM submissions WHERE round = 1 AND copy = 0")}
    gallery = httpx.get(f"{url}/class/gallery", params={"round": 1}, trust_env=False)
    assert gallery.status_code == 200 and gallery.text.count('<img src="data:image/png;base64,') == len(people) > 0
    assert all(f"<b>person {p}</b>" in gallery.text for p in people)
    shut = httpx.get(f"{url}/class/gallery", params={"round": before["round"] + 1}, trust_env=False)
    assert shut.status_code == 409 and "opens when the round has ended" in shut.json()["error"]
    assert 'href="gallery?round=1"' in httpx.get(f"{url}/class/scoreboard", trust_env=False).text


@pytest.mark.slow
@pytestmark_group
@pytest.mark.timeout(300)
def test_every_request_is_in_an_intact_audit_log_and_a_restart_keeps_the_scores(classroom, round_one, setup):
    url, folder, keys = classroom["url"], classroom["folder"], classroom["keys"]
    n = _board(url)["round"]
    boards = {r: _board(url, r) for r in range(1, n + 1)}
    assert stop_class_process(classroom["process"]) == "exit 0"
    assert "Stopped. The scores and audit logs are kept" in (folder / "server.log").read_text()
    for log in [folder / "front.sqlite", *folder.glob("round-*/*.sqlite")]:
        result = verify_log(log)
        assert result.intact, (log, result.problem)
    with sqlite3.connect(folder / "round-1" / "blue-open.sqlite") as db:
        statuses = dict(db.execute("SELECT status, COUNT(*) FROM requests GROUP BY status").fetchall())
    assert statuses.get(200, 0) > RED and not any(s >= 500 for s in statuses), statuses
    # a restart on the same folder: no roster, no new keys, the same round and the same scores
    process, again = start_class_process(folder, classroom["policies"])
    classroom["process"], classroom["url"] = process, again
    assert "Resuming the class" in (folder / "server.log").read_text()
    strip = lambda b: [{k: v for k, v in row.items() if k != "suspended_at"} for row in b["red"]]  # noqa: E731
    for r, board in boards.items():
        now = _board(again, r)
        assert strip(now) == strip(board), r
        assert [b["people_recovered"] for b in now["blue"]] == [b["people_recovered"] for b in board["blue"]]
    assert _board(again)["round"] == n
    # an old key still works at a door; the class's doors are the same
    with httpx.Client(base_url=again, trust_env=False) as http:
        ok = http.get("/doors/blue-open/v1/models", headers={"X-API-Key": keys["red learner 00"]})
        assert ok.status_code == 200 and ok.json()["you"]["key_id"] == "red-learner-00"
        assert http.get("/class/doors").json()["doors"].keys() == set(DOORS)
        missing = http.get("/class/nothing-here")
        assert missing.status_code == 404 and "/class/scoreboard" in missing.json()["error"]
    # a class folder holds one class: other blue teams are refused with what to do
    with pytest.raises(ClassSetupError, match="give one policy file for each"):
        ClassTarget(folder, {"blue-open": classroom["policies"]["blue-open"]}, setup=setup)


def test_the_scoreboard_page_escapes_names_and_reloads_only_a_live_round():
    board = {"round": 2, "rounds": [1, 2], "current": True, "started": time.time() - 600, "people": 20,
             "red": [{"learner": "O'Neil & <Co>", "team": "red-1", "key_id": "x", "recovered": 3, "evaluator": 4,
                      "closer than public": 3, "correlation": 5, "template_only": 2, "submissions": 9, "copies": 0,
                      "queries": 12345,
                      "alerts": 1, "suspended_at": ["blue-1"]}],
             "blue": [{"team": "blue-1", "members": ["Bo"], "policy": "app keys: label", "utility": 0.5,
                       "ordinary_sent": 10, "utility_by_kind": {"camera": 1.0, "app": 0.0}, "people_recovered": 3,
                       "house_recovered": None, "red_queries": 12345, "alerts_on_red": 1, "false_alarms": 0}]}
    page = render_scoreboard(board)
    assert "O&#x27;Neil &amp; &lt;Co&gt;" in page and "<Co>" not in page
    assert 'http-equiv="refresh" content="5"' in page and "3 of 20" in page and "12,345" in page
    assert 'class="suspended"' in page and "50&nbsp;%" in page and "not run" in page
    assert "<th>Template only</th>" in page and "<td>2</td>" in page and "Recovered means recognised" in page
    assert 'http-equiv="refresh"' not in render_scoreboard(board | {"current": False})


@pytest.mark.browser
@pytest.mark.timeout(600)
def test_the_scoreboard_in_a_real_browser_updates_itself(tmp_path, artifacts):
    from lab_helpers.classroom import new_practice_round, practice_class
    from playwright.sync_api import sync_playwright

    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("no /usr/bin/chromium on this machine (apt-get install -y chromium)")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run"]
    handle = practice_class(tmp_path / "class")
    try:
        setup = handle.target.setup
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), args=flags)
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(f"{handle.url}/class/scoreboard")
            assert page.title() == "Round 1 - red team vs blue team"
            assert page.locator("table").count() == 2
            first = page.locator("table").nth(0).locator("tbody tr").first.inner_text()
            assert "you" in first and "0 of 20" in first
            # a learner attacks and submits; without a click the page shows it after its own reload
            run = attack_door(handle.url, handle.keys["you"], "practice", setup.people[:2], public=setup.public,
                              queries_per_person=100, patience=30)
            assert run.stopped_by == "finished" and len(run.verdicts) == 2
            page.wait_for_function("document.querySelector('tbody tr').innerText.includes('200')", timeout=20_000)
            row = page.locator("table").nth(0).locator("tbody tr").first.inner_text()
            assert "200" in row and "\t2\t" in row  # 200 queries, 2 submissions
            utility = page.locator("table").nth(1).locator("tbody tr").first.inner_text()
            assert "%" in utility and "no traffic yet" not in utility
            # legible on a projector: body text 18 px, nothing wider than the window
            assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 16
            assert page.evaluate("document.documentElement.scrollWidth") <= 1280
            page.screenshot(path=str(artifacts / "scoreboard.png"))
            # the round ends: its gallery shows the two reconstructions, each 128 px, with the referees' verdicts
            new_practice_round(handle, POLICY_TEMPLATE)
            page.goto(f"{handle.url}/class/gallery?round=1")
            assert page.locator("figure img").count() == 2
            assert page.evaluate("Math.min(...[...document.images].map(i => i.naturalWidth))") == 128
            assert "not recovered" in page.inner_text("body") or "recovered" in page.inner_text("body")
            page.screenshot(path=str(artifacts / "gallery.png"))
            browser.close()
    finally:
        handle.stop()


def test_the_attacker_plans_for_the_door_s_output_and_its_published_detector():
    everything = ["probabilities", "label_score", "label"]
    plan = plan_attack(everything, "none", False)
    assert (plan.output, plan.attack, plan.randomise, plan.scored_cap) == ("probabilities", "black-box (prior)", False, None)
    plan = plan_attack(everything, "baseline", False)  # alerts only: it still randomises its probes
    assert (plan.output, plan.randomise, plan.scored_cap) == ("probabilities", True, None)
    plan = plan_attack(everything, "baseline", True)  # blocks: under the baseline's default 5,000 scored answers a day
    assert (plan.output, plan.attack, plan.scored_cap) == ("probabilities", "black-box (prior)", 4_500)
    plan = plan_attack(everything, "adaptive", True)  # blocks on scored answers about one person: labels instead
    assert (plan.output, plan.attack, plan.randomise) == ("label", "label-only (prior)", True) and "adaptive" in plan.why
    plan = plan_attack(["label_score", "probabilities"], "adaptive", True)  # no plain labels to ask for
    assert (plan.output, plan.attack) == ("probabilities", "black-box (prior)")
    assert plan_attack(["label_score", "label"], "none").attack == "label-only (prior)"  # no score for the person


BASELINE_BLOCKS = POLICY_TEMPLATE.replace("block_on_alert = false", "block_on_alert = true").replace(
    'kind = "adaptive"', 'kind = "baseline"')


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_house_attacker_knows_the_detector_and_finishes_where_an_unaware_attack_is_suspended(tmp_path):
    # the door publishes a baseline detector that suspends: the same attack blind to it is flagged within about 60
    # queries (near-duplicate probes); the house attacker randomises its probes, stays under the detector's count of
    # scored answers, finishes, and is judged
    from lab_helpers.classroom import practice_class

    handle = practice_class(tmp_path / "class", BASELINE_BLOCKS, house_budget=100)
    try:
        prior = fit_pca_prior(handle.target.setup.public)
        blind = attack_door(handle.url, handle.keys["you"], "practice", handle.target.setup.people[:4], prior,
                            queries_per_person=100, patience=60, rules={})
        assert blind.stopped_by == "HTTP 403" and blind.queries < 400  # it submits what it had, judged as any other
        assert len(blind.verdicts) <= 4 and all("judges" in v for v in blind.verdicts.values())
        assert wait_for(lambda: (1, "practice") in handle.house.runs, 300, every=1.0)
        run = handle.house.runs[(1, "practice")]
        assert (run.attack, run.output, run.stopped_by) == ("black-box (prior)", "probabilities", "finished")
        assert "randomised" in run.why and run.queries == 20 * 100 and len(run.verdicts) == 20
        board = httpx.get(f"{handle.url}/class/scoreboard.json", trust_env=False).json()
        rows = {r["key_id"]: r for r in board["red"]}
        assert rows["house"]["alerts"] == 0 and rows["house"]["suspended_at"] == []
        assert rows["you"]["alerts"] >= 1 and rows["you"]["suspended_at"] == ["practice"]
    finally:
        handle.stop()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_house_attacker_measures_every_door_with_the_kit_s_attack(tmp_path):
    from lab_helpers.classroom import practice_class

    # labels only, and a quota of 600 answers per key: the house's 3 pooled keys get 1,800 (90 per person)
    labels_only = POLICY_TEMPLATE.replace('outputs = ["probabilities", "label_score", "label"]',
                                          'outputs = ["label"]').replace("per_day = 100000", "per_day = 600", 1)
    handle = practice_class(tmp_path / "class", labels_only, house_budget=100)
    try:
        assert wait_for(lambda: (1, "practice") in handle.house.runs, 300, every=1.0)
        run = handle.house.runs[(1, "practice")]
        # it adapted to the door (labels only: the label-only attack) and was judged like a learner
        assert (run.attack, run.output, run.stopped_by) == ("label-only (prior)", "label", "finished")
        assert run.verdicts and len(run.verdicts) + len(run.no_signal) == 20  # people without a signal: not sent
        assert all("judges" in v for v in run.verdicts.values())
        # it pooled its keys: more answers than one key's quota, each key within its own
        log = read_requests(handle.target.folder / "round-1" / "practice.sqlite")
        answered = log[log["status"] == 200].groupby("key_id")["n_inputs"].sum()
        assert 600 < run.queries <= 1_800 and "3 keys in turn" in run.why
        assert all(0 < answered.get(k, 0) <= 600 for k in HOUSE_KEYS), answered.to_dict()
        board = httpx.get(f"{handle.url}/class/scoreboard.json", trust_env=False).json()
        house = next(r for r in board["red"] if r["key_id"] == "house")
        assert house["queries"] == run.queries and house["submissions"] == len(run.verdicts)
        assert board["blue"][0]["house_recovered"] == run.recovered == house["recovered"]
        assert board["blue"][0]["people_recovered"] == 0  # the house is not a red learner
    finally:
        handle.stop()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_lab_09_numbers_and_its_self_check_pass_and_fail_for_the_right_reasons(tmp_path, capsys):
    from lab_helpers.classroom import new_practice_round, practice_class
    from lab_helpers.ui import check_blue_policy

    handle = practice_class(tmp_path / "class")
    try:
        setup = handle.target.setup
        prior, targets = fit_pca_prior(setup.public), setup.people[:4]
        # the notebook's attack, as it runs it: "about 0 to 2 of these four" at 300 queries per person
        run = attack_door(handle.url, handle.keys["you"], "practice", targets, prior, queries_per_person=300, patience=60)
        assert run.stopped_by == "finished" and run.queries == 1_200 and 0 <= run.recovered <= 2
        solution = (POLICY_TEMPLATE.replace('outputs = ["probabilities", "label_score", "label"]',
                                            'outputs = ["label_score", "label"]')
                    .replace("burst = 500 ", "burst = 100 ").replace("per_day = 100000", "per_day = 1000", 1))
        assert check_blue_policy(handle, solution, prior, targets) is True
        out = capsys.readouterr().out
        assert "chose label-only (prior) on 'label'" in out and "All correct." in out
        recovered = int(out.split("recovered ")[1].split(" of 4")[0])
        assert 0 <= recovered <= 2  # "about as many people as before (about 0 to 2 of 4)"
        # the template leaves scores to follow; labels only for apps starves them; a bad file is named
        # the two failing policies fail for reasons the attacker's budget does not change: a smaller one will do
        assert check_blue_policy(handle, POLICY_TEMPLATE, prior, targets, budget=100) is False
        assert "shows the score of the person being attacked" in capsys.readouterr().out
        starved = solution.replace('outputs = ["label_score", "label"]', 'outputs = ["label"]', 1)
        assert check_blue_policy(handle, starved, prior, targets, budget=100) is False
        assert "the apps (they need a name and its score) lost service" in capsys.readouterr().out
        assert check_blue_policy(handle, "max_batch = [", prior, targets) is False
        assert "not valid TOML" in capsys.readouterr().out
        with pytest.raises(ValueError, match="the round did not change"):
            new_practice_round(handle, POLICY_TEMPLATE.replace("[roles.camera]", "[roles.cam]"))
    finally:
        handle.stop()
    # after Run All the last cell has stopped the class: re-running the self-check says so, no traceback
    capsys.readouterr()
    assert not handle.running and check_blue_policy(handle, solution, prior, targets) is False
    assert "The practice class is stopped" in capsys.readouterr().out

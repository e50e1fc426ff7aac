"""Performance-based questions on the kit's own parts, graded with partial credit: a real audit log to triage, a
gateway policy graded by running the real attacks, model cards to review, incident response and matching."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from lab_helpers.exam import (
    TASKS,
    check_question,
    field_answers,
    grade_question,
    is_performance_based,
    load_questions,
    parse_answer,
    question_text,
    right_answer,
)
from lab_helpers.exam.pbq import LogTriage, ReleaseReview, policy_from_spec

QUESTIONS = {q["id"]: q for q in load_questions()}
PBQS = [q for q in QUESTIONS.values() if is_performance_based(q)]
CLINIC = {"public": {"output": "label", "burst": 20, "per_minute": 20, "per_day": 1000},
          "analyst": {"output": "rounded", "burst": 100, "per_minute": 100, "per_day": 10000},
          "rate_limits": True, "granularity": True, "block_on_alert": True, "detector": "baseline"}
WARD = {"public": {"output": "label", "burst": 20, "per_minute": 20, "per_day": 1000},
        "analyst": {"output": "rounded", "burst": 100, "per_minute": 10, "per_day": 7500},
        "rate_limits": True, "granularity": True, "block_on_alert": True, "detector": "adaptive"}


def kind(q: dict) -> str:
    if q.get("task"):
        return type(TASKS[q["task"]]).__name__
    return q["format"]


def test_ten_or_more_performance_based_questions_of_every_kind_with_partial_credit():
    kinds = Counter(kind(q) for q in PBQS)
    assert len(PBQS) >= 10
    assert kinds == {"LogTriage": 2, "GatewayTask": 2, "ReleaseReview": 2, "ordering": 2, "matching": 2}
    for q in PBQS:
        assert check_question(q) == [] and q["pbq"] is True and q["stem"].startswith("Performance-based.")
        if q["format"] == "matching":  # every choice usable once, and distractors
            assert q["distractors"] and len(q["distractors"]) >= 2
    by_format = Counter(q["format"] for q in QUESTIONS.values())
    assert all(q.get("distractors") for q in QUESTIONS.values() if q["format"] == "matching")  # issue 16: none without
    assert by_format["fields"] == 4 and by_format["policy"] == 2


def test_a_matching_answer_uses_each_choice_once_and_earns_credit_per_item():
    q = QUESTIONS["pbq-match-log-evidence"]
    assert grade_question(q, right_answer(q)).credit == 1
    twice = grade_question(q, [0, 0, 2, 3])
    assert not twice.answered and "Use each choice once" in twice.message
    one_off = grade_question(q, [0, 1, 2, 4])  # the last item matched to a distractor
    assert one_off.credit == pytest.approx(0.75) and "3 of 4 marks (0.75)" in one_off.message
    with pytest.raises(ValueError, match="each choice once"):
        parse_answer(q, "A A B C")


def test_incident_response_gives_credit_for_each_step_in_its_place():
    q = QUESTIONS["pbq-ir-leaked-model"]
    n = len(q["steps"])
    assert n == 5 and grade_question(q, list(range(n))).correct
    front = grade_question(q, [n - 1] + list(range(n - 1)))  # lessons learned first: four steps still in order
    assert front.credit == pytest.approx(0.5) and "4 of 5 steps" in front.message and "0 of" not in front.message
    poisoning = QUESTIONS["pbq-ir-poisoned-feedback"]
    assert poisoning["steps"][0]["explanation"].startswith("Preparation") and len(poisoning["steps"]) == 7
    moved = grade_question(poisoning, [6, 0, 1, 2, 3, 4, 5])  # one of seven out of place: 1 - 1/3 of the mark
    assert moved.credit == pytest.approx(2 / 3) and "costs 1/3 of the mark" in moved.message
    phases = ["Detection", "Analysis", "Containment", "Eradication", "Recovery", "Lessons learned"]
    # issue 28: the stem gives the detection (the report), so the first step is not a give-away
    assert [s["explanation"].split(":")[0] for s in q["steps"]] == phases[1:]  # in CompTIA's order
    assert "researcher reports" in q["stem"] and not any("report" in s["text"] for s in q["steps"])
    assert [s["explanation"].split(":")[0] for s in poisoning["steps"]] == ["Preparation"] + phases


# ---------------------------------------------------------------- log triage on a real audit log

@pytest.fixture(scope="module")
def triage_logs():
    return {name: (task, task.path()) for name, task in TASKS.items() if isinstance(task, LogTriage)}


@pytest.mark.slow
def test_the_triage_logs_are_real_audit_logs_with_one_probing_client(triage_logs):
    from lab_helpers.defences import AdaptiveDetector, read_alerts, read_requests, scan_log, verify_log

    for name, (task, path) in triage_logs.items():
        assert path.parent.name == "exam" and verify_log(path).intact  # written by the model service: chain intact
        log = read_requests(path)
        assert len(log) > 500 and (log["status"] == 200).all() and log["when"].dt.date.nunique() == 1
        users = set(log["key_id"])
        assert {"camera-1", "camera-2", "camera-3", "clinician-1", "clinician-2", "ward-dashboard"} <= users
        answers = task.answers()
        first = log[log["id"] == answers["first_request"]].iloc[0]
        mine = log[log["key_id"] == task.key]
        assert first["key_id"] == task.key and first["model"] == task.model
        assert (mine["id"] < answers["first_request"]).any()  # the key was used in ordinary ways before: hidden
        if task.address:  # a stolen key: the probing comes from an address the key never used before
            before = mine[mine["id"] < answers["first_request"]]
            assert not before["client"].str.startswith(task.address + ":").any()
            assert first["client"].startswith(task.address + ":")
        else:  # an insider: the first probing request is the first of a sweep of 100 records
            assert first["n_inputs"] == 100 and (mine[mine["id"] < answers["first_request"]]["n_inputs"] <= 3).all()
        alerts = read_alerts(path)
        adaptive = scan_log(path, AdaptiveDetector())
        assert set(adaptive["key_id"]) == {task.key}  # the detector built for this attacker names only the prober
        # issue 28: the alerts do not name the attacker alone; the baseline also flags the bedside monitor (a sweep)
        # and the reception camera (near-duplicates): why suspending on it is wrong, and why the log must be read
        assert set(alerts["key_id"]) == {task.key, "monitor-bed-4", "camera-reception"}


def test_log_triage_is_graded_one_mark_per_answer_from_the_log(triage_logs):
    q = QUESTIONS["pbq-log-triage-faces"]
    right = field_answers(q)
    task = TASKS[q["task"]]
    assert right["key"] == task.key and right["first_request"] == task.answers()["first_request"]
    assert grade_question(q, right).correct
    typed = parse_answer(q, f" Clinician-2 ; #{right['first_request']} ; "
                            + "; ".join(chr(65 + _shown(q, f).index(right[f["name"]])) for f in q["fields"][2:]))
    assert grade_question(q, typed).credit == 1  # case, spaces and a leading # do not matter
    off_by_one = grade_question(q, {**right, "first_request": right["first_request"] + 1})
    assert off_by_one.credit == pytest.approx(0.75) and "3 of 4 marks (0.75)" in off_by_one.message
    facts = task.facts()
    assert f"flagged {task.key} at request {facts['alert_request']}" in grade_question(q, right).message
    assert facts["answered_after_alert"] > 0  # alerts that suspended nothing
    assert " and " in facts["other_alerts"]  # the alerts name two false alarms beside the attacker
    for other in ("log-triage-faces", "log-triage-patients"):  # issue 28: no file name that answers a field
        assert TASKS[other].path().name.startswith("clinic-api-audit-")
    blank = grade_question(q, {})
    assert not blank.answered
    text = question_text(q)
    assert str(task.path()) in text and "read_requests" in text


def _shown(q, field):
    from lab_helpers.exam import field_choice_order

    return field_choice_order(q, field)


@pytest.mark.slow
def test_the_triage_log_is_built_the_same_way_every_time(tmp_path, monkeypatch, triage_logs):
    from lab_helpers.defences import read_requests

    from lab_helpers.exam.pbq import lab_world

    task, cached = triage_logs["log-triage-faces"]
    lab_world()  # the models as the cached log was written with, loaded before the cache moves
    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path))
    fresh = task.path()
    assert fresh != cached and fresh.is_file()
    columns = ["id", "time", "key_id", "client", "model", "n_inputs", "status", "output", "returned"]
    assert read_requests(fresh)[columns].equals(read_requests(cached)[columns])


# ---------------------------------------------------------------- configure the gateway

def test_a_policy_spec_is_checked_with_one_line_messages():
    policy, detector = policy_from_spec(CLINIC)
    assert policy.roles["public"].default_output.kind == "label" and detector == "baseline" and policy.block_on_alert
    for broken, message in (({**CLINIC, "public": {**CLINIC["public"], "output": "everything"}}, "output must be one of"),
                            ({**CLINIC, "analyst": {"output": "label"}}, "needs exactly"),
                            ({**CLINIC, "public": {**CLINIC["public"], "per_day": 5}}, "per_day"),
                            ({**CLINIC, "detector": "psychic"}, "detector must be"),
                            ({**CLINIC, "firewall": True}, "Unknown setting")):
        with pytest.raises(ValueError, match=message):
            policy_from_spec(broken)
    q = QUESTIONS["pbq-gateway-clinic"]
    assert parse_answer(q, json.dumps(CLINIC)) == CLINIC
    with pytest.raises(ValueError, match="one line of JSON"):
        parse_answer(q, "{public: label}")
    assert not grade_question(q, {**CLINIC, "detector": "psychic"}).answered


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_clinic_gateway_is_graded_by_running_the_attacks_one_mark_per_requirement():
    q = QUESTIONS["pbq-gateway-clinic"]
    good = grade_question(q, CLINIC)  # bounded by count (an ordinary day and two attacks, simulated), not by time
    assert good.correct and good.credit == 1, good.message
    assert "Mallory's public key got" in good.message and "0 of them with scores" in good.message
    template = grade_question(q, q["template"])  # the gateway as it is: everything open
    assert 0 < template.credit < 0.5, template.message
    lines = {r["name"]: line for r, line in zip(q["requirements"], template.message.splitlines()[1:])}
    assert lines["ordinary"].startswith("✔") and lines["public_no_scores"].startswith("✘")
    assert lines["suspend_flagged"].startswith("✘") and "answered after that" in lines["suspend_flagged"]
    no_quota = grade_question(q, {**CLINIC, "public": {**CLINIC["public"], "per_day": 100_000}})
    assert no_quota.credit == pytest.approx(0.8) and "more than 1,000 answers" in no_quota.message


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_ward_gateway_needs_the_adaptive_detector_and_a_quota_between_two_needs():
    q = QUESTIONS["pbq-gateway-ward"]
    good = grade_question(q, WARD)
    assert good.correct, good.message
    baseline = grade_question(q, {**WARD, "detector": "baseline"})  # it suspends the dashboard and the monitor
    names = {r["name"]: line for r, line in zip(q["requirements"], baseline.message.splitlines()[1:])}
    assert names["dashboard_24h"].startswith("✘") and names["monitor_kept"].startswith("✘")
    assert names["suspend_flagged"].startswith("✔") and baseline.credit == pytest.approx(0.6)


def test_a_gateway_policy_may_be_an_access_policy_from_code():
    from lab_helpers.defences import AccessPolicy
    from lab_helpers.exam import gateway_check

    policy, detector = policy_from_spec(AccessPolicy(block_on_alert=True), None)
    assert detector == "baseline" and policy.block_on_alert
    with pytest.raises(ValueError, match="is not a gateway question"):
        gateway_check("pbq-log-triage-faces", AccessPolicy())


# ---------------------------------------------------------------- release review

def test_the_release_reviews_use_the_kits_model_card_and_their_answers_match_it():
    from lab_helpers.governance import MEASURES

    for qid in ("pbq-review-face-card", "pbq-review-dosing-card"):
        q = QUESTIONS[qid]
        task = TASKS[q["task"]]
        assert isinstance(task, ReleaseReview)
        card = task.card()
        markdown = task.brief()
        assert markdown == card.to_markdown() and markdown.startswith("## Model card:")
        right = field_answers(q)
        status = {f["name"]: f["choices"][right[f["name"]]].split(":")[0] for f in q["fields"]}
        registered = {m.key for m in MEASURES if m.kind == card.kind and not m.key.startswith("lab08")
                      and m.key != "lab04-explanations"}  # only for a release that explains its answers
        missing = registered - set(card.measurements)
        assert (status["leakage"] == "Missing") == bool(missing), (qid, missing)
        roles = {a.who.split(" (")[0]: a.policy.kind for a in card.audiences}
        # special-category data (biometric photos, a genotype) is Restricted: both cards classify it too low
        assert status["classification"] == "Wrong" and "Restricted" not in card.classification
        if card.kind == "face":
            assert status["kiosks"] == "Wrong" and roles["entry kiosks"] != "label"
            assert not any("API" in m.title for m in card.measurements.values())  # "Missing" is decidable from the card
            assert status["approvals"] == "Missing" and not any(a.role == "privacy officer" for a in card.approvals)
        else:
            assert status["scope"] == "Missing" and card.out_of_scope == ""
            assert status["partner"] == "Wrong" and roles["research partner"] == "probabilities"
            assert status["approvals"] == "Missing" and not any(a.role == "privacy officer" for a in card.approvals)
        assert status["accuracy"] == "Complete and right"
        half = {name: (value if k % 2 else (value + 1) % 3) for k, (name, value) in enumerate(right.items())}
        assert grade_question(q, half).credit == pytest.approx(0.5)


def test_the_widgets_take_a_pbq_answer_as_a_learner_types_it(triage_logs):
    from lab_helpers.ui import QuizQuestion

    gateway = QuizQuestion(QUESTIONS["pbq-gateway-clinic"])
    assert not gateway.answered()  # the form starts as the gateway is now
    gateway.fill(CLINIC)
    assert gateway.chosen() == CLINIC and gateway.answered()
    q = QUESTIONS["pbq-log-triage-faces"]
    item = QuizQuestion(q, reveal=False)
    assert str(TASKS[q["task"]].path()) in item.box.children[1].children[1].value  # where the log is, how to read it
    right = field_answers(q)
    item.inputs[0].value, item.inputs[1].value = "  CLINICIAN-2", f"{right['first_request']}"
    item.inputs[2].value, item.inputs[3].value = right["model"], (right["control"] + 1) % 4
    assert item.answer_text().startswith("Your answers: 1. CLINICIAN-2; 2. ")
    assert grade_question(q, item.chosen()).credit == pytest.approx(0.75)

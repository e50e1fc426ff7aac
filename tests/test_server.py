"""The real HTTP server on 127.0.0.1: every error code, bad bodies, the audit log, restarts, concurrency, the CLI.

Every server a test starts is stopped by its own handle; every request loop is bounded in count and time.
"""
from __future__ import annotations

import base64
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from lab_helpers.defences import AccessPolicy, RateLimit, Role, SimulatedClock
from lab_helpers.service import ModelAPI
from lab_helpers.defences import read_alerts, read_requests
from lab_helpers.defences import OutputPolicy
from lab_helpers.targets import train_face_model
from lab_helpers.service import ApiError, HttpModelAPI, post_raw, run_until_refused
from lab_helpers.attacks import invert_black_box
from lab_helpers.defences import scan_log
from lab_helpers.attacks import attribute_inference, make_api
from lab_helpers.service import MAX_BODY_BYTES, ModelService, face_endpoint, patient_endpoint, start_server
from lab_helpers.data import load_people
from lab_helpers.targets import train_tabular_model

KIT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def people():
    return load_people("healthcare")


@pytest.fixture(scope="module")
def models(faces, people):
    face_model = train_face_model(faces, "softmax", progress=False)
    forest = train_tabular_model(people, name="overfit")
    return {"face_model": face_model, "forest": forest,
            "served": [face_endpoint(face_model), patient_endpoint(forest, people)]}


@pytest.fixture(scope="module")
def live(models, tmp_path_factory):
    """One server with every control on (detection only watches), and a key per role."""
    policy = AccessPolicy()
    keys = {role: policy.issue_key(f"{role}-1", role) for role in ("public", "analyst", "admin")}
    path = tmp_path_factory.mktemp("audit") / "audit.sqlite"
    server = start_server(ModelService(models["served"], policy, path))
    yield server, keys, path
    server.stop()
    assert not server.running


def record(people, i=0):
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in people.frame[people.features].iloc[i].items()}


def test_health_and_models_endpoints(live):
    server, keys, _ = live
    assert httpx.get(f"{server.url}/health", timeout=5).json()["status"] == "ok"
    assert httpx.get(f"{server.url}/v1/models", timeout=5).status_code == 401
    you = httpx.get(f"{server.url}/v1/models", headers={"X-API-Key": keys["analyst"]}, timeout=5).json()["you"]
    assert you["role"] == "analyst" and you["default_output"] == "rounded" and you["max_batch"] == 100


def test_each_role_sees_its_own_granularity(live, faces):
    server, keys, _ = live
    x = faces.X_test[:3]
    public, analyst, admin = (HttpModelAPI(server.url, keys[r]) for r in ("public", "analyst", "admin"))
    assert public.respond(x[:1])[0].keys() == {"label"}
    assert np.allclose(public.query(x).sum(1), 1) and set(np.unique(public.query(x))) <= {0.0, 1.0}
    assert np.allclose(analyst.query(x), np.round(admin.query(x), 2))
    assert public.queries == 7 and public.requests == 3
    for c in (public, analyst, admin):
        c.close()


def test_http_client_answers_exactly_like_model_api(models, faces, people, tmp_path):
    policy = AccessPolicy(rate_limits=False)
    key = policy.issue_key("a", "admin")
    local = ModelAPI(models["face_model"].predict_proba, "probabilities", input_size=4096)
    with start_server(ModelService(models["served"], policy, tmp_path / "same.sqlite")) as server:
        with HttpModelAPI(server.url, key) as remote, HttpModelAPI(server.url, key, encoding="json") as plain:
            x = faces.X_test[:130]  # two requests: 100 + 30
            assert np.array_equal(remote.query(x), local.query(x)) and remote.requests == 2
            assert np.array_equal(plain.query(x[:2]), local.query(x[:2]))
        with HttpModelAPI(server.url, key, "patients") as remote:
            over_http = attribute_inference(remote, people, "members", n_people=40)
            in_process = attribute_inference(make_api(models["forest"].model, people), people, "members", n_people=40)
            assert (over_http.guesses == in_process.guesses).all() and over_http.queries == 120


def test_the_label_only_attack_runs_over_http_on_the_public_role(models, tmp_path):
    from lab_helpers.attacks import invert_label_only

    policy = AccessPolicy(rate_limits=False)
    key = policy.issue_key("mallory", "public")  # the public role sees labels only
    local = ModelAPI(models["face_model"].predict_proba, "label", input_size=4096)
    with start_server(ModelService(models["served"], policy, tmp_path / "labels.sqlite")) as server:
        with HttpModelAPI(server.url, key) as public:
            x = np.random.default_rng(0).random((5, 4096)).astype(np.float32)
            labels, scores = public.answer(x)
            assert np.array_equal(labels, local.answer(x)[0]) and set(np.unique(scores)) <= {0.0, 1.0}
            before = public.queries
            rec = invert_label_only(public, [2, 7], queries_per_person=300, progress=False)
            assert public.queries - before == rec.queries.sum() <= 2 * 300


def test_401_unknown_or_missing_key(live):
    server, _, _ = live
    for key in (None, "lab-not-a-key"):
        reply = post_raw(server.url, key, "faces", {"inputs": [[0.5] * 4096]})
        assert reply["status"] == 401 and "X-API-Key" in reply["error"]


def test_bearer_token_is_accepted(live):
    server, keys, _ = live
    r = httpx.post(f"{server.url}/v1/models/faces/predict", json={"inputs": [[0.5] * 4096]},
                   headers={"Authorization": f"Bearer {keys['admin']}"}, timeout=5)
    assert r.status_code == 200 and len(r.json()["results"]) == 1


def test_403_role_not_allowed(live):
    server, keys, _ = live
    reply = post_raw(server.url, keys["public"], "faces", {"inputs": [[0.5] * 4096], "output": "probabilities"})
    assert reply["status"] == 403 and "allowed: label" in reply["error"]


def test_404_unknown_model_or_path(live):
    server, keys, _ = live
    assert post_raw(server.url, keys["admin"], "voices", {"inputs": [[0.5]]})["status"] == 404
    r = httpx.get(f"{server.url}/v1/predict", timeout=5)
    assert r.status_code == 404 and "/v1/models/{model}/predict" in r.json()["error"]


def test_413_oversize_batch_and_body(live):
    server, keys, _ = live
    assert post_raw(server.url, keys["public"], "faces", {"inputs": [[0.5] * 4096] * 21})["status"] == 413
    assert post_raw(server.url, keys["admin"], "faces", {"inputs": [[0.5] * 4096] * 101})["status"] == 413
    huge = b'{"inputs": "' + b"A" * (MAX_BODY_BYTES + 10) + b'"}'
    reply = post_raw(server.url, keys["admin"], "faces", huge)
    assert reply["status"] == 413 and "limit" in reply["error"]


def test_429_with_retry_after(models, tmp_path):
    clock = SimulatedClock()
    policy = AccessPolicy(clock=clock)
    key = policy.issue_key("p", "public")
    with start_server(ModelService(models["served"], policy, tmp_path / "a.sqlite")) as server:
        assert post_raw(server.url, key, "faces", {"inputs": [[0.5] * 4096] * 20})["status"] == 200
        reply = post_raw(server.url, key, "faces", {"inputs": [[0.5] * 4096] * 5})
        assert reply["status"] == 429 and reply["retry_after"] == "15" and "rate limit" in reply["error"]
        clock.advance(15)
        assert post_raw(server.url, key, "faces", {"inputs": [[0.5] * 4096] * 5})["status"] == 200


def test_daily_quota_429_survives_a_restart(models, tmp_path):
    clock, path = SimulatedClock(), tmp_path / "quota.sqlite"
    roles = {"tiny": Role("tiny", (OutputPolicy("label"),), RateLimit(burst=10, per_minute=600, per_day=10))}

    def service():
        policy = AccessPolicy(roles=roles, clock=clock)
        return ModelService(models["served"], policy, path), policy.issue_key("t", "tiny")

    svc, key = service()
    with start_server(svc) as server:
        assert post_raw(server.url, key, "faces", {"inputs": [[0.5] * 4096] * 10})["status"] == 200
    svc, key = service()  # a new process would issue new secrets; the key id is the identity
    clock.advance(120)
    with start_server(svc) as server:
        reply = post_raw(server.url, key, "faces", {"inputs": [[0.5] * 4096]})
        assert reply["status"] == 429 and "daily quota" in reply["error"] and int(reply["retry_after"]) > 3600
    log = read_requests(path)
    assert log.loc[log["endpoint"] == "predict", "status"].tolist() == [200, 429]


PIXELS = [0.5] * 4095
BAD_IMAGE_BODIES = {
    "not JSON": b"{inputs: [[0.5]]",
    "not UTF-8": b'{"inputs": "\xff\xfe"}',
    "empty body": b"",
    "a JSON list, not an object": b"[[0.5]]",
    "NaN": b'{"inputs": [[' + b"0.5, " * 4095 + b"NaN]]}",
    "Infinity": b'{"inputs": [[' + b"0.5, " * 4095 + b"Infinity]]}",
    "1e999 (overflows to infinity)": b'{"inputs": [[' + b"0.5, " * 4095 + b"1e999]]}",
    "a 400-digit integer": b'{"inputs": [[' + b"0.5, " * 4095 + b"1" + b"0" * 400 + b"]]}",
    "a pixel above 1": {"inputs": [PIXELS + [7.0]]},
    "a negative pixel": {"inputs": [PIXELS + [-0.1]]},
    "a string pixel": {"inputs": [PIXELS + ["0.5"]]},
    "a boolean pixel": {"inputs": [PIXELS + [True]]},
    "a null pixel": {"inputs": [PIXELS + [None]]},
    "too few pixels": {"inputs": [[0.5] * 100]},
    "a 64x64 nested image": {"inputs": [[[0.5] * 64] * 64]},
    "an image that is a number": {"inputs": [0.5]},
    "inputs is a string": {"inputs": "pixels"},
    "inputs is an object": {"inputs": {"a": 1}},
    "empty batch": {"inputs": []},
    "missing inputs": {"images": [[0.5] * 4096]},
    "an extra field": {"inputs": [[0.5] * 4096], "temperature": 0.7},
    "output is a number": {"inputs": [[0.5] * 4096], "output": 3},
    "unknown output": {"inputs": [[0.5] * 4096], "output": "everything"},
    "unknown encoding": {"inputs": [[0.5] * 4096], "encoding": "png"},
    "invalid base64": {"inputs": "not base64!!", "encoding": "base64-float32"},
    "base64 of half an image": {"inputs": base64.b64encode(np.zeros(2048, "<f4").tobytes()).decode(), "encoding": "base64-float32"},
    "base64 holding NaN": {"inputs": base64.b64encode(np.full(4096, np.nan, "<f4").tobytes()).decode(), "encoding": "base64-float32"},
    "deeply nested": b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
}


@pytest.mark.parametrize("body", BAD_IMAGE_BODIES.values(), ids=BAD_IMAGE_BODIES.keys())
def test_bad_image_bodies_are_422_never_500(live, body):
    server, keys, _ = live
    reply = post_raw(server.url, keys["admin"], "faces", body)
    assert reply["status"] == 422, reply
    assert len(reply["error"]) > 15


def bad_records(people):
    good = record(people)
    return {
        "missing column": {"inputs": [{k: v for k, v in good.items() if k != "age"}]},
        "extra column": {"inputs": [{**good, "name": "Ada"}]},
        "string age": {"inputs": [{**good, "age": "forty"}]},
        "boolean age": {"inputs": [{**good, "age": True}]},
        "age out of range": {"inputs": [{**good, "age": 400}]},
        "huge weight": {"inputs": [{**good, "weight_kg": 1e308}]},
        "huge integer weight": {"inputs": [{**good, "weight_kg": 10 ** 400}]},
        "unknown category": {"inputs": [{**good, "vkorc1_genotype": "ZZ"}]},
        "category as a list": {"inputs": [{**good, "sex": ["female"]}]},
        "record as a list": {"inputs": [list(good.values())]},
        "base64 for records": {"inputs": "AAAA", "encoding": "base64-float32"},
        "NaN weight": json.dumps({"inputs": [{**good, "weight_kg": float("nan")}]}),
    }


def test_bad_record_bodies_are_422_never_500(live, people):
    server, keys, _ = live
    for name, body in bad_records(people).items():
        reply = post_raw(server.url, keys["admin"], "patients", body)
        assert reply["status"] == 422, (name, reply)
    assert post_raw(server.url, keys["admin"], "patients", {"inputs": [record(people)]})["status"] == 200


def test_every_request_is_in_the_audit_log_without_secrets(live):
    server, keys, path = live
    before = len(read_requests(path))
    for status_wanted, key, body in [(200, keys["admin"], {"inputs": [[0.25] * 4096]}),
                                     (401, "lab-wrong", {"inputs": [[0.25] * 4096]}),
                                     (422, keys["admin"], {"inputs": []})]:
        assert post_raw(server.url, key, "faces", body)["status"] == status_wanted
    log = read_requests(path).iloc[before:]
    assert log["status"].tolist() == [200, 401, 422]
    assert log["decision"].tolist() == ["allowed", "denied", "denied"]
    assert log["key_id"].tolist()[0] == "admin-1" and log["key_id"].isna().tolist()[1]
    assert log["input_digest"].str.len().tolist()[::2] == [32, 32] and log["input_digest"].isna().iloc[1]  # no body read from a stranger
    assert log["returned"].iloc[0].startswith("[")
    data = b"".join(Path(f"{path}{s}").read_bytes() for s in ("", "-wal") if Path(f"{path}{s}").exists())
    assert not any(secret.encode() in data for secret in keys.values())


@pytest.mark.slow
def test_twenty_four_concurrent_clients_lose_no_request(models, faces, tmp_path):
    policy = AccessPolicy(rate_limits=False)
    keys = {f"client-{i:02d}": policy.issue_key(f"client-{i:02d}", "analyst") for i in range(24)}
    path = tmp_path / "load.sqlite"
    per_client = 5

    def client(secret: str) -> list[int]:
        statuses = []
        with httpx.Client(timeout=20, trust_env=False) as http:
            for j in range(per_client):
                r = http.post(f"{server.url}/v1/models/faces/predict", headers={"X-API-Key": secret},
                              json={"inputs": [faces.X_test[j].tolist()]})
                statuses.append(r.status_code)
        return statuses

    with start_server(ModelService(models["served"], policy, path)) as server:
        with ThreadPoolExecutor(max_workers=24) as pool:  # bounded: map gives up after 60 s
            results = list(pool.map(client, keys.values(), timeout=60))
    assert [s for r in results for s in r] == [200] * 24 * per_client
    log = read_requests(path)
    predicted = log[log["endpoint"] == "predict"]
    assert len(predicted) == 24 * per_client and predicted["id"].is_unique
    assert predicted.groupby("key_id").size().to_dict() == {k: per_client for k in keys}
    db = sqlite3.connect(path)
    try:
        assert db.execute("SELECT COUNT(*) FROM sketches").fetchone()[0] == 24 * per_client
    finally:
        db.close()


def test_attack_with_block_on_alert_is_stopped_and_the_log_replays_the_same_alerts(models, tmp_path):
    policy = AccessPolicy(rate_limits=False, granularity=False, block_on_alert=True)
    key = policy.issue_key("mallory", "public")
    path = tmp_path / "attack.sqlite"
    with start_server(ModelService(models["served"], policy, path)) as server:
        with HttpModelAPI(server.url, key) as client:
            outcome = run_until_refused(
                lambda api: invert_black_box(api, identities=[0, 1], queries_per_person=1_000, progress=False), client)
    assert outcome.stopped_by == "HTTP 403" and "suspended" in outcome.error.message
    assert outcome.queries == 100  # the first request of probes raised the alert; the next was refused
    online = read_alerts(path)
    assert online["rule"].tolist() == ["near_duplicates"] and online["queries"].tolist() == [100]
    offline = scan_log(path)
    assert offline[["key_id", "rule", "queries"]].values.tolist() == online[["key_id", "rule", "queries"]].values.tolist()
    # the suspension survives a restart
    policy2 = AccessPolicy(rate_limits=False, granularity=False, block_on_alert=True)
    key2 = policy2.issue_key("mallory", "public")
    with start_server(ModelService(models["served"], policy2, path)) as server:
        reply = post_raw(server.url, key2, "faces", {"inputs": [[0.5] * 4096]})
        assert reply["status"] == 403 and "suspended" in reply["error"]


def test_audit_log_survives_a_restart_and_fresh_starts_empty(models, tmp_path):
    path = tmp_path / "restart.sqlite"
    for round_ in range(2):
        policy = AccessPolicy(rate_limits=False)  # (with limits on, a restart starts the used key's burst empty)
        key = policy.issue_key("a", "admin")
        with start_server(ModelService(models["served"], policy, path)) as server:
            assert post_raw(server.url, key, "faces", {"inputs": [[0.5] * 4096]})["status"] == 200
        assert (read_requests(path)["endpoint"] == "predict").sum() == round_ + 1
    policy = AccessPolicy()
    with start_server(ModelService(models["served"], policy, path, fresh=True)) as server:
        httpx.get(f"{server.url}/health", timeout=5)
    assert read_requests(path)["endpoint"].tolist() == ["health"]


def test_stopped_server_no_longer_answers(models, tmp_path):
    server = start_server(ModelService(models["served"], AccessPolicy(), tmp_path / "s.sqlite"))
    url = server.url
    assert httpx.get(f"{url}/health", timeout=5).status_code == 200
    server.stop()
    assert not server.running
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/health", timeout=2)


def test_client_raises_api_error_with_retry_after(models, faces, tmp_path):
    policy = AccessPolicy(clock=SimulatedClock())
    key = policy.issue_key("p", "public")
    with start_server(ModelService(models["served"], policy, tmp_path / "c.sqlite")) as server:
        with HttpModelAPI(server.url, key) as client:
            assert client.max_batch == 20
            with pytest.raises(ApiError) as info:
                client.query(faces.X_test[:45])  # 20 answered, then 429
            assert info.value.status == 429 and info.value.retry_after >= 1 and client.queries == 20
            with pytest.raises(ValueError, match="4096 values"):
                client.query(np.zeros(10))
        with pytest.raises(ValueError, match="no model 'voices'"):
            HttpModelAPI(server.url, key, "voices")


@pytest.mark.slow
def test_cli_serve_starts_answers_and_stops(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "lab_helpers", "serve", "--port", "0", "--models", "patients",
                             "--audit", str(tmp_path / "cli.sqlite")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=tmp_path)
    try:
        lines, deadline = [], time.monotonic() + 60
        while time.monotonic() < deadline and not any(line.startswith("Try:") for line in lines):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        text = "".join(lines)
        url = text.split(" on ", 1)[1].split(" ", 1)[0]
        key = next(line.split()[-1] for line in lines if "public-1" in line)
        assert url.startswith("http://127.0.0.1:") and key.startswith("lab-")
        assert "detector: adaptive" in text  # the default: the baseline one is kept for lab 06's lesson
        assert httpx.get(f"{url}/health", timeout=5).json()["models"] == ["patients"]
        assert httpx.get(f"{url}/v1/models", headers={"X-API-Key": key}, timeout=5).json()["you"]["role"] == "public"
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C, as a learner stops it
        try:
            out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert "Stopped" in out and "Traceback" not in err


@pytest.mark.slow
def test_one_control_at_a_time_over_http(models, faces, people, tmp_path):
    """The notebook's claims, on a smaller budget: what each control does to the two attacks."""
    from lab_helpers.judges import lineup_accuracy
    from lab_helpers.service import run_scenario

    ids = np.array([2, 7])

    def mallory(api):
        return invert_black_box(api, identities=ids, queries_per_person=1_000, progress=False)

    def eve(api):
        return attribute_inference(api, people, "members", n_people=300)

    attacks = {"mallory": ("faces", mallory), "eve": ("patients", eve)}
    runs = {name: run_scenario(name, models["served"], attacks, folder=tmp_path, **controls) for name, controls in {
        "none": dict(rate_limits=False, granularity=False), "limits": dict(rate_limits=True, granularity=False),
        "granularity": dict(rate_limits=False, granularity=True),
        "detection": dict(rate_limits=False, granularity=False, block_on_alert=True)}.items()}
    open_face, open_gene = runs["none"].outcomes["mallory"], runs["none"].outcomes["eve"]
    assert open_face.stopped_by == "finished" and open_face.queries == 2_000
    assert lineup_accuracy(open_face.result.images, ids, faces) >= 0.6  # chance 0.2
    assert open_gene.result.margin >= 0.2
    assert {o.stopped_by for o in runs["limits"].outcomes.values()} == {"HTTP 429"}
    assert all(o.queries == 20 and o.error.retry_after == 60 for o in runs["limits"].outcomes.values())
    labels_face, labels_gene = runs["granularity"].outcomes["mallory"], runs["granularity"].outcomes["eve"]
    assert np.ptp(labels_face.result.images) < 1e-6  # labels only: nothing to climb, the image stays grey
    assert lineup_accuracy(labels_face.result.images, ids, faces) == pytest.approx(0.2)
    assert 0.05 <= labels_gene.result.margin < open_gene.result.margin  # shrunk, not removed
    caught = runs["detection"].outcomes
    assert caught["mallory"].stopped_by == caught["eve"].stopped_by == "HTTP 403"
    assert caught["mallory"].queries == 100 and caught["eve"].queries == 400
    assert read_alerts(runs["none"].audit_path).groupby("key_id")["queries"].min().to_dict() == {"mallory": 100, "eve": 400}


def test_the_service_hands_the_adaptive_detector_labels_and_the_callers_address(models, faces, tmp_path):
    """Three keys from one address, each under the per-key limit, together over the per-source one: one alert naming all."""
    from lab_helpers.defences import AdaptiveDetector

    policy = AccessPolicy(rate_limits=False, granularity=False)
    keys = {k: policy.issue_key(k, "public") for k in ("k1", "k2", "k3")}
    detector = AdaptiveDetector(identity_per_day=15, source_factor=2.0)
    rng = np.random.default_rng(0)
    photo = faces.X_train[faces.y_train == 0][0]
    with start_server(ModelService(models["served"], policy, tmp_path / "a.sqlite", detector=detector)) as server:
        for secret in keys.values():  # 14 new, slightly different photos of person 0 per key: 42 in all
            batch = np.clip(photo + rng.normal(0, 0.01, (14, photo.size)), 0, 1)
            reply = httpx.post(f"{server.url}/v1/models/faces/predict", json={"inputs": batch.tolist()},
                               headers={"X-API-Key": secret}, timeout=10)
            assert reply.status_code == 200 and {str(r["label"]) for r in reply.json()["results"]} == {"0"}
    alerts = read_alerts(tmp_path / "a.sqlite")
    focus = alerts[alerts["rule"] == "identity_focus"]
    assert sorted(focus["key_id"]) == ["k1", "k2", "k3"]  # per source (127.0.0.1): 42 >= 30; per key 14 < 15
    assert all("127.0.0.1" in d for d in focus["detail"])

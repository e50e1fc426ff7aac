"""The model service attacked the way an independent security review did, on 127.0.0.1 (issue 17).

Each test starts the real server and stops it by its handle; every loop is bounded in count and time. No test
asserts on wall-clock time: where "fast" matters, the test checks the mechanism (the body was never read, the
parser never ran, the request was refused before the lock) and the benchmark measures the latency.
"""
from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import httpx
import numpy as np
import pytest

from lab_helpers.defences import AccessPolicy, RateLimit, Role, SimulatedClock, OutputPolicy, read_alerts, read_requests
from lab_helpers.defences.access import TokenBucket
from lab_helpers.defences.audit import AuditLog, AuditLogError, AuditUnavailable, key_folder, verify_log
from lab_helpers.service import ModelService, face_endpoint, post_raw, start_server
from lab_helpers.targets import train_face_model

KIT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(120)
GREY = [[0.5] * 4096]


@pytest.fixture(scope="module")
def served(faces):
    return [face_endpoint(train_face_model(faces, "softmax", progress=False))]


def raw_request(url: str, data: bytes, timeout: float = 10.0) -> bytes:
    """Send bytes on a fresh connection and return what the server answers before it closes (bounded by timeout)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and b'"}' in b"".join(chunks) or b"Invalid HTTP" in b"".join(chunks):
                    break
        except TimeoutError:
            pass
    return b"".join(chunks)


def closed_by_server(sock: socket.socket) -> bool:
    """True when the server closed the connection without an answer (EOF or reset; bounded by the socket's timeout)."""
    try:
        return sock.recv(100) == b""
    except ConnectionResetError:
        return True


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0


def wait_for_rows(path, predicate, seconds: float = 10.0):
    """Poll the audit log until predicate(requests) holds (the protocol layer logs from a worker thread)."""
    deadline = time.monotonic() + seconds
    while True:
        log = read_requests(path)
        if predicate(log) or time.monotonic() > deadline:
            return log
        time.sleep(0.05)


# ---------------------------------------------------------------- 1. bounded before any work

def test_a_declared_oversized_body_is_refused_before_a_byte_is_read(served, tmp_path):
    policy = AccessPolicy()
    key = policy.issue_key("p", "public")
    with start_server(ModelService(served, policy, tmp_path / "a.sqlite")) as server:
        limit = server.service.body_limit(policy.identify(key), server.service.models["faces"])
        assert limit < 3_000_000  # a public key's 20 images as JSON, with room: far below the 15 MB of the review
        head = (f"POST /v1/models/faces/predict HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\n"
                f"Content-Type: application/json\r\nContent-Length: 15000000\r\n\r\n").encode()
        answer = raw_request(server.url, head)  # no body is ever sent: only a refusal without reading can come back
        assert status_of(answer) == 413 and b"over this key's limit" in answer
        # a stranger and a suspended key are refused the same way, before their bodies
        policy.issue_key("s", "public", secret="lab-suspended-key")
        policy.suspend("s", "probing alert; ask an admin")
        for secret, code in (("lab-not-a-key", 401), ("lab-suspended-key", 403)):
            answer = raw_request(server.url, head.replace(key.encode(), secret.encode()))
            assert status_of(answer) == code
    log = read_requests(tmp_path / "a.sqlite")
    assert log["status"].tolist()[-3:] == [413, 401, 403]


def test_a_streamed_body_stops_being_read_at_the_keys_limit(served, tmp_path):
    policy = AccessPolicy()
    key = policy.issue_key("p", "public")
    sent = []

    def body():  # 15 MB of [0.5, ...], chunked, no Content-Length
        yield b'{"inputs": [['
        for _ in range(240):
            sent.append(1)
            yield b"0.5, " * 12_500
        yield b"0.5]]}"

    with start_server(ModelService(served, policy, tmp_path / "b.sqlite")) as server:
        try:
            with httpx.Client(timeout=20, trust_env=False) as http:
                r = http.post(f"{server.url}/v1/models/faces/predict", content=body(), headers={"X-API-Key": key})
                status = r.status_code
        except httpx.TransportError:  # the server may close the connection once it has refused
            status = None
    log = read_requests(tmp_path / "b.sqlite")
    row = log.iloc[-1]
    assert row["status"] == 413 and "over this key's limit" in row["reason"] and status in (413, None)


def test_a_slow_body_is_cut_off_answered_408_and_logged(served, tmp_path):
    policy = AccessPolicy()
    key = policy.issue_key("a", "admin")
    service = ModelService(served, policy, tmp_path / "slow.sqlite")
    service.body_seconds = 1.0
    with start_server(service) as server:
        host, port = server.url.removeprefix("http://").split(":")
        head = (f"POST /v1/models/faces/predict HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\n"
                "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n").encode()
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(head + b'{"inputs": [[0.5,')  # then nothing more: a slow client
            answer, closed = b"", False
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline:
                chunk = sock.recv(65536)
                if not chunk:
                    closed = True
                    break
                answer += chunk
        assert status_of(answer) == 408 and closed  # answered, and the connection no longer held
        assert post_raw(server.url, key, "faces", {"inputs": GREY})["status"] == 200  # the service is fine
    log = read_requests(tmp_path / "slow.sqlite")
    assert log["status"].tolist() == [408, 200] and policy.used_today("a") == 1


def test_millions_of_tiny_values_are_refused_before_json_parsing(served, tmp_path, monkeypatch):
    import lab_helpers.service.server as server_module

    parsed = []
    real = server_module.parse_body
    monkeypatch.setattr(server_module, "parse_body", lambda body: parsed.append(len(body)) or real(body))
    policy = AccessPolicy(rate_limits=False)  # the largest body limit: 100 images
    key = policy.issue_key("a", "admin")
    with start_server(ModelService(served, policy, tmp_path / "c.sqlite")) as server:
        body = b'{"inputs": [[' + b"0.5," * 2_400_000 + b"0.5]]}"  # 9.6 MB, under the limit, 2.4 million values
        reply = post_raw(server.url, key, "faces", body, timeout=30)
        assert reply["status"] == 413 and "more values than a batch" in reply["error"]
        assert parsed == []  # refused by counting separators; the JSON parser never ran
        assert post_raw(server.url, key, "faces", {"inputs": GREY})["status"] == 200 and len(parsed) == 1


def test_refused_requests_are_limited_per_client_address_and_key(served, tmp_path):
    clock = SimulatedClock()
    policy = AccessPolicy(clock=clock, refusal_limit=RateLimit(burst=5, per_minute=60, per_day=1_000))
    good = policy.issue_key("g", "public")
    with start_server(ModelService(served, policy, tmp_path / "d.sqlite")) as server:
        codes = [post_raw(server.url, "lab-wrong", "faces", {"inputs": GREY})["status"] for _ in range(5)]
        throttled = post_raw(server.url, None, "faces", {"inputs": GREY})  # keyless, same address: throttled
        assert codes == [401] * 5 and throttled["status"] == 429 and "too many refused requests" in throttled["error"]
        assert throttled["retry_after"] == "1"
        assert httpx.get(f"{server.url}/v1/models", timeout=5, trust_env=False).status_code == 429
        # a neighbour's failures never throttle a valid key at the same address (issue 25: it could lock one out)
        assert post_raw(server.url, good, "faces", {"inputs": GREY})["status"] == 200
        # ... but the key's own failures do
        bad = [post_raw(server.url, good, "faces", b"not json")["status"] for _ in range(6)]
        assert bad == [422] * 5 + [429]
        clock.advance(3)  # one refusal back per second
        assert post_raw(server.url, good, "faces", {"inputs": GREY})["status"] == 200
    log = read_requests(tmp_path / "d.sqlite")
    # five refusals without a key get rows of their own; the two throttled ones after them, one summary row (at close)
    assert log["status"].tolist() == [401] * 5 + [200] + [422] * 5 + [429, 200, 429]
    assert log["key_id"].tolist()[11] == "g"  # the throttled request is logged with the key it presented
    assert log["endpoint"].iloc[-1] == "keyless-refusals" and log["reason"].iloc[-1].startswith("2 more refused")


def test_a_forwarded_for_header_cannot_choose_the_logged_address(served, tmp_path):
    path = tmp_path / "xff.sqlite"
    policy = AccessPolicy(refusal_limit=RateLimit(burst=5, per_minute=60, per_day=1_000))
    with start_server(ModelService(served, policy, path)) as server:
        with httpx.Client(timeout=5, trust_env=False) as http:
            codes = [http.post(f"{server.url}/v1/models/faces/predict", json={"inputs": GREY},
                               headers={"X-Forwarded-For": f"10.66.66.{i}"}).status_code for i in range(7)]
    assert codes == [401] * 5 + [429] * 2  # rotating the header does not buy new refusals
    clients = read_requests(path)["client"]
    assert clients.str.startswith("127.0.0.1").all() and not clients.str.contains("10.66.66").any()
    # behind a reverse proxy the operator names, its header is believed
    with start_server(ModelService(served, AccessPolicy(), tmp_path / "proxy.sqlite"),
                      trusted_proxy="127.0.0.1") as server:
        httpx.get(f"{server.url}/v1/models", headers={"X-Forwarded-For": "10.66.66.66"}, timeout=5, trust_env=False)
    assert read_requests(tmp_path / "proxy.sqlite")["client"].str.startswith("10.66.66.66").all()


def test_a_request_the_log_could_not_record_is_not_charged_to_the_quota(served, tmp_path, monkeypatch):
    policy = AccessPolicy()
    key = policy.issue_key("p", "public")
    service = ModelService(served, policy, tmp_path / "q.sqlite")
    try:
        assert service.predict(key, "faces", b'{"inputs": [[' + b"0.5," * 4095 + b'0.5]]}').status == 200
        assert policy.used_today("p") == 1

        def fail(*args, **kwargs):
            raise AuditUnavailable("the disk is full")

        monkeypatch.setattr(service.audit, "record", fail)
        reply = service.predict(key, "faces", b'{"inputs": [[' + b"0.5," * 4095 + b'0.5]]}')
        assert reply.status == 503 and policy.used_today("p") == 1  # not answered, not charged
    finally:
        service.close()


@pytest.mark.parametrize("body, says", [(b"\xef\xbb\xbf" + b'{"inputs": []}', "byte-order mark"),
                                        ('{"inputs": []}'.encode("utf-16"), "not UTF-8"),
                                        ('{"inputs": []}'.encode("utf-32-le"), "")])
def test_only_utf8_json_bodies_are_read(served, tmp_path, body, says):
    policy = AccessPolicy()
    key = policy.issue_key("a", "admin")
    service = ModelService(served, policy, tmp_path / "u.sqlite")
    try:
        reply = service.predict(key, "faces", body)
    finally:
        service.close()
    assert reply.status == 422 and says in reply.payload["error"]


def test_a_control_character_in_the_path_is_never_routed(served, tmp_path):
    path = tmp_path / "nl.sqlite"
    policy = AccessPolicy()
    key = policy.issue_key("a", "admin")
    with start_server(ModelService(served, policy, path)) as server:
        for raw in ("/v1/models/faces/predict%0A", "/v1/models/faces%0D/predict", "/v1/models%00"):
            response = httpx.post(f"{server.url}{raw}", json={"inputs": GREY}, headers={"X-API-Key": key},
                                  timeout=5, trust_env=False)
            assert response.status_code == 404 and "no endpoint" in response.json()["error"], raw
    log = read_requests(path)
    assert log["status"].tolist() == [404] * 3 and (log["n_inputs"] == 0).all() and policy.used_today("a") == 0


# ---------------------------------------------------------------- 2. a complete, clean log

def test_every_request_gets_a_row_any_method_any_path_even_http_errors(served, tmp_path):
    policy = AccessPolicy()
    key = policy.issue_key("a", "admin")
    path = tmp_path / "e.sqlite"
    with start_server(ModelService(served, policy, path)) as server:
        with httpx.Client(timeout=5, trust_env=False) as http:
            assert http.request("TRACE", f"{server.url}/v1/models/faces/predict").status_code == 405
            assert http.request("PROPFIND", f"{server.url}/v1/models/faces/predict",
                                headers={"X-API-Key": key}).status_code == 405
            assert http.get(f"{server.url}/nowhere%0Aat-all", headers={"X-API-Key": key}).status_code == 404
            assert http.get(f"{server.url}/v1/unknown", headers={"X-API-Key": key}).status_code == 404
        answer = raw_request(server.url, b"GARBAGE\x01 / HTTP/9\r\n\r\n")
        assert status_of(answer) == 400
        log = wait_for_rows(path, lambda log: (log["status"] == 400).any())
    rows = log[["endpoint", "method", "path", "key_id", "status"]].astype(object).where(log.notna(), None).to_dict("records")
    assert {"endpoint": "other", "method": "TRACE", "path": "/v1/models/faces/predict", "key_id": None,
            "status": 405} in rows
    assert any(r["method"] == "PROPFIND" and r["key_id"] == "a" and r["status"] == 405 for r in rows)
    assert any(r["status"] == 404 and r["key_id"] == "a" and r["path"] == "/nowhere%0Aat-all" for r in rows)
    assert any(r["status"] == 404 and r["key_id"] == "a" and r["path"] == "/v1/unknown" for r in rows)
    assert any(r["endpoint"] == "http-error" and r["status"] == 400 for r in rows)
    assert log["client"].str.startswith("127.0.0.1:").all()


def test_stored_values_cannot_forge_rows_or_flood_the_log(served, tmp_path):
    policy = AccessPolicy()
    key = policy.issue_key("a", "admin")
    path = tmp_path / "f.sqlite"
    with start_server(ModelService(served, policy, path)) as server:
        with httpx.Client(timeout=10, trust_env=False) as http:
            forged = http.post(f"{server.url}/v1/models/faces%0A2026-01-01%20admin%20200/predict",
                               json={"inputs": GREY}, headers={"X-API-Key": key})
            assert forged.status_code == 404
            for _ in range(3):  # a 60,000-character model name, no key
                http.post(f"{server.url}/v1/models/{'m' * 60_000}/predict", json={"inputs": GREY})
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT * FROM requests").fetchall()
        widest = db.execute("SELECT MAX(LENGTH(CAST(requests.model AS BLOB)) + LENGTH(IFNULL(path, '')) + "
                            "LENGTH(IFNULL(reason, ''))) FROM requests").fetchone()[0]
    finally:
        db.close()
    text = "\n".join("|".join(str(v) for v in row) for row in rows)
    assert text.count("\n") == len(rows) - 1  # no stored value holds a newline: nothing a viewer shows as a new row
    assert "/v1/models/faces%0A2026-01-01%20admin%20200/predict" in text  # logged as sent, never routed
    assert widest < 1_500  # every row bounded, whatever the path


# ---------------------------------------------------------------- 3. tamper evidence, fail closed

def test_an_edited_or_truncated_log_is_caught_and_the_service_will_not_start_on_it(served, tmp_path):
    path = tmp_path / "g.sqlite"
    policy = AccessPolicy(rate_limits=False)
    key = policy.issue_key("a", "admin")
    with start_server(ModelService(served, policy, path)) as server:
        for _ in range(4):
            assert post_raw(server.url, key, "faces", {"inputs": GREY})["status"] == 200

    def verify_cli():
        run = subprocess.run([sys.executable, "-m", "lab_helpers", "audit", "verify", str(path)],
                             capture_output=True, text=True, timeout=60, cwd=KIT)
        return run.returncode, run.stdout.strip()

    code, out = verify_cli()
    assert code == 0 and out.startswith("OK:") and "every link intact" in out
    db = sqlite3.connect(path)
    db.execute("DELETE FROM requests WHERE id = 2")  # hide one answered request
    db.commit()
    db.close()
    code, out = verify_cli()
    assert code == 1 and "first broken link at requests row 3" in out and "deleted" in out
    with pytest.raises(AuditLogError, match="fails its integrity check"):
        ModelService(served, AccessPolicy(), path)
    # deleting rows at the end leaves every remaining link intact: the latest signed checkpoint catches it
    other = tmp_path / "h.sqlite"
    with start_server(ModelService(served, policy, other)) as server:
        for _ in range(3):
            post_raw(server.url, key, "faces", {"inputs": GREY})
    db = sqlite3.connect(other)
    db.execute("DELETE FROM requests WHERE id >= 2")
    db.commit()
    db.close()
    check = verify_log(other)
    assert not check.intact and "rows were cut off the end" in check.problem


def test_a_deleted_log_fails_closed_at_once_and_health_says_so(served, tmp_path):
    path = tmp_path / "i.sqlite"
    policy = AccessPolicy()
    key = policy.issue_key("a", "admin")
    with start_server(ModelService(served, policy, path)) as server:
        assert post_raw(server.url, key, "faces", {"inputs": GREY})["status"] == 200
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        reply = post_raw(server.url, key, "faces", {"inputs": GREY}, timeout=5)
        assert reply["status"] == 503 and "deleted or replaced" in reply["error"]
        health = httpx.get(f"{server.url}/health", timeout=5)
        assert health.status_code == 503 and health.json()["status"] == "unavailable"


def test_a_locked_log_refuses_predictions_then_recovers(served, tmp_path):
    path = tmp_path / "j.sqlite"
    policy = AccessPolicy()
    key = policy.issue_key("a", "admin")
    with start_server(ModelService(served, policy, path)) as server:
        blocker = sqlite3.connect(path, timeout=1, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        try:
            reply = post_raw(server.url, key, "faces", {"inputs": GREY}, timeout=5)
            assert reply["status"] == 503 and "locked" in reply["error"]
            assert httpx.get(f"{server.url}/health", timeout=5).status_code == 503  # answered, not stalled
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        deadline, status = time.monotonic() + 10, None
        while status != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
            status = post_raw(server.url, key, "faces", {"inputs": GREY}, timeout=5)["status"]
        assert status == 200
    assert verify_log(path).intact  # nothing was answered unlogged, and nothing half-written


def test_quota_and_suspension_are_never_silently_reset_by_losing_the_log(served, tmp_path):
    path, clock = tmp_path / "k.sqlite", SimulatedClock()
    roles = {"tiny": Role("tiny", (OutputPolicy("label"),), RateLimit(burst=10, per_minute=600, per_day=10))}

    def policy():
        p = AccessPolicy(roles=roles, clock=clock, block_on_alert=True)
        return p, p.issue_key("t", "tiny"), p.issue_key("m", "tiny")

    p, tiny, mallory = policy()
    with start_server(ModelService(served, p, path)) as server:
        assert post_raw(server.url, tiny, "faces", {"inputs": GREY * 10})["status"] == 200
        server.service.suspend("m", "probing alert (near_duplicates); ask an admin to review")
        assert post_raw(server.url, mallory, "faces", {"inputs": GREY})["status"] == 403
    # a restart with the log intact: the quota used and the suspension come back
    clock.advance(60)
    p, tiny, mallory = policy()
    with start_server(ModelService(served, p, path)) as server:
        assert "daily quota" in post_raw(server.url, tiny, "faces", {"inputs": GREY})["error"]
        assert "suspended" in post_raw(server.url, mallory, "faces", {"inputs": GREY})["error"]
    # everything in the log's folder deleted: its key folder, kept apart, says a log was there
    for stale in path.parent.iterdir():
        stale.unlink()
    with pytest.raises(AuditLogError, match="but its key folder .* is there: the log was deleted"):
        ModelService(served, policy()[0], path)


def _answer_some(served, policy, path, key, n):
    with start_server(ModelService(served, policy, path)) as server:
        for _ in range(n):
            assert post_raw(server.url, key, "faces", {"inputs": GREY})["status"] == 200
        return server.service


def test_the_logs_keys_live_apart_from_it_and_every_file_is_private(served, tmp_path):
    path = tmp_path / "log" / "p.sqlite"
    policy = AccessPolicy(rate_limits=False)
    service = _answer_some(served, policy, path, policy.issue_key("a", "admin"), 2)
    folder = service.audit.keys
    assert folder.parent != path.parent and not any(f.suffix in (".key", ".json") for f in path.parent.iterdir())
    assert (folder.stat().st_mode & 0o777) == 0o700
    for f in [path, *[f for f in path.parent.iterdir()], *folder.iterdir()]:
        assert (f.stat().st_mode & 0o777) == 0o600, f
    assert {f.name for f in folder.iterdir()} >= {"chain.key", "checkpoints.jsonl"}
    with closing(sqlite3.connect(path)) as db:  # no key of any kind inside the log
        assert [n for (n,) in db.execute("SELECT name FROM meta")] == ["log_id"]


def test_rows_rewritten_under_another_key_a_cut_tail_and_an_older_copy_are_all_caught(served, tmp_path):
    """Issue 25 item 3: what someone who can write the log's folder (but not its key folder) tries."""
    import secrets
    import shutil

    from lab_helpers.defences.audit import REQUEST_FIELDS, _row_chain

    path = tmp_path / "r.sqlite"
    policy = AccessPolicy(rate_limits=False, block_on_alert=True)
    key = policy.issue_key("a", "admin")
    _answer_some(served, policy, path, key, 2)
    shutil.copyfile(path, tmp_path / "old.sqlite")  # a copy from before the suspension
    with start_server(ModelService(served, policy, path)) as server:
        server.service.suspend("mallory", "probing; ask an admin")
        assert post_raw(server.url, key, "faces", {"inputs": GREY})["status"] == 200
    assert verify_log(path).intact
    attempts = {}
    # 1. lift the suspension by rewriting the chain with a key of one's own (the real one is not in the folder)
    forged = tmp_path / "forged.sqlite"
    shutil.copyfile(path, forged)
    own = secrets.token_bytes(32)
    with closing(sqlite3.connect(forged)) as db, db:
        db.execute("DELETE FROM alerts")
        sketches: dict[int, list[str]] = {}
        for rid, sketch in db.execute("SELECT request_id, sketch FROM sketches ORDER BY request_id, position"):
            sketches.setdefault(rid, []).append(sketch)
        previous = "0" * 64
        for row in db.execute(f"SELECT id, {', '.join(REQUEST_FIELDS)} FROM requests ORDER BY id").fetchall():
            previous = _row_chain(own, previous, "requests", row[0], list(row[1:]), sketches.get(row[0]))
            db.execute("UPDATE requests SET chain = ? WHERE id = ?", (previous, row[0]))
    attempts["rewritten"] = verify_log(forged, keys=key_folder(path))
    # 2. cut the tail: the suspension row and the last request
    cut = tmp_path / "cut.sqlite"
    shutil.copyfile(path, cut)
    with closing(sqlite3.connect(cut)) as db, db:
        db.execute("DELETE FROM alerts")
        db.execute("DELETE FROM requests WHERE id = (SELECT MAX(id) FROM requests)")
    attempts["cut"] = verify_log(cut, keys=key_folder(path))
    # 3. the older copy put back in place of the log
    attempts["older copy"] = verify_log(tmp_path / "old.sqlite", keys=key_folder(path))
    for name, check in attempts.items():
        assert not check.intact, name
    assert "requests row 1: this row (or its sketches) was edited, or written under another key" in \
        attempts["rewritten"].problem
    assert "cut off the end, or an older copy" in attempts["cut"].problem
    assert "cut off the end, or an older copy" in attempts["older copy"].problem
    shutil.copyfile(tmp_path / "old.sqlite", path)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with pytest.raises(AuditLogError, match="older copy of the log was put back"):
        ModelService(served, AccessPolicy(), path)


def test_a_rewrite_by_someone_with_the_key_folder_is_caught_by_the_checkpoints_printed_elsewhere(served, tmp_path):
    """The service prints its head to its own standard log; `audit verify --checkpoint` checks against that copy."""
    from lab_helpers.defences.audit import _checkpoint_mac

    path, printed = tmp_path / "s.sqlite", tmp_path / "service-output.txt"
    lines: list[str] = []
    policy = AccessPolicy(rate_limits=False)
    key = policy.issue_key("a", "admin")
    log = AuditLog(path, echo=lines.append, echo_seconds=0)
    _answer_some(served, policy, log, key, 3)
    printed.write_text("Serving faces on http://127.0.0.1:8000\n" + "\n".join(lines) + "\n")
    assert len(lines) >= 3 and all(line.startswith("audit checkpoint {") for line in lines)
    # an insider with the whole machine: drops the last request, re-signs a consistent set of checkpoints
    folder = key_folder(path)
    secret = bytes.fromhex((folder / "chain.key").read_text())
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("DELETE FROM requests WHERE id = (SELECT MAX(id) FROM requests)")
        head = db.execute("SELECT id, chain FROM requests ORDER BY id DESC LIMIT 1").fetchone()
        log_id = db.execute("SELECT value FROM meta WHERE name='log_id'").fetchone()[0]
    doc = {"log": log_id, "seq": 1, "time": 0.0, "requests": list(head), "alerts": [0, "0" * 64]}
    doc["mac"] = _checkpoint_mac(secret, doc)
    (folder / "checkpoints.jsonl").write_text(json.dumps(doc) + "\n")
    assert verify_log(path).intact  # the key folder's own checkpoints were rewritten too
    run = subprocess.run([sys.executable, "-m", "lab_helpers", "audit", "verify", str(path), "--checkpoint",
                          str(printed)], capture_output=True, text=True, timeout=60, cwd=KIT)
    assert run.returncode == 1 and "cut off the end" in run.stdout
    # a forged checkpoint line (without the key) is refused, not believed
    printed.write_text(lines[-1].replace('"seq":', '"seq":9') + "\n")
    check = verify_log(path, checkpoint=printed)
    assert not check.intact and "not signed by this log's key" in check.problem


def test_a_lifted_suspension_stays_lifted_and_a_new_one_survives_a_restart(served, tmp_path):
    path = tmp_path / "t.sqlite"

    def policy():
        p = AccessPolicy(rate_limits=False, block_on_alert=True)
        return p, p.issue_key("m", "admin"), p.issue_key("n", "admin")

    p, m, n = policy()
    with start_server(ModelService(served, p, path)) as server:
        server.service.suspend("m", "probing; ask an admin")
        server.service.suspend("n", "probing; ask an admin")
        server.service.lift_suspension("n", "a clinician's app, reviewed")
    p, m, n = policy()
    with start_server(ModelService(served, p, path)) as server:
        assert post_raw(server.url, m, "faces", {"inputs": GREY})["status"] == 403
        assert post_raw(server.url, n, "faces", {"inputs": GREY})["status"] == 200
    alerts = read_alerts(path)
    assert alerts["rule"].tolist() == ["suspended_by_admin", "suspended_by_admin", "suspension_lifted"]


# ---------------------------------------------------------------- 4. atomic suspension

def test_no_request_is_answered_after_the_alert_that_suspended_its_key(served, tmp_path):
    policy = AccessPolicy(rate_limits=False, granularity=False, block_on_alert=True)
    key = policy.issue_key("mallory", "public")
    path = tmp_path / "l.sqlite"
    rng = np.random.default_rng(0)
    batches = [np.clip(0.5 + rng.normal(0, 0.002, (10, 4096)), 0, 1).tolist() for _ in range(20)]
    with start_server(ModelService(served, policy, path)) as server:
        with ThreadPoolExecutor(20) as pool:
            codes = list(pool.map(lambda b: post_raw(server.url, key, "faces", {"inputs": b}, timeout=30)["status"],
                                  batches))
    alerts, log = read_alerts(path), read_requests(path)
    assert len(alerts) >= 1 and set(codes) == {200, 403}
    first = int(alerts["request_id"].min())
    later = log[(log["id"] > first) & (log["key_id"] == "mallory")]
    assert len(later) > 0 and (later["status"] == 403).all()  # every later request refused, none answered


# ---------------------------------------------------------------- 5. restarts and clocks

def test_a_restart_does_not_refill_the_burst_and_retry_after_is_honest(served, tmp_path):
    clock, path = SimulatedClock(), tmp_path / "m.sqlite"
    roles = {"tiny": Role("tiny", (OutputPolicy("label"),), RateLimit(burst=10, per_minute=60, per_day=1_000))}

    def service():
        p = AccessPolicy(roles=roles, clock=clock)
        return ModelService(served, p, path), p.issue_key("t", "tiny")

    svc, key = service()
    with start_server(svc) as server:
        assert post_raw(server.url, key, "faces", {"inputs": GREY * 10})["status"] == 200
    svc, key = service()
    with start_server(svc) as server:
        reply = post_raw(server.url, key, "faces", {"inputs": GREY * 2})
        assert reply["status"] == 429 and reply["retry_after"] == "2"  # 2 queries at one a second
        clock.advance(2)
        assert post_raw(server.url, key, "faces", {"inputs": GREY * 2})["status"] == 200


def test_a_clock_stepped_back_across_midnight_does_not_reset_the_daily_quota(served, tmp_path):
    clock = SimulatedClock(1_767_657_630.0)  # 00:00:30 UTC
    roles = {"tiny": Role("tiny", (OutputPolicy("label"),), RateLimit(burst=30, per_minute=6_000, per_day=30))}
    policy = AccessPolicy(roles=roles, clock=clock)
    key = policy.issue_key("t", "tiny")
    with start_server(ModelService(served, policy, tmp_path / "n.sqlite")) as server:
        assert post_raw(server.url, key, "faces", {"inputs": GREY * 30})["status"] == 200
        clock.advance(-60)  # 23:59:30 the day before
        reply = post_raw(server.url, key, "faces", {"inputs": GREY * 30})
        assert reply["status"] == 429 and "daily quota" in reply["error"]
        assert int(reply["retry_after"]) > 86_400 - 120  # honest: the quota frees when the later day ends


def test_a_bucket_neither_freezes_nor_refills_when_its_clock_steps_back():
    bucket = TokenBucket(capacity=10, rate=1.0, tokens=0.0, updated=1_000.0)
    assert bucket.wait(1, 1_000.0) == pytest.approx(1.0)
    assert bucket.wait(1, 1_000.0 - 3_600) == pytest.approx(1.0)  # stepped back an hour: still one second away
    assert bucket.wait(1, 1_000.0 - 3_599) == 0.0  # and one second later it is there


def test_the_wall_clock_stepping_back_leaves_bursts_on_the_monotonic_clock(served, tmp_path):
    wall, mono = SimulatedClock(), SimulatedClock(100.0)
    policy = AccessPolicy(clock=wall, monotonic=mono)
    key = policy.issue_key("p", "public")
    with start_server(ModelService(served, policy, tmp_path / "o.sqlite")) as server:
        assert post_raw(server.url, key, "faces", {"inputs": GREY * 20})["status"] == 200
        wall.advance(-3_600)
        reply = post_raw(server.url, key, "faces", {"inputs": GREY})
        assert reply["status"] == 429 and reply["retry_after"] == "3"  # public: 20 a minute, one every 3 s
        mono.advance(3)
        assert post_raw(server.url, key, "faces", {"inputs": GREY})["status"] == 200


# ---------------------------------------------------------------- 6. start-up errors

@pytest.mark.parametrize("args, says", [
    (["serve", "--audit", "/proc/no-such-dir/audit.sqlite"], "Cannot open the audit log"),
    (["serve", "--bogus"], "unrecognized arguments: --bogus"),
    (["serve", "--port", "not-a-port"], "invalid int value"),
    (["serve", "--segment", "40"], "segment_prefix must be a whole number of bits from 8 to 32"),
    (["serve", "--segment", "24", "--detector", "baseline"], "--segment needs the adaptive detector"),
])
def test_start_up_errors_are_one_line_saying_what_to_do(args, says):
    run = subprocess.run([sys.executable, "-m", "lab_helpers", *args], capture_output=True, text=True, timeout=60,
                         cwd=KIT)
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and len(lines) == 1 and says in lines[0] and "Traceback" not in run.stderr


@pytest.mark.slow
def test_a_port_in_use_is_one_line(tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        port = taken.getsockname()[1]
        run = subprocess.run([sys.executable, "-m", "lab_helpers", "serve", "--models", "patients", "--port", str(port),
                              "--audit", str(tmp_path / "p.sqlite")], capture_output=True, text=True, timeout=120, cwd=KIT)
    finally:
        taken.close()
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and len(lines) == 1 and f"Port {port}" in lines[0] and "--port" in lines[0]


def test_an_old_log_without_a_chain_says_start_fresh(served, tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE requests (id INTEGER PRIMARY KEY, time REAL)")
    db.commit()
    db.close()
    with pytest.raises(AuditLogError, match="older version.*start fresh"):
        ModelService(served, AccessPolicy(), path)
    ModelService(served, AccessPolicy(), path, fresh=True).close()  # --fresh starts over
    assert verify_log(path).intact


def test_concurrent_requests_keep_one_unbroken_chain(served, tmp_path):
    policy = AccessPolicy(rate_limits=False)
    keys = [policy.issue_key(f"k{i}", "admin") for i in range(8)]
    path = tmp_path / "q.sqlite"
    with start_server(ModelService(served, policy, path)) as server:
        def client(secret):
            return [post_raw(server.url, secret, "faces", {"inputs": GREY})["status"] for _ in range(5)]

        threads = [threading.Thread(target=client, args=(k,)) for k in keys]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        httpx.get(f"{server.url}/v1/nowhere", timeout=5)
    check = verify_log(path)
    assert check.intact and check.requests == 8 * 5 + 1


class _CountingConnection:
    """An SQLite connection that counts INSERTs and can make each write slow (a loaded disk)."""

    def __init__(self, db, delay: float = 0.0):
        self.db, self.delay, self.inserts = db, delay, 0

    def __enter__(self):
        return self.db.__enter__()

    def __exit__(self, *exc):
        return self.db.__exit__(*exc)

    def execute(self, sql, *args):
        if sql.startswith("INSERT INTO requests"):
            self.inserts += 1
            time.sleep(self.delay)
        return self.db.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.db, name)


def _record_from_threads(log, n: int) -> list[str]:
    """n threads record one request each at once; 'ok' or the AuditUnavailable message per thread."""
    def one(i):
        try:
            log.record(dict(time=float(i), endpoint="predict", key_id="k", method="POST", status=200,
                            decision="answered", n_inputs=1))
            return "ok"
        except AuditUnavailable as exc:
            return str(exc)
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_many_clients_at_once_on_a_slow_disk_are_a_queue_not_an_outage(tmp_path):
    # 30 writes of 60 ms each queue for 1.8 s in all; the old limit (twice busy_seconds, 0.5 s) refused most
    log = AuditLog(tmp_path / "slow.sqlite")
    log._db = _CountingConnection(log._db, delay=0.06)
    results = _record_from_threads(log, 30)
    log.close()
    assert results == ["ok"] * 30
    check = verify_log(tmp_path / "slow.sqlite")
    assert check.intact and check.requests == 30


def test_writes_queued_behind_a_failed_one_fail_at_once_without_trying_again(tmp_path):
    path = tmp_path / "held.sqlite"
    log = AuditLog(path, busy_seconds=0.3)
    counting = log._db = _CountingConnection(log._db)
    blocker = sqlite3.connect(path, timeout=1, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        results = _record_from_threads(log, 10)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert all("locked" in r for r in results), results  # every one refused (fail closed), saying why
    assert counting.inserts == 1  # only the first waited on the lock; the nine behind it failed fast
    log.close()


# ---------------------------------------------------------------- the log is a data store too (issue 25 item 4)

def test_a_stolen_log_holds_no_face_and_no_key_and_old_sketches_are_destroyed(served, faces, tmp_path):
    """Someone who copies the log file gets no thumbnail and nothing to brute-force; after two days nobody can."""
    import shutil

    from lab_helpers.defences import read_sketches, sketch_images

    path, clock = tmp_path / "u.sqlite", SimulatedClock()
    policy = AccessPolicy(rate_limits=False, granularity=False, clock=clock)
    key = policy.issue_key("camera", "admin")
    photos = faces.X_train[:5]
    with start_server(ModelService(served, policy, path)) as server:
        assert post_raw(server.url, key, "faces", {"inputs": photos.tolist()})["status"] == 200
        clock.advance(3 * 86_400)  # three days later: the first day's sketch key is destroyed
        assert post_raw(server.url, key, "faces", {"inputs": photos[:1].tolist()})["status"] == 200
    thumbnails = sketch_images(photos)
    with closing(sqlite3.connect(path)) as db:
        stored = [s for (s,) in db.execute("SELECT sketch FROM sketches ORDER BY request_id, position")]
        text = "\n".join("|".join(map(str, r)) for r in db.execute("SELECT * FROM requests")) + "\n".join(stored)
        meta = dict(db.execute("SELECT name, value FROM meta").fetchall())
    assert len(stored) == 6 and all(s.startswith("s1:") for s in stored) and set(meta) == {"log_id"}
    assert not any(t[:16] in text for t in thumbnails)  # not even a row of a thumbnail, in any column
    thief = tmp_path / "stolen"
    thief.mkdir()
    shutil.copyfile(path, thief / "u.sqlite")
    assert read_sketches(thief / "u.sqlite", keys=thief).sketch.isna().all()  # the file alone: nothing
    owner = read_sketches(path)  # the key folder: only the sketches of the last `sketch_days` days
    assert owner.sketch.isna().tolist() == [True] * 5 + [False] and owner.sketch.iloc[-1] == thumbnails[0]


# ---------------------------------------------------------------- resources no caller without a key can hold (item 5)

def test_keyless_refusals_are_logged_in_one_row_per_address_and_minute(served, tmp_path):
    clock, path = SimulatedClock(), tmp_path / "v.sqlite"
    policy = AccessPolicy(clock=clock, refusal_limit=None)
    with start_server(ModelService(served, policy, path)) as server:
        with httpx.Client(timeout=5, trust_env=False) as http:
            for minute in range(2):
                for i in range(150):
                    assert http.get(f"{server.url}/v1/models", headers={"X-API-Key": f"lab-guess-{i}"}).status_code == 401
                clock.advance(60)
            assert http.get(f"{server.url}/v1/models").status_code == 401  # a new minute: the last one is summed up
    log = read_requests(path)
    assert len(log) == 2 * (5 + 1) + 1  # was 301 rows: five of each minute, a summary of each minute, one more
    summaries = log[log["endpoint"] == "keyless-refusals"]
    assert summaries["reason"].str.startswith("145 more refused request(s) without a valid key from 127.0.0.1").all()
    assert summaries["client"].tolist() == ["127.0.0.1"] * 2 and verify_log(path).intact


def test_a_client_that_sends_its_headers_slowly_or_not_at_all_is_closed(served, tmp_path):
    policy = AccessPolicy()
    key = policy.issue_key("a", "admin")
    path = tmp_path / "w.sqlite"
    service = ModelService(served, policy, path)
    service.header_seconds = 1.0
    with start_server(service) as server:
        host, port = server.url.removeprefix("http://").split(":")
        silent = socket.create_connection((host, int(port)), timeout=10)
        slow = socket.create_connection((host, int(port)), timeout=10)
        head = f"POST /v1/models/faces/predict HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\nX-Pad: ".encode()
        closed = {}
        for i, byte in enumerate(head + b"a" * 40):  # one byte every 0.1 s: each one arrives, the headers never do
            try:
                slow.sendall(bytes([byte]))
            except OSError:
                closed["slow"] = i
                break
            time.sleep(0.1)
        for name, sock in (("silent", silent), ("slow", slow)):
            assert closed_by_server(sock), name
            sock.close()
        assert post_raw(server.url, key, "faces", {"inputs": GREY})["status"] == 200  # prompt callers unaffected
    log = read_requests(path)
    slow_rows = log[log["reason"].str.contains("no complete request headers within 1 s", na=False)]
    assert len(slow_rows) == 2 and (slow_rows["status"] == 408).all()


def test_an_address_cannot_hold_more_than_its_share_of_idle_connections(served, tmp_path):
    policy = AccessPolicy()
    key = policy.issue_key("a", "admin")
    service = ModelService(served, policy, tmp_path / "x.sqlite")
    service.waiting_per_address = 5
    with start_server(service) as server:
        host, port = server.url.removeprefix("http://").split(":")
        held = [socket.create_connection((host, int(port)), timeout=10) for _ in range(8)]
        time.sleep(0.3)
        assert all(closed_by_server(sock) for sock in held[:3])  # the three oldest were closed to make room
        for sock in held[3:]:
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(100)  # still open, nothing sent
        # a caller that sends its request promptly still gets in: the oldest idle connection gives way
        assert post_raw(server.url, key, "faces", {"inputs": GREY})["status"] == 200
        for sock in held:
            sock.close()

"""Issue 25's security review of the model service, re-run at the review's sizes on 127.0.0.1.

    python benchmarks/service_review.py           # prints one line per attack: what was tried, what happened
    python benchmarks/service_review.py --write   # ... and puts the table in docs/performance.md

Each attack is the review's, bounded in count and time; the server runs in this process (the load and slow-client
figures are in gateway_load.py, which runs the server in its own process).
"""
from __future__ import annotations

import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(KIT))
GREY = [[0.5] * 4096]


def review() -> list[tuple[str, str, str]]:
    """(attack, what the review found, what happens now) for each attack of the review."""
    import httpx

    from lab_helpers.data import load_faces, load_people
    from lab_helpers.defences import AccessPolicy, AuditLogError, RateLimit, key_folder, read_requests, read_sketches, verify_log
    from lab_helpers.defences.audit import REQUEST_FIELDS, _row_chain
    from lab_helpers.service import ModelService, face_endpoint, post_raw, start_server
    from lab_helpers.service.server import patient_endpoint
    from lab_helpers.targets import train_face_model
    from lab_helpers.targets.forests import train_tabular_model

    faces, people = load_faces(seed=0), load_people("healthcare")
    served = [face_endpoint(train_face_model(faces, "softmax", progress=False)),
              patient_endpoint(train_tabular_model(people, name="overfit"), people)]
    folder = Path(tempfile.mkdtemp(prefix="review-"))
    rows = []

    # 1. a forged client address
    policy = AccessPolicy()
    with start_server(ModelService(served, policy, folder / "xff.sqlite")) as server, \
            httpx.Client(timeout=10, trust_env=False) as http:
        codes = [http.post(f"{server.url}/v1/models/faces/predict", json={"inputs": GREY},
                           headers={"X-Forwarded-For": f"10.66.{i // 250}.{i % 250}"}).status_code for i in range(300)]
    clients = read_requests(folder / "xff.sqlite")["client"]
    rows.append(("1. 300 keyless requests, a new X-Forwarded-For each", "all 300 got 401; any address could be logged",
                 f"{codes.count(401)} got 401, {codes.count(429)} got 429; logged addresses: "
                 f"{', '.join(sorted({c.split(':')[0] for c in clients}))}"))

    # 2. a neighbour locks a key out
    policy = AccessPolicy()
    admin = policy.issue_key("admin-1", "admin")
    with start_server(ModelService(served, policy, folder / "neighbour.sqlite")) as server:
        bad = [post_raw(server.url, None, "faces", {"inputs": GREY})["status"] for _ in range(125)]
        after = [post_raw(server.url, admin, "faces", {"inputs": GREY})["status"] for _ in range(5)]
    rows.append(("2. a keyless neighbour sends 125 bad requests, then the admin key at the same address asks",
                 "the admin key got 429 for as long as it went on",
                 f"neighbour: {bad.count(401)}x401, {bad.count(429)}x429; admin key: {after}"))

    # 3. rolling the log back
    path = folder / "roll.sqlite"
    policy = AccessPolicy(rate_limits=False, block_on_alert=True)
    key = policy.issue_key("a", "admin")
    with start_server(ModelService(served, policy, path)) as server:
        for _ in range(3):
            post_raw(server.url, key, "faces", {"inputs": GREY})
    shutil.copyfile(path, folder / "older.sqlite")
    with start_server(ModelService(served, policy, path)) as server:
        server.service.suspend("mallory", "probing; ask an admin")
        post_raw(server.url, key, "faces", {"inputs": GREY})
    keys = key_folder(path)
    results = {}
    forged = folder / "forged.sqlite"
    shutil.copyfile(path, forged)
    own = secrets.token_bytes(32)
    with closing(sqlite3.connect(forged)) as db, db:
        db.execute("DELETE FROM alerts")
        sketches: dict[int, list[str]] = {}
        for rid, s in db.execute("SELECT request_id, sketch FROM sketches ORDER BY request_id, position"):
            sketches.setdefault(rid, []).append(s)
        previous = "0" * 64
        for row in db.execute(f"SELECT id, {', '.join(REQUEST_FIELDS)} FROM requests ORDER BY id").fetchall():
            previous = _row_chain(own, previous, "requests", row[0], list(row[1:]), sketches.get(row[0]))
            db.execute("UPDATE requests SET chain = ? WHERE id = ?", (previous, row[0]))
    results["rows rewritten under the attacker's own key (suspension lifted)"] = verify_log(forged, keys=keys)
    cut = folder / "cut.sqlite"
    shutil.copyfile(path, cut)
    with closing(sqlite3.connect(cut)) as db, db:
        db.execute("DELETE FROM alerts")
        db.execute("DELETE FROM requests WHERE id = (SELECT MAX(id) FROM requests)")
    results["the tail cut (the alert and the last request)"] = verify_log(cut, keys=keys)
    results["an older copy put back"] = verify_log(folder / "older.sqlite", keys=keys)
    for what, check in results.items():
        rows.append((f"3. {what}", "`audit verify` said OK", check.text().split(": ", 2)[-1]))
    modes = sorted({oct(p.stat().st_mode & 0o777) for p in [*folder.glob("roll.sqlite*"), *keys.iterdir()]})
    modes_row = ("3. file modes", "log and state 0644", f"the log's files and its key folder's files {', '.join(modes)}; "
                 f"the key folder {oct(keys.stat().st_mode & 0o777)}")
    for stale in [p for p in folder.iterdir() if p.name.startswith("roll.sqlite")]:
        stale.unlink()
    try:
        ModelService(served, AccessPolicy(), path)
        started = "the service started afresh"
    except AuditLogError as exc:
        started = "refused: " + str(exc).split(". Restore")[0].replace(f"The audit log {path} is", "the log is").replace(str(keys), "(kept apart)")
    rows.append(("3. every file in the log's folder deleted", "a fresh start", started))
    rows.append(modes_row)

    # 4. the log as a data store
    path = folder / "leak.sqlite"
    policy = AccessPolicy(rate_limits=False, granularity=False)
    key = policy.issue_key("clinic", "admin")
    record = {c: (v.item() if hasattr(v, "item") else v) for c, v in people.frame[people.features].iloc[0].items()}
    with start_server(ModelService(served, policy, path)) as server:
        post_raw(server.url, key, "patients", {"inputs": [record]})
        post_raw(server.url, key, "faces", {"inputs": faces.X_train[:3].tolist()})
    thief = Path(tempfile.mkdtemp(prefix="thief-"))
    shutil.copyfile(path, thief / "leak.sqlite")
    began = time.perf_counter()
    with closing(sqlite3.connect(thief / "leak.sqlite")) as db:
        meta = dict(db.execute("SELECT name, value FROM meta").fetchall())
    readable = read_sketches(thief / "leak.sqlite", keys=thief)["sketch"].notna().sum()
    rows.append(("4. a stolen copy of the log: brute-force a patient record's fields, read the faces' thumbnails",
                 "all 13 fields in 0.02 s (the digest key in `meta`); an 8x8 thumbnail of every face",
                 f"`meta` holds {sorted(meta)} (no key); {readable} of 4 sketches readable; nothing to brute-force "
                 f"against ({time.perf_counter() - began:.2f} s spent looking)"))

    # 6. the small items
    policy = AccessPolicy(refusal_limit=RateLimit(burst=500, per_minute=600, per_day=100_000))
    key = policy.issue_key("a", "admin")
    with start_server(ModelService(served, policy, folder / "small.sqlite")) as server, \
            httpx.Client(timeout=10, trust_env=False) as http:
        bom = http.post(f"{server.url}/v1/models/faces/predict", content=b"\xef\xbb\xbf" + b'{"inputs": [[0.5]]}',
                        headers={"X-API-Key": key, "Content-Type": "application/json"}).status_code
        utf16 = http.post(f"{server.url}/v1/models/faces/predict", content='{"inputs": [[0.5]]}'.encode("utf-16"),
                          headers={"X-API-Key": key, "Content-Type": "application/json"}).status_code
        newline = http.post(f"{server.url}/v1/models/faces/predict%0A", json={"inputs": GREY},
                            headers={"X-API-Key": key}).status_code
    rows.append(("6. a UTF-8 BOM body, a UTF-16 body, POST .../predict%0A", "answered (200)",
                 f"{bom}, {utf16}, {newline}"))
    return rows


def report(rows: list[tuple[str, str, str]]) -> str:
    """The docs/performance.md section."""
    lines = ["## The model service's security review (issue 25), re-run", "",
             "Each attack of the review at its size, on 127.0.0.1 (`python benchmarks/service_review.py`); the slow "
             "clients and the keyless flood are under *The model service under load*.", "",
             "| attack | the review found | now |", "|---|---|---|"]
    lines += [f"| {attack} | {before} | {now} |" for attack, before, now in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    text = report(review())
    print(text)
    if "--write" in sys.argv:
        from lab_starts import write_section

        write_section(KIT / "docs" / "performance.md", text, "## The model service's security review (issue 25), re-run")

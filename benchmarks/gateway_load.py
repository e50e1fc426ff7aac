"""Load on the lab 06 model service, on 127.0.0.1: sustained clients, and /health during a flood of oversized bodies.

    python benchmarks/gateway_load.py            # prints the table; run_benchmarks.py puts it in docs/performance.md
    python benchmarks/gateway_load.py --write    # ... and replaces its section of docs/performance.md now

Every phase is bounded in time and in requests. The server runs in its own process (as `serve` would), the
clients in this one and the flood in a third, so none of them slows the others through Python's lock; "server
memory" is the server process's resident memory.
"""
from __future__ import annotations

import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

KIT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(KIT))


def rss_mb(pid: int | str = "self") -> float:
    """A process's resident memory (MB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def health_latencies(url: str, n: int, pause: float = 0.02) -> list[float]:
    """n sequential GET /health on one kept-alive connection: seconds per answer."""
    import httpx

    out = []
    with httpx.Client(timeout=30, trust_env=False) as http:
        for _ in range(n):
            began = time.perf_counter()
            try:
                http.get(f"{url}/health")
            except httpx.HTTPError:
                pass
            out.append(time.perf_counter() - began)
            time.sleep(pause)
    return out


def sustained(url: str, keys: list[str], seconds: float, batch: int = 1, max_requests: int = 100_000) -> dict:
    """Each key a client thread sending predict requests of `batch` grey images back to back for `seconds`."""
    import httpx

    body = {"inputs": [[0.5] * 4096] * batch}
    latencies, errors, lock = [], [0], threading.Lock()
    stop = time.monotonic() + seconds

    def client(secret: str) -> None:
        with httpx.Client(timeout=30, trust_env=False) as http:
            sent = 0
            while time.monotonic() < stop and sent < max_requests:
                began = time.perf_counter()
                try:
                    ok = http.post(f"{url}/v1/models/faces/predict", json=body, headers={"X-API-Key": secret}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                with lock:
                    latencies.append(time.perf_counter() - began)
                    errors[0] += not ok
                sent += 1

    began = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    wall = time.perf_counter() - began
    return {"requests": len(latencies), "per_second": len(latencies) / wall, "p50_ms": 1000 * percentile(latencies, 50),
            "p99_ms": 1000 * percentile(latencies, 99), "errors": errors[0]}


def flood(url: str, secret: str, seconds: float, threads: int = 4, counts=None) -> None:
    """Threads sending 15 MB bodies (half declared with Content-Length, half streamed without) for `seconds`."""
    host, port = url.removeprefix("http://").split(":")
    stop = time.monotonic() + seconds
    chunk = b"0.5, " * 13_107  # 64 KB
    sent, refused, lock = [0], [0], threading.Lock()

    def one(streamed: bool) -> None:
        while time.monotonic() < stop:
            try:
                with socket.create_connection((host, int(port)), timeout=10) as sock:
                    if streamed:
                        sock.sendall((f"POST /v1/models/faces/predict HTTP/1.1\r\nHost: x\r\nX-API-Key: {secret}\r\n"
                                      "Transfer-Encoding: chunked\r\n\r\n").encode())
                        for _ in range(240):  # 15 MB; the server stops reading at the key's limit and answers
                            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    else:
                        sock.sendall((f"POST /v1/models/faces/predict HTTP/1.1\r\nHost: x\r\nX-API-Key: {secret}\r\n"
                                      "Content-Length: 15000000\r\n\r\n").encode())
                    answer = sock.recv(64)
            except OSError:
                answer = b""
            with lock:
                sent[0] += 1
                refused[0] += answer.startswith(b"HTTP/1.1 413")

    workers = [threading.Thread(target=one, args=(i % 2 == 1,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(seconds + 30)
    if counts is not None:
        counts.put((sent[0], refused[0]))


def _hold(host: str, port: int, secret: str, kinds: dict[str, int], pid: int, limit: float) -> dict:
    """Open connections of each kind at once and keep them slow until the server closes them (bounded by `limit`)."""
    head = (f"POST /v1/models/faces/predict HTTP/1.1\r\nHost: x\r\nX-API-Key: {secret}\r\n"
            "Content-Type: application/json\r\nContent-Length: 200000\r\n\r\n").encode()
    began, socks = time.monotonic(), []
    for kind, n in kinds.items():
        for _ in range(n):
            sock = socket.create_connection((host, port), timeout=1)
            if kind == "body":
                sock.sendall(head + b'{"inputs": [[')
            socks.append((kind, sock))
    closed: dict[int, float] = {}
    rss_held, step = float("nan"), 0
    while len(closed) < len(socks) and time.monotonic() - began < limit:
        for i, (kind, sock) in enumerate(socks):
            if i in closed:
                continue
            try:
                if kind == "headers":
                    sock.sendall(b"GET /health HTTP/1.1\r\nX-Pad: " if step == 0 else b"a")
                elif kind == "body":
                    sock.sendall(b"0")
                sock.setblocking(False)
                data = sock.recv(4096)
                if data == b"" or data.startswith(b"HTTP/1.1 4"):
                    closed[i] = time.monotonic() - began
            except BlockingIOError:
                pass
            except OSError:
                closed[i] = time.monotonic() - began
        step += 1
        if time.monotonic() - began > 5 and rss_held != rss_held:
            rss_held = rss_mb(pid)
        time.sleep(0.5)
    for _, sock in socks:
        sock.close()
    return {"held": len(socks), "closed": len(closed), "rss_held": rss_held,
            "last": {k: max((t for i, t in closed.items() if socks[i][0] == k), default=float("nan")) for k in kinds},
            "at_once": {k: sum(1 for i, t in closed.items() if socks[i][0] == k and t < 2.0) for k in kinds}}


def audit_rows(path: Path) -> tuple[int, int]:
    """Rows in a live audit log: all, and the keyless-refusal summaries."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as db:
        return (db.execute("SELECT COUNT(*) FROM requests").fetchone()[0],
                db.execute("SELECT COUNT(*) FROM requests WHERE endpoint = 'keyless-refusals'").fetchone()[0])


def slow_clients(url: str, secret: str, pid: int, log: Path, keyless_seconds: float = 5.0, limit: float = 40.0) -> dict:
    """What callers who hold connections cost the server: slow bodies and headers, idle sockets, a keyless flood.

    Returns the server's memory before, while they are held and after they are gone, when the server closed
    them (seconds), and the keyless flood's requests against the audit rows it left (read after its minute ends).
    """
    import httpx

    host, port = url.removeprefix("http://").split(":")
    rss_before = rss_mb(pid)
    slow = _hold(host, int(port), secret, {"body": 50, "headers": 50}, pid, limit)
    idle = _hold(host, int(port), secret, {"idle": 100}, pid, limit)
    time.sleep(3)
    rss_after = rss_mb(pid)
    time.sleep(61 - time.time() % 60)  # a fresh minute for the keyless flood; the slow callers' summary is written
    httpx.get(f"{url}/health", timeout=10, trust_env=False)  # with this row
    rows_before, summaries_before = audit_rows(log)
    flood_sent, stop = 0, time.monotonic() + keyless_seconds
    with httpx.Client(timeout=10, trust_env=False) as http:
        while time.monotonic() < stop:
            http.get(f"{url}/v1/models", headers={"X-API-Key": f"lab-guess-{flood_sent}"})
            flood_sent += 1
        time.sleep(61 - time.time() % 60)  # its minute is over: the summary row comes with the next row
        http.get(f"{url}/health")
    rows_after, summaries = audit_rows(log)
    return {"rss_before": rss_before, "rss_held": max(slow["rss_held"], idle["rss_held"]), "rss_after": rss_after,
            "held": slow["held"] + idle["held"], "closed": slow["closed"] + idle["closed"],
            "last_closed": {**slow["last"], **idle["last"]}, "idle_closed_at_once": idle["at_once"]["idle"],
            "keyless_sent": flood_sent, "keyless_seconds": keyless_seconds,
            "keyless_rows": rows_after - rows_before - 1, "summary_rows": summaries - summaries_before}


SECRETS = {f"client-{i}": f"lab-load-client-{i}" for i in range(8)} | {"flooder": "lab-load-flooder"}


def serve(folder: str, queue) -> None:
    """The server process: the lab's face model behind the service, every key with a known secret."""
    from lab_helpers.data import load_faces
    from lab_helpers.defences import AccessPolicy
    from lab_helpers.service import ModelService, face_endpoint
    from lab_helpers.service.server import serve_forever
    from lab_helpers.targets import train_face_model

    model = train_face_model(load_faces(), "softmax", progress=False)
    policy = AccessPolicy(rate_limits=False, refusal_limit=None)  # the service's own cost, not its limiter
    for key_id, secret in SECRETS.items():
        policy.issue_key(key_id, "public" if key_id == "flooder" else "admin", secret=secret)
    service = ModelService([face_endpoint(model)], policy, Path(folder) / "load.sqlite")
    serve_forever(service, 0, queue.put)


def gateway_load(seconds: float = 10.0, clients: int = 8) -> dict:
    """Run the three phases against a fresh server process; every number of the performance.md table."""
    import multiprocessing as mp

    spawn = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as folder:
        urls = spawn.Queue()
        server = spawn.Process(target=serve, args=(folder, urls), daemon=True)
        server.start()
        try:
            deadline = time.monotonic() + 300
            while True:  # the server trains its model first; a server that died says so at once
                try:
                    url = urls.get(timeout=1)
                    break
                except Exception:
                    if not server.is_alive() or time.monotonic() > deadline:
                        raise RuntimeError("The server process did not start: run `python -m lab_helpers doctor`.")
            keys = [SECRETS[f"client-{i}"] for i in range(clients)]
            health_latencies(url, 20)  # warm up
            rss_before = rss_mb(server.pid)
            idle = health_latencies(url, 100)
            load = sustained(url, keys, seconds)
            batch = sustained(url, keys[:2], seconds / 2, batch=20)
            rss_loaded = rss_mb(server.pid)
            counts = spawn.Queue()
            flooder = spawn.Process(target=flood, args=(url, SECRETS["flooder"], seconds, 4, counts), daemon=True)
            flooder.start()
            time.sleep(1.0)
            during = health_latencies(url, 100, pause=(seconds - 2) / 120)
            flood_sent, flood_refused = counts.get(timeout=seconds + 60)
            flooder.join(30)
            rss_after = rss_mb(server.pid)
            slow = slow_clients(url, SECRETS["client-0"], server.pid, Path(folder) / "load.sqlite")
        finally:
            server.terminate()
            server.join(30)
        import sqlite3

        db = sqlite3.connect(Path(folder) / "load.sqlite")
        rows = db.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
        db.close()
    return {"clients": clients, "seconds": seconds, "load": load, "batch": batch,
            "health_idle_ms": 1000 * percentile(idle, 50), "health_idle_p99_ms": 1000 * percentile(idle, 99),
            "health_flood_ms": 1000 * percentile(during, 50), "health_flood_p99_ms": 1000 * percentile(during, 99),
            "flood_sent": flood_sent, "flood_refused": flood_refused,
            "rss_before": rss_before, "rss_loaded": rss_loaded, "rss_after": rss_after, "audit_rows": rows,
            "slow": slow}


def report(result: dict) -> str:
    """The performance.md section."""
    r, b, slow = result["load"], result["batch"], result["slow"]
    lb = slow["last_closed"]
    ratio = result["health_flood_ms"] / result["health_idle_ms"]
    return "\n".join([
        "## The model service under load (lab 06)", "",
        f"The real server on 127.0.0.1 in its own process, every request audited (hash chain, a signed checkpoint per row), rate limits "
        f"off so the service's own cost is measured. {result['clients']} clients, each sending one request after "
        f"another for {result['seconds']:.0f} s; then 2 clients with batches of 20 images; then 4 threads flooding "
        "15 MB bodies with a public key (half declared with Content-Length, half streamed) while /health is timed.", "",
        "| phase | requests | per second | p50 | p99 | errors |", "|---|---|---|---|---|---|",
        f"| {result['clients']} clients, 1 image each | {r['requests']:,} | {r['per_second']:.0f} | {r['p50_ms']:.1f} ms | "
        f"{r['p99_ms']:.1f} ms | {r['errors']} |",
        f"| 2 clients, 20 images each | {b['requests']:,} | {b['per_second']:.0f} | {b['p50_ms']:.1f} ms | "
        f"{b['p99_ms']:.1f} ms | {b['errors']} |", "",
        f"/health: median {result['health_idle_ms']:.1f} ms idle (p99 {result['health_idle_p99_ms']:.1f} ms), "
        f"{result['health_flood_ms']:.1f} ms during the flood (p99 {result['health_flood_p99_ms']:.1f} ms): "
        f"**{ratio:.1f}x** the idle median. The flood sent {result['flood_sent']:,} bodies, "
        f"{result['flood_refused']:,} refused with 413 before more than the key's limit was read.", "",
        f"Server process memory: {result['rss_before']:.0f} MB before, {result['rss_loaded']:.0f} MB after the "
        f"sustained load, {result['rss_after']:.0f} MB after the flood. Audit rows written: {result['audit_rows']:,}.",
        "", "### Callers who hold connections (issue 25)", "",
        "From one address, 100 connections opened at once: 50 send a 200 kB body one byte every half second, 50 send "
        "their headers one byte every half second; then 100 more that send nothing. The server closes each slow body at its "
        f"10 s deadline (last one after {lb['body']:.1f} s), each slow header at its 10 s deadline (last after "
        f"{lb['headers']:.1f} s), and keeps at most 64 idle connections per address ({slow['idle_closed_at_once']} of the "
        f"100 closed at once, the rest at the header deadline, last after {lb['idle']:.1f} s); {slow['closed']} of "
        f"{slow['held']} closed by the server (none by the client). Server memory: {slow['rss_before']:.0f} MB before, "
        f"{slow['rss_held']:.0f} MB while they were held, {slow['rss_after']:.0f} MB 3 s after the last was closed.", "",
        f"A keyless flood: {slow['keyless_sent']:,} requests with guessed keys in {slow['keyless_seconds']:.0f} s "
        f"(about {slow['keyless_sent'] / slow['keyless_seconds']:.0f} a second) left {slow['keyless_rows']:,} rows in the "
        f"audit log ({slow['summary_rows']} of them a summary): five rows of their own per address and minute, one "
        "summary row for the rest (a row each before: about 30 GB a day at the review's 784 a second).",
        ""])


if __name__ == "__main__":
    text = report(gateway_load())
    print(text)
    if "--write" in sys.argv:  # replace this section of docs/performance.md
        from lab_starts import write_section

        write_section(KIT / "docs" / "performance.md", text.rstrip("\n"), "## The model service under load (lab 06)")

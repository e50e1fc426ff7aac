"""Load on the lab 06 model service, on 127.0.0.1: sustained clients, and /health during a flood of oversized bodies.

    python benchmarks/gateway_load.py            # prints the table; run_benchmarks.py puts it in docs/performance.md

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
            url = urls.get(timeout=300)
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
            "rss_before": rss_before, "rss_loaded": rss_loaded, "rss_after": rss_after, "audit_rows": rows}


def report(result: dict) -> str:
    """The performance.md section."""
    r, b = result["load"], result["batch"]
    ratio = result["health_flood_ms"] / result["health_idle_ms"]
    return "\n".join([
        "## The model service under load (lab 06)", "",
        f"The real server on 127.0.0.1 in its own process, every request audited (hash chain, state file), rate limits "
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
        ""])


if __name__ == "__main__":
    print(report(gateway_load()))

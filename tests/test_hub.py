"""A class on a real JupyterHub (issue 18): the hub of hub/jupyterhub_config.py on 127.0.0.1, learners pulled in
with an nbgitpuller link to a local clone of this repository, labs executed by each learner's own server.

Needs `jupyterhub` and `nbgitpuller` (PyPI) and `configurable-http-proxy` (npm; `.ci/run` installs both);
skipped with a reason when the proxy is not installed. Every wait is bounded; the hub and every learner's
server are stopped at the end, and the test checks they are gone.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import nbformat
import pytest

KIT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "_artifacts"
LEARNERS = {"learner-1": "00_orientation.ipynb", "learner-2": "04_defence_output_minimisation.ipynb",
            "learner-3": "10_mock_exam.ipynb"}
pytestmark = [pytest.mark.hub, pytest.mark.timeout(1_500), pytest.mark.xdist_group("hub")]


def proxy_command() -> str | None:
    """The configurable-http-proxy executable: LAB_HUB_PROXY, on PATH, or where .ci/run installs it."""
    for candidate in (os.environ.get("LAB_HUB_PROXY"), shutil.which("configurable-http-proxy"),
                      str(KIT / ".ci" / "node" / "node_modules" / ".bin" / "configurable-http-proxy")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_until(check, seconds: float, what: str, pause: float = 0.5):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(pause)
    raise TimeoutError(f"{what} within {seconds:.0f} s")


def peak_mb(pid: int) -> float:
    """A process's peak resident memory (VmHWM), MB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def processes_of(user: str) -> list:
    """The learner's server and its kernels: every process whose environment names the hub user."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("JUPYTERHUB_USER") == user:
                found.append(proc)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


async def execute_cells(ws_url: str, token: str, cells: list[str], cell_timeout: float) -> list[str]:
    """Run code cells on a kernel through the hub's proxy (Jupyter's websocket protocol); the error outputs."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    conn = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": f"token {token}"}))
    session, errors = uuid.uuid4().hex, []
    try:
        for i, code in enumerate(cells):
            msg_id = uuid.uuid4().hex
            conn.write_message(json.dumps({
                "header": {"msg_id": msg_id, "username": "learner", "session": session, "msg_type": "execute_request",
                           "version": "5.3", "date": ""},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True}}))
            replied = idle = False
            while not (replied and idle):
                raw = await asyncio.wait_for(conn.read_message(), cell_timeout)
                if raw is None:
                    raise RuntimeError(f"the kernel connection closed during cell {i}")
                if isinstance(raw, bytes):
                    continue
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "error":
                    errors.append(f"cell {i}: {content['ename']}: {content['evalue']}")
                elif kind == "stream" and content.get("name") == "stderr" and "Traceback" in content.get("text", ""):
                    errors.append(f"cell {i}: {content['text'].strip().splitlines()[-1]}")
                elif kind == "execute_reply":
                    replied = True
                    if content.get("status") != "ok" and not errors:
                        errors.append(f"cell {i}: {content.get('status')}")
                elif kind == "status" and content.get("execution_state") == "idle":
                    idle = True
            if errors:
                break
    finally:
        conn.close()
    return errors


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    proxy = proxy_command()
    if proxy is None:
        pytest.skip("configurable-http-proxy is not installed (npm install -g configurable-http-proxy; .ci/run does)")
    pytest.importorskip("jupyterhub")
    pytest.importorskip("nbgitpuller")
    state = tmp_path_factory.mktemp("hub")
    port, api_port, proxy_port = free_ports(3)
    token = uuid.uuid4().hex
    env = {**os.environ, "LAB_HUB_PORT": str(port), "LAB_HUB_API_PORT": str(api_port),
           "LAB_HUB_PROXY_API_PORT": str(proxy_port), "LAB_HUB_STATE": str(state), "LAB_HUB_PASSWORD": "class",
           "LAB_HUB_ADMIN_TOKEN": token, "LAB_HUB_PROXY": proxy, "CONFIGPROXY_AUTH_TOKEN": uuid.uuid4().hex}
    log = open(state / "hub.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(KIT / "hub" / "jupyterhub_config.py")],
                               cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    api = httpx.Client(base_url=f"{url}/hub/api", headers={"Authorization": f"token {token}"}, timeout=30,
                       trust_env=False)

    def up():
        if process.poll() is not None:
            raise RuntimeError(f"JupyterHub exited: {(state / 'hub.log').read_text()[-2000:]}")
        try:
            return api.get("/").status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, 120, "JupyterHub did not answer")
        yield {"url": url, "api": api, "state": state, "process": process, "token": token}
    finally:
        for user in LEARNERS:
            try:
                api.delete(f"/users/{user}/server")
            except httpx.HTTPError:
                pass
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)
        api.close()
        log.close()


def test_learners_pull_the_kit_with_nbgitpuller_and_run_labs_through_the_hub(hub, tmp_path):
    api, url = hub["api"], hub["url"]
    branch = subprocess.run(["git", "-C", str(KIT), "rev-parse", "--abbrev-ref", "HEAD"], capture_output=True,
                            text=True, check=True).stdout.strip()
    origin = tmp_path / "model-inversion-lab"  # the class's copy of the repository (no network)
    subprocess.run(["git", "clone", "-q", "--branch", branch, str(KIT), str(origin)], check=True, timeout=120)
    assert api.post("/users", json={"usernames": list(LEARNERS)}).status_code == 201
    tokens = {}
    for user in LEARNERS:
        assert api.post(f"/users/{user}/server").status_code in (201, 202)
        tokens[user] = api.post(f"/users/{user}/tokens", json={"note": "test", "expires_in": 3_600}).json()["token"]
    for user in LEARNERS:
        wait_until(lambda u=user: api.get(f"/users/{u}").json()["servers"].get("", {}).get("ready"), 180,
                   f"{user}'s server did not start")

    results = {}
    for user, notebook in LEARNERS.items():
        auth = {"Authorization": f"token {tokens[user]}"}
        with httpx.Client(base_url=f"{url}/user/{user}", headers=auth, timeout=300, trust_env=False) as http:
            # the nbgitpuller link a learner clicks: /hub/user-redirect/git-pull?repo=...; its page streams this
            pulled = http.get("/git-pull/api", params={"repo": f"file://{origin}", "branch": branch,
                                                        "targetpath": "model-inversion-lab"})
            assert pulled.status_code == 200, pulled.text[-500:]
            home = hub["state"] / "home" / user / "model-inversion-lab"
            assert (home / "labs" / notebook).is_file() and (home / "solutions").is_dir()
            path = f"model-inversion-lab/solutions/{notebook}"
            session = http.post("/api/sessions", json={"path": path, "type": "notebook", "name": notebook,
                                                       "kernel": {"name": "python3"}}).json()
            cells = [c.source for c in nbformat.reads(json.dumps(http.get(f"/api/contents/{path}").json()["content"]),
                                                      as_version=4).cells if c.cell_type == "code"]
            ws = f"ws://127.0.0.1:{url.rsplit(':', 1)[1]}/user/{user}/api/kernels/{session['kernel']['id']}/channels"
            began = time.monotonic()
            errors = asyncio.run(execute_cells(ws, tokens[user], cells, cell_timeout=600))
            seconds = time.monotonic() - began
            processes = processes_of(user)
            if user == "learner-1":  # the executor reports a failing cell (so a clean run means something)
                assert "ZeroDivisionError" in " ".join(asyncio.run(execute_cells(ws, tokens[user], ["1 / 0"], 60)))
            results[user] = {"notebook": notebook, "cells": len(cells), "errors": errors, "seconds": round(seconds, 1),
                             "processes": len(processes),
                             "peak_mb": round(sum(peak_mb(p.pid) for p in processes), 1)}
    import psutil

    hub_process = psutil.Process(hub["process"].pid)
    everything = [hub_process, *hub_process.children(recursive=True)]
    for user in LEARNERS:
        everything += [p for p in processes_of(user) if p not in everything]
    total_mb = sum(p.memory_info().rss for p in everything if p.is_running()) / 2**20
    report = {"learners": results, "hub_total_rss_mb": round(total_mb, 1),
              "hub_and_proxy_rss_mb": round(sum(p.memory_info().rss for p in [hub_process, *hub_process.children()]
                                                if not any(p.pid == q.pid for u in LEARNERS for q in processes_of(u)))
                                            / 2**20, 1)}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "hub-memory.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    for user, result in results.items():
        assert result["errors"] == [], f"{user} ({result['notebook']}): {result['errors']}"
        assert result["processes"] >= 2 and 50 < result["peak_mb"] < 3_000  # a server and a kernel, measured
    assert {r["notebook"] for r in results.values()} >= {"00_orientation.ipynb", "04_defence_output_minimisation.ipynb"}


def test_the_hub_recipe_is_the_one_the_guide_shows():
    guide = (KIT / "docs" / "instructor_guide.md").read_text()
    assert "hub/jupyterhub_config.py" in guide and "hub/values.yaml" in guide and "git-pull?repo=" in guide
    config = (KIT / "hub" / "jupyterhub_config.py").read_text()
    assert '"dummy"' in config and '"simple"' in config and "127.0.0.1" in config

"""Classroom tools: presentation mode with Voilà (a real server on loopback) and `prepare` for an offline room."""
from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import nbformat
import pytest

from lab_helpers.kit import DASHBOARDS, dashboard_path, start_presentation

KIT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("lab", sorted(DASHBOARDS))
def test_presentation_serves_the_dashboard_without_a_traceback(lab, artifacts):
    with open(artifacts / f"voila-{lab}.log", "w") as log:
        show = start_presentation(lab, log=log)
        try:
            with urllib.request.urlopen(show.url, timeout=300) as response:
                page = response.read().decode("utf-8", "replace")
                assert response.status == 200
        finally:
            show.stop()
    assert show.process.poll() is not None  # stopped by its own handle
    assert "Traceback" not in page and "Error" not in page.split("</head>")[-1][:200000].replace("error_", "")
    assert "jupyter-widgets" in page or "widget" in page


def test_unknown_dashboard_lists_the_ones_that_exist():
    with pytest.raises(KeyError, match="Dashboards: 03"):
        dashboard_path("99")


@pytest.mark.parametrize("path", sorted(KIT.glob("dashboards/*.ipynb")), ids=lambda p: p.name)
def test_dashboards_are_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    assert all(c.outputs == [] for c in nb.cells if c.cell_type == "code")


@pytest.mark.slow
def test_prepare_runs_notebooks_and_reports_failures(tmp_path, capsys):
    from lab_helpers.kit import prepare_classroom

    good = tmp_path / "good.ipynb"
    bad = tmp_path / "bad.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1 + 1")]), good)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")]), bad)
    assert prepare_classroom([good])
    assert not prepare_classroom([good, bad])
    out = capsys.readouterr().out
    assert "good.ipynb: ok" in out and "bad.ipynb: FAILED" in out and "ZeroDivisionError" in out


def test_prepare_stamps_each_lab_with_the_cache_entries_it_used_and_doctor_reads_them(tmp_path, monkeypatch):
    from lab_helpers.kit import prepare_classroom
    from lab_helpers.kit.doctor import check_caches
    from lab_helpers.kit.prepare import lab_caches, stamp_path

    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path / "cache"))
    lab = tmp_path / "03_face_reconstruction.ipynb"  # a lab's name, using one cache entry as a lab's model would
    code = ("from lab_helpers.paths import cache_dir, cache_lock\n"
            "entry = cache_dir() / 'models' / 'tiny.pt'\n"
            "with cache_lock(entry):\n"
            "    entry.write_text('weights')\n")
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]), lab)
    assert not lab_caches()["03"].warm and "cold for 00-10" in check_caches().detail
    assert prepare_classroom([lab])
    stamp = json.loads(stamp_path("03").read_text())
    assert stamp["entries"] == ["models/tiny.pt"] and stamp["seconds"] > 0
    assert lab_caches()["03"].warm and "warm for 03; cold for 00-02, 04-10" in check_caches().detail
    (tmp_path / "cache" / "models" / "tiny.pt").unlink()  # an entry gone: the lab is cold again
    assert not lab_caches()["03"].warm and lab_caches()["03"].missing == 1


@pytest.mark.slow
def test_present_stops_voila_when_its_terminal_closes_or_it_is_killed():
    import signal as _signal
    import socket
    import subprocess
    import sys
    import time

    from lab_helpers.kit.present import free_port

    # SIGKILL cannot be caught: Voilà goes then because the kernel tells it its parent ended (Linux)
    for signum in (_signal.SIGTERM, _signal.SIGHUP, _signal.SIGKILL):
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "lab_helpers", "present", "04", "--port", str(port)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=KIT)
        try:
            line, deadline = "", time.monotonic() + 90
            while "Presenting" not in line and time.monotonic() < deadline and proc.poll() is None:
                line = proc.stdout.readline()
            assert "Presenting" in line, proc.stderr.read()
            socket.create_connection(("127.0.0.1", port), timeout=5).close()  # Voilà is listening
            proc.send_signal(signum)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        closed, deadline = False, time.monotonic() + 30
        while not closed and time.monotonic() < deadline:  # Voilà and its kernels went with it: the port is free
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                time.sleep(0.5)
            except OSError:
                closed = True
        assert closed, f"Voilà still holds port {port} after {_signal.Signals(signum).name}"


def test_reset_sees_a_notebook_open_in_a_running_jupyter_server(tmp_path):
    import json
    import os
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from lab_helpers.kit.notebooks import open_in_jupyter

    notebook = tmp_path / "labs" / "04_defence_output_minimisation.ipynb"
    notebook.parent.mkdir()
    notebook.write_text("{}")

    class Sessions(BaseHTTPRequestHandler):
        def do_GET(self):  # a Jupyter server's /api/sessions, with one notebook open
            ok = self.path.startswith("/api/sessions") and "token=secret" in self.path
            body = json.dumps([{"path": "labs/04_defence_output_minimisation.ipynb", "type": "notebook"}] if ok else {})
            self.send_response(200 if ok else 403)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sessions)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    (runtime / "jpserver-1.json").write_text(json.dumps({"url": url, "token": "secret", "pid": os.getpid(),
                                                          "root_dir": str(tmp_path)}))
    try:
        assert open_in_jupyter(notebook, str(runtime)) == [url.rstrip("/")]
        assert open_in_jupyter(tmp_path / "labs" / "03_face_reconstruction.ipynb", str(runtime)) == []
        assert open_in_jupyter(notebook, str(tmp_path / "no-runtime")) == []
    finally:
        server.shutdown()
        server.server_close()

"""Presentation mode: serve a lab's dashboard with Voilà (outputs only, no code) for a classroom projector."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..paths import kit_root

DASHBOARDS = {"03": "03_reconstruction_grid.ipynb", "04": "04_control_panel.ipynb"}


def dashboard_path(number: str) -> Path:
    """The dashboard notebook for lab NN, or a clear error listing the labs that have one."""
    key = str(number).zfill(2)
    if key not in DASHBOARDS:
        listing = ", ".join(f"{k} ({v.removesuffix('.ipynb')})" for k, v in DASHBOARDS.items())
        raise KeyError(f"Lab {number} has no presentation dashboard. Dashboards: {listing}.")
    return kit_root() / "dashboards" / DASHBOARDS[key]


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Presentation:
    """A running Voilà server and the handle that stops it."""

    process: subprocess.Popen
    url: str

    def stop(self, timeout: float = 20) -> None:
        """Stop the server and the kernels it started."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)

    def __enter__(self) -> "Presentation":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _die_with_parent(parent: int):
    """For the child, before Voilà starts: on Linux, a SIGTERM when the process that started it ends, however it ends."""
    def arrange() -> None:
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            return  # not Linux: present's own signal handlers stop Voilà
        if os.getppid() != parent:  # the parent ended before the line above: end now
            os._exit(1)

    return arrange


def start_presentation(number: str, port: int | None = None, wait: float = 60, log=None,
                       started=None) -> Presentation:
    """Start Voilà on 127.0.0.1 serving lab NN's dashboard; returns once the server answers.

    started: called with the Presentation as soon as Voilà's process exists (a caller's record for stopping it).
    """
    path, port = dashboard_path(number), port or free_port()
    command = [sys.executable, "-m", "voila", str(path), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
               "--theme=light", "--show_tracebacks=True"]
    process = subprocess.Popen(command, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT,
                               cwd=path.parent, start_new_session=True, preexec_fn=_die_with_parent(os.getpid()))
    presentation, deadline = Presentation(process, f"http://127.0.0.1:{port}/"), time.monotonic() + wait
    if started is not None:
        started(presentation)
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()  # listening: pages render on request
                return presentation
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Voilà did not start on port {port}; is the port free? Try another with "
                                       "--port.") from None
                time.sleep(0.5)
    except BaseException:  # not started, or interrupted while starting (Ctrl-C, SIGTERM): Voilà goes too
        presentation.stop()
        raise

"""A real browser: JupyterLab in headless Chromium runs lab 04's control panel and lab 00's drill, as a learner would."""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def jupyter_lab(tmp_path_factory, artifacts):
    """JupyterLab on loopback with a token, serving a copy of the notebooks (autosave must not touch the repo)."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing: .ci/run must install it (apt-get install -y chromium).")
        pytest.skip("no /usr/bin/chromium on this machine (apt-get install -y chromium)")
    root = tmp_path_factory.mktemp("browser-root")
    shutil.copytree(KIT / "solutions", root / "solutions")
    port, token = free_port(), secrets.token_hex(16)
    log = open(artifacts / "jupyterlab-browser-test.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
                               f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
                               f"--LabApp.workspaces_dir={root / '.workspaces'}", f"--LabApp.user_settings_dir={root / '.settings'}"],
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("JupyterLab did not start; see tests/_artifacts/jupyterlab-browser-test.log")
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}", token
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and the kernels it started
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
        log.close()


@pytest.fixture(scope="module")
def browser(jupyter_lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


def open_and_run_all(browser, jupyter_lab, notebook: str):
    """Open a notebook in JupyterLab, wait for an idle kernel (status bar), then Run > Run All Cells."""
    url, token = jupyter_lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    workspace = notebook.replace("/", "-").removesuffix(".ipynb")  # a fresh workspace: only this notebook open
    page.goto(f"{url}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={token}")
    page.wait_for_selector(".jp-Notebook")
    page.wait_for_function("() => (document.querySelector('#jp-main-statusbar') || {}).innerText?.includes('Idle')")
    page.click("li.lm-MenuBar-item:has-text('Run')")
    page.click("li.lm-Menu-item:has-text('Run All Cells')")
    return page


def test_control_panel_answers_in_the_browser(browser, jupyter_lab, artifacts):
    shots = artifacts / "browser"
    shots.mkdir(exist_ok=True)
    page = open_and_run_all(browser, jupyter_lab, "solutions/04_defence_output_minimisation.ipynb")
    label_only = page.locator(".lab-policy button:has-text('label only')")
    label_only.wait_for(timeout=600_000)  # the first run measures every setting; later runs load the cache
    label_only.scroll_into_view_if_needed()
    picture = page.locator("img.bb-picture")
    page.wait_for_function("() => document.querySelector('img.bb-picture')?.src?.length > 0")
    page.wait_for_function("() => /\\d/.test(document.querySelector('.bb-lineup')?.innerText || '')")  # rendered
    before_text = page.evaluate("() => document.querySelector('.bb-lineup').innerText")
    before_src = picture.get_attribute("src")
    page.screenshot(path=str(shots / "lab04-full-probabilities.png"))
    label_only.click()
    # the HTML widget re-renders: wait until it shows a number again, and a different one
    page.wait_for_function("t => { const e = document.querySelector('.bb-lineup'); "
                           "return e && /\\d/.test(e.innerText) && e.innerText !== t; }", arg=before_text)
    page.wait_for_function("s => document.querySelector('img.bb-picture').src !== s", arg=before_src)
    page.screenshot(path=str(shots / "lab04-label-only.png"))
    after = page.evaluate("() => document.querySelector('.bb-lineup').innerText")
    assert after != before_text and int(after.split()[0]) < int(before_text.split()[0]), (before_text, after)
    assert page.locator("text=Setting: label only").count() >= 1
    page.close()


def test_sorting_drill_answers_a_click(browser, jupyter_lab, artifacts):
    page = open_and_run_all(browser, jupyter_lab, "solutions/00_orientation.ipynb")
    first_choice = page.locator(".widget-toggle-button:has-text('model inversion')").first
    first_choice.wait_for(timeout=120_000)
    first_choice.scroll_into_view_if_needed()
    first_choice.click()
    feedback = page.locator(".drill-feedback").first
    page.wait_for_function("() => (document.querySelector('.drill-feedback') || {}).innerText?.length > 10")
    assert "Correct" in feedback.inner_text() or "Not " in feedback.inner_text()
    page.screenshot(path=str(artifacts / "browser" / "lab00-drill-click.png"))
    page.close()

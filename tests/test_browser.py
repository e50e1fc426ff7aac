"""A real browser: JupyterLab in headless Chromium runs lab 04's control panel, lab 00's drill and a mock exam, as a
learner would."""
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
    # the kit's JupyterLab defaults (saveState for widgets), as `pip install .` puts them in the environment; an
    # editable install (requirements.txt's -e .) does not install data files, so the test serves them itself
    app_settings = root / ".app-settings"
    shutil.copytree(KIT / "jupyter" / "lab" / "settings", app_settings)
    port, token = free_port(), secrets.token_hex(16)
    log = open(artifacts / "jupyterlab-browser-test.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
                               f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
                               f"--LabApp.workspaces_dir={root / '.workspaces'}", f"--LabApp.user_settings_dir={root / '.settings'}",
                               f"--LabApp.app_settings_dir={app_settings}"],
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                              env={**os.environ, "LAB_PROGRESS_FILE": str(root / "progress.json")})  # not the kit's
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


def open_and_run_all(browser, jupyter_lab, notebook: str, viewport: dict | None = None):
    """Open a notebook in JupyterLab, wait for an idle kernel (status bar), then Run > Run All Cells."""
    url, token = jupyter_lab
    page = browser.new_page(viewport=viewport or {"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    workspace = notebook.replace("/", "-").removesuffix(".ipynb")  # a fresh workspace: only this notebook open
    page.goto(f"{url}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={token}")
    page.wait_for_selector(".jp-Notebook")
    page.wait_for_function("() => (document.querySelector('#jp-main-statusbar') || {}).innerText?.includes('Idle')")
    page.click("li.lm-MenuBar-item:has-text('Run')")
    page.click("li.lm-Menu-item:has-text('Run All Cells')")
    return page


def the_panel_answers_a_click(page, shots) -> None:
    """Lab 04's control panel, in a page where the notebook has run: a click on 'label only' redraws the recognised
    rate (lower) and the picture. Run inside the keyboard test's page: one Run All of lab 04 serves both."""
    label_only = page.locator(".lab-policy button:has-text('label only')")
    label_only.wait_for(timeout=600_000)  # the first run measures every setting; later runs load the cache
    label_only.scroll_into_view_if_needed()
    picture = page.locator("img.bb-picture")
    page.wait_for_function("() => document.querySelector('img.bb-picture')?.src?.length > 0")
    page.wait_for_function("() => /\\d/.test(document.querySelector('.bb-recognised')?.innerText || '')")  # rendered
    before_text = page.evaluate("() => document.querySelector('.bb-recognised').innerText")
    before_src = picture.get_attribute("src")
    # the output buttons and the faces they change on one 720-pixel screen (issue 26): buttons at the top of the view
    page.locator(".lab-policy").evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)
    buttons, faces = page.locator(".lab-policy").bounding_box(), picture.bounding_box()
    view = page.locator("#jp-main-statusbar").bounding_box()["y"]  # the notebook's view ends at the status bar
    assert page.viewport_size["height"] == 720 and buttons["y"] >= 0 and faces["y"] + faces["height"] <= view, (
        buttons, faces, view)
    page.screenshot(path=str(shots / "lab04-full-probabilities.png"))
    label_only.click()
    # the HTML widget re-renders: wait until it shows a number again, and a different one
    page.wait_for_function("t => { const e = document.querySelector('.bb-recognised'); "
                           "return e && /\\d/.test(e.innerText) && e.innerText !== t; }", arg=before_text)
    page.wait_for_function("s => document.querySelector('img.bb-picture').src !== s", arg=before_src)
    page.screenshot(path=str(shots / "lab04-label-only.png"))
    after = page.evaluate("() => document.querySelector('.bb-recognised').innerText")
    assert after != before_text and float(after.split()[0]) < float(before_text.split()[0]), (before_text, after)
    assert page.locator("text=Setting: label only").count() >= 1


def put_notebook(jupyter_lab, name: str, source: str) -> None:
    """A one-cell notebook on the server (through its contents API)."""
    import json

    import nbformat

    url, token = jupyter_lab
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    urllib.request.urlopen(urllib.request.Request(f"{url}/api/contents/{name}?token={token}", method="PUT",
                                                  data=json.dumps({"type": "notebook", "content": nb}).encode(),
                                                  headers={"Content-Type": "application/json"}), timeout=30)


def test_sorting_drill_answers_a_click(browser, jupyter_lab, artifacts):
    # lab 00's drill cell on its own: the widget under test, without the rest of lab 00's Run All (about 10 s)
    drill_cell = next(c.source for c in __import__("nbformat").read(KIT / "solutions" / "00_orientation.ipynb",
                                                                   as_version=4).cells if "sorting_drill(" in c.source)
    put_notebook(jupyter_lab, "drill_in_a_browser.ipynb", drill_cell)
    page = open_and_run_all(browser, jupyter_lab, "drill_in_a_browser.ipynb")
    first_choice = page.locator(".widget-toggle-button:has-text('model inversion')").first
    first_choice.wait_for(timeout=120_000)
    first_choice.scroll_into_view_if_needed()
    first_choice.click()
    feedback = page.locator(".drill-feedback").first
    page.wait_for_function("() => (document.querySelector('.drill-feedback') || {}).innerText?.length > 10")
    assert "Correct" in feedback.inner_text() or "Not " in feedback.inner_text()
    page.screenshot(path=str(artifacts / "browser" / "lab00-drill-click.png"))
    page.close()


# ---------------------------------------------------------------- issue 16: a mock exam, every option clicked

EXAM_CELL = """import os, tempfile
os.environ["LAB_PROGRESS_FILE"] = os.path.join(tempfile.mkdtemp(), "progress.json")  # a fresh learner
from lab_helpers.exam import load_questions, mock_exam_questions
from lab_helpers.ui import MockExam

def long_options(question):  # the same question, each option as long as its explanation makes it
    options = [dict(o, text=o["text"] + " - " + o["explanation"] + " " + o["explanation"]) for o in question["options"]]
    return dict(question, id=question["id"] + "-long", options=options)

def longest(fmt):
    return max((q for q in load_questions() if q["format"] == fmt), key=lambda q: sum(len(o["explanation"]) for o in q["options"]))

# twenty questions with PBQs first, as the mock exam draws them; a gateway policy's form is graded by running it, not
# by letters, so it is left out here (tests/test_pbq.py drives it)
drawn = [q for q in mock_exam_questions(25, seed=0) if q["format"] != "policy"][:20]
exam = MockExam([long_options(longest("single")), long_options(longest("multiple"))] + drawn, minutes=30, record=False)
exam"""

ANSWER = "() => (document.querySelector('.lab-exam-question .lab-answer') || {}).innerText || ''"


def wait_for_answer(page, test: str, arg=None) -> None:
    """Wait until the kernel has drawn the answer line the way `test` (a JS function of its text) expects."""
    page.wait_for_function(f"a => {{ const t = ({ANSWER})(); return ({test})(t, a); }}", arg=arg, timeout=20_000)


def test_mock_exam_takes_every_click_at_1280_by_720(browser, jupyter_lab, artifacts):
    import json
    import re

    import nbformat

    url, token = jupyter_lab
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(EXAM_CELL)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    request = urllib.request.Request(f"{url}/api/contents/mock_exam_in_a_browser.ipynb?token={token}", method="PUT",
                                     data=json.dumps({"type": "notebook", "content": nb}).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30)
    shots = artifacts / "browser"
    shots.mkdir(exist_ok=True)
    page = open_and_run_all(browser, jupyter_lab, "mock_exam_in_a_browser.ipynb", {"width": 1280, "height": 720})
    start = page.locator("button:has-text('Start the exam')")
    start.wait_for(timeout=300_000)
    news = page.locator(".jp-Notification-Toast-Close, .jp-toast-button:has-text('No')")  # JupyterLab's news prompt
    if news.count():
        news.first.click()
    assert "Pass mark: 75 %" in page.locator(".lab-quiz").first.inner_text()
    start.click()
    total = 22
    clicked = {"radio": 0, "checkbox": 0, "select": 0, "text": 0}
    for k in range(total):
        page.wait_for_function("n => (document.querySelector('.lab-exam-status') || {}).innerText?.startsWith("
                               "'Question ' + n + ' of')", arg=k + 1, timeout=60_000)
        area = page.locator(".lab-exam-question")
        radios = area.locator(".widget-radio-box input[type=radio]")
        labels = area.locator(".widget-radio-box label")
        for j in range(radios.count()):
            box, text = radios.nth(j).bounding_box(), labels.nth(j).bounding_box()
            assert box["x"] < text["x"] + 20, (k, j, box, text)  # the button on the left, where a reader looks for it
            radios.nth(j).click(timeout=5_000)  # fails if another option's text covers this button
            wait_for_answer(page, "(t, a) => t === 'Your answer: ' + a", chr(65 + j))
            assert radios.nth(j).is_checked()
            clicked["radio"] += 1
        boxes = [labels.nth(j).bounding_box() for j in range(labels.count())]
        for upper, lower in zip(boxes, boxes[1:]):  # each option in its own row: no overlap
            assert upper["y"] + upper["height"] <= lower["y"] + 1, (k, upper, lower)
        if k == 0:  # arrow keys on the exam's radio buttons change the answer, not JupyterLab's cell (issue 26)
            active = "() => document.querySelector('.jp-Cell.jp-mod-active')?.innerText.slice(0, 40)"
            before = page.evaluate(active)
            radios.nth(radios.count() - 1).focus()
            page.keyboard.press("ArrowUp")
            wait_for_answer(page, "(t, a) => t === 'Your answer: ' + a", chr(65 + radios.count() - 2))
            assert page.evaluate(active) == before and radios.nth(radios.count() - 2).is_checked()
        if k == 0:  # a single-answer question whose options wrap: none may cover the next one's button
            heights = sorted(b["height"] for b in boxes)
            assert len(heights) == 4 and heights[0] > 30, heights  # really two lines or more at this width
            page.screenshot(path=str(shots / "mock-exam-long-options.png"))
        ticks = area.locator(".lab-option input[type=checkbox]")
        for j in range(ticks.count()):
            if j == 0:  # the option's text is the box's label: a click on the words ticks it (issue 26)
                area.locator(".lab-option .widget-label-basic span").nth(j).click(timeout=5_000)
                assert area.get_by_role("checkbox", name=re.compile(r"^A\. ")).is_checked()
            else:
                ticks.nth(j).click(timeout=5_000)
            wait_for_answer(page, "(t, a) => t.startsWith('Your answer') && t.split(': ')[1].split(', ').includes(a)",
                            chr(65 + j))
            clicked["checkbox"] += 1
        if ticks.count():
            boxes = [area.locator(".lab-option").nth(j).bounding_box() for j in range(ticks.count())]
            for upper, lower in zip(boxes, boxes[1:]):
                assert upper["y"] + upper["height"] <= lower["y"] + 1, (k, upper, lower)
            if k == 1:  # a multiple-answer question whose options wrap
                assert min(b["height"] for b in boxes) > 30, boxes
                page.screenshot(path=str(shots / "mock-exam-long-checkboxes.png"))
        menus = area.locator("select")
        for s in range(menus.count()):
            # the menu's place among the question's answer fields (a form may put a text field before a menu)
            part = menus.nth(s).evaluate("el => [...el.closest('.lab-exam-question')"
                                         ".querySelectorAll('select, input[type=text]')].indexOf(el)")
            for i in range(1, menus.nth(s).locator("option").count()):
                menus.nth(s).select_option(index=i)
                wait_for_answer(page, "(t, a) => { const parts = t.replace(/ \\(.*$/, '').split(': ')[1]"
                                      ".split(/, |; /); const p = parts[a.s]; return p !== undefined && "
                                      "(p === a.x || p.endsWith('→' + a.x) || p.endsWith('. ' + a.x)); }",
                                {"s": part, "x": chr(65 + i - 1)})
                clicked["select"] += 1
        for field in area.locator("input[type=text]").all():
            field.fill("519")
            wait_for_answer(page, "t => t.includes('519')")
            clicked["text"] += 1
        if k < total - 1:
            page.locator(".lab-quiz button:has-text('Next')").click()
    page.locator("button:has-text('Review and submit')").click()
    page.locator("button:has-text('Submit the exam')").click()
    # the results' text as it stood when it first held the score (the output area may be redrawn right after)
    drawn = page.wait_for_function("() => { const t = (document.querySelector('.lab-exam-results') || {}).innerText; "
                                   "return t && t.includes('Score:') ? t : false; }", timeout=120_000)
    results = drawn.json_value()
    assert "(75 % needed)" in results and "Score:" in results and "topic" in results
    page.wait_for_function("() => (document.querySelector('.lab-exam-results') || {}).innerText?.includes('Score:')",
                           timeout=20_000)  # and it is still there once any redraw has settled
    explained = page.locator("text=Every question, with its explanations")
    explained.wait_for(timeout=20_000)  # its widget is sent with the score; the browser draws it a moment apart
    assert explained.count() == 1
    page.screenshot(path=str(shots / "mock-exam-submitted.png"))
    assert clicked["radio"] >= 40 and clicked["checkbox"] >= 4, clicked
    page.close()


# ---------------------------------------------------------------- issue 26: lab 04's guided path by keyboard only

LAB04 = "solutions/04_defence_output_minimisation.ipynb"
DIRTY = "() => !!document.querySelector('.lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current.jp-mod-dirty')"
FOCUSED = "() => { const e = document.activeElement; return e ? e.tagName + '|' + (e.type || '') + '|' + (e.innerText || e.value || '') : ''; }"


def open_notebook(browser, jupyter_lab, notebook: str, workspace: str):
    url, token = jupyter_lab
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.set_default_timeout(60_000)
    page.goto(f"{url}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={token}")
    page.wait_for_selector(".jp-Notebook")
    page.wait_for_function("() => (document.querySelector('#jp-main-statusbar') || {}).innerText?.includes('Idle')")
    return page


def test_a_built_lab_opens_unmodified(browser, jupyter_lab):
    """JupyterLab writes the kernel's language_info into a notebook as its kernel starts: a lab saved with another
    one (nbformat's bare {"name": "python"}) showed as modified the moment it opened (issue 26)."""
    import json

    url, token = jupyter_lab
    name = "labs/04_defence_output_minimisation.ipynb"
    for folder in ("labs", name):
        body = {"type": "directory"} if folder == "labs" else {
            "type": "notebook", "content": json.loads((KIT / name).read_text(encoding="utf-8"))}
        urllib.request.urlopen(urllib.request.Request(f"{url}/api/contents/{folder}?token={token}", method="PUT",
                                                      data=json.dumps(body).encode(),
                                                      headers={"Content-Type": "application/json"}), timeout=30)
    page = open_notebook(browser, jupyter_lab, name, "lab04-built")
    page.wait_for_timeout(2_000)  # the kernel has answered kernel_info: JupyterLab has set language_info by now
    assert not page.evaluate(DIRTY), "the committed lab shows as modified the moment it opens"
    page.close()
    for session in json.load(urllib.request.urlopen(f"{url}/api/sessions?token={token}", timeout=10)):
        if session["path"] == name:  # its kernel is not needed any more
            urllib.request.urlopen(urllib.request.Request(f"{url}/api/sessions/{session['id']}?token={token}",
                                                          method="DELETE"), timeout=30)


def every_cell_text(page) -> str:
    """The text of every cell, scrolled into view one screen at a time (JupyterLab 4 draws only the cells near the
    screen)."""
    seen, last = {}, -1
    for _ in range(400):
        for index, text in page.evaluate("() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')]"
                                         ".map(c => [c.dataset.windowedListIndex || c.innerText.slice(0, 30), c.innerText])"):
            if len(text) >= len(seen.get(index, "")):  # off screen, a cell's content is skipped (content-visibility)
                seen[index] = text
        top = page.evaluate("() => { let s = document.querySelector('.jp-Notebook .jp-Cell'); "
                            "while (s && !(s.scrollHeight > s.clientHeight + 10 && /auto|scroll/.test(getComputedStyle(s).overflowY))) "
                            "s = s.parentElement; s.scrollTop += 500; return s.scrollTop; }")
        page.wait_for_timeout(400)
        if top == last:
            break
        last = top
    return "\n\u241e\n".join(seen.values())


def tab_into(page, widget, first: str) -> None:
    """Put the keyboard in the cell's output, as a learner who selected the cell, then Tab to the widget's first
    control (a CSS selector inside the widget); the focus is set on the output, never a click on the widget."""
    widget.scroll_into_view_if_needed()
    widget.evaluate("e => { const o = e.closest('.jp-OutputArea-output'); o.tabIndex = -1; o.focus(); }")
    page.keyboard.press("Tab")
    assert widget.locator(first).first.evaluate("e => e === document.activeElement"), page.evaluate(FOCUSED)


def test_lab04_guided_path_by_keyboard_and_its_panel_at_1280_by_720(browser, jupyter_lab, artifacts):
    import json

    shots = artifacts / "browser"
    shots.mkdir(exist_ok=True)
    timings = {}
    start = time.monotonic()
    page = open_notebook(browser, jupyter_lab, LAB04, "lab04-keyboard")
    page.wait_for_timeout(2_000)  # the kernel has answered kernel_info: JupyterLab has set language_info by now
    assert not page.evaluate(DIRTY), "the solution shows as modified the moment it opens"  # solutions/ too (issue 26)
    page.click("li.lm-MenuBar-item:has-text('Run')")
    page.click("li.lm-Menu-item:has-text('Run All Cells')")
    predictions = page.locator(".widget-vbox:has(> button:has-text('Lock in my prediction'))")
    page.locator("text=Explain it to your manager").wait_for(timeout=600_000)
    page.wait_for_function("() => (document.querySelector('#jp-main-statusbar') || {}).innerText?.includes('Idle')",
                           timeout=600_000)
    timings["open and run all"] = time.monotonic() - start
    news = page.locator(".jp-Notification-Toast-Close, .jp-toast-button:has-text('No')")
    if news.count():
        news.first.click()
    assert predictions.count() == 3, predictions.count()
    for k in range(3):
        widget = predictions.nth(k)
        radios = widget.locator("input[type=radio]")
        tab_into(page, widget, "input[type=radio]")
        active_cell = page.evaluate("() => document.querySelector('.jp-Cell.jp-mod-active')?.innerText.slice(0, 40)")
        page.keyboard.press("ArrowDown")  # the second option: the arrow changes the answer, not the cell
        page.wait_for_timeout(500)
        assert radios.nth(1).is_checked(), f"prediction {k + 1}: ArrowDown did not choose the next option"
        assert radios.nth(1).evaluate("e => e === document.activeElement"), page.evaluate(FOCUSED)
        assert page.evaluate("() => document.querySelector('.jp-Cell.jp-mod-active')?.innerText.slice(0, 40)") == active_cell
        page.keyboard.press("ArrowUp")
        assert radios.nth(0).is_checked()
        page.wait_for_timeout(500)
        page.keyboard.press("Tab")
        page.keyboard.press("Shift+Tab")  # back to the group, on the chosen option
        assert radios.nth(0).evaluate("e => e === document.activeElement"), page.evaluate(FOCUSED)
        page.keyboard.press("Tab")
        assert "Lock in my prediction" in page.evaluate(FOCUSED)
        page.keyboard.press("Enter")
        page.wait_for_function("e => e.innerText.includes('Measured:')", arg=widget.element_handle(), timeout=60_000)
        assert radios.nth(0).is_disabled()
        page.screenshot(path=str(shots / f"lab04-keyboard-prediction-{k + 1}.png"))
    decision = page.locator(".widget-vbox:has(> button:has-text('Check my decision'))")
    assert decision.count() == 1
    tab_into(page, decision, "select")
    menu = decision.locator("select")
    before = menu.evaluate("e => e.selectedIndex")
    for _ in range(2):
        page.keyboard.press("ArrowDown")
        page.wait_for_timeout(500)  # a learner's pace: each change reaches the kernel before the next
    assert menu.evaluate("e => e.selectedIndex") == before + 2, "ArrowDown did not change the drop-down"
    page.keyboard.press("Tab")
    assert "Check my decision" in page.evaluate(FOCUSED)
    page.keyboard.press(" ")
    graded = page.wait_for_function("e => { const t = e.innerText; return /Full marks|Partly right|No marks/.test(t) && t; }",
                                    arg=decision.element_handle(), timeout=60_000).json_value()
    assert "Rule" in graded or "setting" in graded, graded
    page.screenshot(path=str(shots / "lab04-keyboard-decision.png"))
    manager = page.locator(".widget-vbox:has(> button:has-text('Save my sentence'))")
    tab_into(page, manager, "textarea")
    page.keyboard.type("An attacker who can query our face model rebuilt faces from its scores; "
                       "label-only answers changed the tactics, rate limits cut the queries.")
    page.keyboard.press("Tab")
    assert "Save my sentence" in page.evaluate(FOCUSED)
    page.keyboard.press("Enter")
    try:
        page.wait_for_function("e => e.innerText.includes('Saved (')", arg=manager.element_handle(), timeout=60_000)
    except Exception:
        page.screenshot(path=str(shots / "lab04-keyboard-manager-failed.png"))
        print(manager.inner_text())
        raise
    page.screenshot(path=str(shots / "lab04-keyboard-manager.png"))
    timings["guided path by keyboard"] = time.monotonic() - start - timings["open and run all"]
    the_panel_answers_a_click(page, shots)  # the control panel, on the same run of the notebook

    page.keyboard.press("Control+s")
    page.wait_for_function(f"() => !({DIRTY})()", timeout=60_000)
    page.click("li.lm-MenuBar-item:has-text('File')")
    page.click("li.lm-Menu-item:has-text('Close and Shut Down Notebook')")
    confirm = page.locator(".jp-Dialog button.jp-mod-accept")
    page.wait_for_timeout(1_000)
    if confirm.count():  # "Shut down the notebook's kernel?"
        confirm.first.click()
    page.wait_for_function("() => !document.querySelector('.jp-Notebook')", timeout=60_000)
    page.wait_for_timeout(2_000)
    url, token = jupyter_lab
    sessions = json.load(urllib.request.urlopen(f"{url}/api/sessions?token={token}", timeout=10))
    assert not [s for s in sessions if s["path"] == LAB04], sessions  # its kernel is shut down
    page.close()

    saved = json.load(urllib.request.urlopen(f"{url}/api/contents/{LAB04}?token={token}", timeout=30))["content"]
    (artifacts / "lab04-keyboard-saved.ipynb").write_text(json.dumps(saved, indent=1))
    import nbformat

    from lab_helpers.kit import dead_widget_outputs
    assert dead_widget_outputs(nbformat.from_dict(saved)) == []
    assert saved["metadata"].get("widgets"), "JupyterLab saved no widget state (the kit's saveState default is missing)"

    reopened = time.monotonic()
    page = open_notebook(browser, jupyter_lab, LAB04, "lab04-reopened")
    page.locator(".jp-OutputArea-output").first.wait_for(timeout=60_000)
    page.wait_for_timeout(3_000)  # the widgets are drawn from the saved widget state
    page.screenshot(path=str(shots / "lab04-keyboard-reopened.png"))
    text = every_cell_text(page)
    print(len(text.split("\n\u241e\n")), "cells seen on reopening")
    dead = [cell[:300] for cell in text.split("\n\u241e\n") if "model not found" in cell or "Error displaying" in cell]
    assert not dead, dead
    assert text.count("Measured:") == 3 and "Saved (" in text and "Lock in my prediction" in text
    if page.evaluate(DIRTY):  # jupyterlab-manager's setDirty(): with saveState on, restoring or clearing widgets
        print("the saved notebook shows as modified when it reopens (the widget manager marks it, saveState on)")
    timings["reopen"] = time.monotonic() - reopened
    (artifacts / "lab04-keyboard-timings.json").write_text(json.dumps(timings, indent=1))
    print(timings)
    page.close()

"""One source for labs and solutions: build learner notebooks, reset a learner's copy, run notebooks headless."""
from __future__ import annotations

import copy
import datetime as _dt
import os
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ..paths import labs_dir, list_labs, solutions_dir  # list_labs: kept here for its callers

BEGIN, END, STUB = "### BEGIN SOLUTION", "### END SOLUTION", "### STUB"
CODE_PROMPT = "# YOUR CODE HERE"
DEFAULT_STUB = 'print("✎ Exercise not done yet: write your code above, then run this cell again.")'
MARKDOWN_PROMPT = "_✎ Write your answer here._"


class LabBuildError(ValueError):
    """A solution notebook whose solution markers cannot be turned into a learner notebook."""


def _where(nb_name: str, index: int, cell) -> str:
    """'00_orientation.ipynb, cell 7 ("my_answers = ...")' for error messages."""
    first = next((ln.strip() for ln in cell.source.splitlines() if ln.strip()), "")
    return f'{nb_name}, cell {index} ("{first[:50]}")'


def learner_source(source: str, cell_type: str, where: str) -> str:
    """A cell's source with every solution region replaced by a prompt and its stub."""
    out, stub, inside, indent = [], [], False, ""
    for line in source.splitlines():
        text = line.strip()
        if text.startswith(BEGIN):
            if inside:
                raise LabBuildError(f"{where}: {BEGIN} inside another solution region (missing {END}?)")
            inside, stub, indent = True, [], line[: len(line) - len(line.lstrip())]
        elif text.startswith(END):
            if not inside:
                raise LabBuildError(f"{where}: {END} without a {BEGIN} before it")
            inside = False
            if cell_type == "markdown":
                out.append(MARKDOWN_PROMPT)
            else:
                out.append(indent + CODE_PROMPT)
                out += [indent + s for s in (stub or [DEFAULT_STUB])]
        elif inside:
            if text.startswith(STUB):
                rest = text[len(STUB):]
                stub.append(rest[1:] if rest.startswith(" ") else rest)  # keeps the stub's own indentation
        elif text.startswith(STUB):
            raise LabBuildError(f"{where}: {STUB} line outside a solution region; move it between the markers")
        else:
            out.append(line)
    if inside:
        raise LabBuildError(f"{where}: {BEGIN} without {END}; close the region with a line '{END}'")
    return "\n".join(out)


def clear_outputs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook with outputs, execution counts and run-time metadata removed."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        for key in ("execution", "collapsed", "scrolled", "ExecuteTime"):
            cell.metadata.pop(key, None)
    return nb


def kernel_language_info() -> dict:
    """metadata.language_info as this environment's Python kernel reports it when a notebook opens.

    JupyterLab writes the kernel's language_info into the notebook as soon as the kernel starts; a notebook whose saved
    language_info differs (the bare {"name": "python"} nbformat writes, or another Python patch version) is marked
    modified the moment it opens, before the learner has done anything (issue 26)."""
    try:
        from ipykernel.ipkernel import IPythonKernel

        return copy.deepcopy(dict(IPythonKernel.language_info))
    except ImportError:  # the same fields ipykernel sends
        import platform
        import sys

        major = sys.version_info[0]
        return {"name": "python", "version": platform.python_version(), "mimetype": "text/x-python",
                "codemirror_mode": {"name": "ipython", "version": major}, "pygments_lexer": f"ipython{major}",
                "nbconvert_exporter": "python", "file_extension": ".py"}


PYTHON3_KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def make_learner_notebook(solution: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The learner version of a solution notebook: solution regions stubbed, outputs stripped, the kernel's metadata
    as JupyterLab will find it (so that the notebook opens unmodified)."""
    nb = clear_outputs(solution)
    nb.metadata.setdefault("kernelspec", dict(PYTHON3_KERNELSPEC))
    if nb.metadata.get("language_info", {}).get("name", "python") == "python":
        nb.metadata["language_info"] = kernel_language_info()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type in ("code", "markdown") and (BEGIN in cell.source or END in cell.source or STUB in cell.source):
            cell.source = learner_source(cell.source, cell.cell_type, _where(name, i, cell))
    nb.metadata["lab_helpers"] = {"generated_from": f"solutions/{name}", "edit": "edit the solution, then run: python -m lab_helpers build-labs"}
    return nb


def notebook_text(nb: nbformat.NotebookNode) -> str:
    """A notebook serialised the same way every time."""
    return nbformat.writes(nb) + "\n"


def same_notebook_text(a: str, b: str) -> bool:
    """Two serialised notebooks are the same, the Python patch version in language_info aside (a lab built with
    3.11.7 is not stale on a machine running 3.11.2)."""
    if a == b:
        return True
    import json

    try:
        first, second = json.loads(a), json.loads(b)
    except ValueError:
        return False
    for nb in (first, second):
        nb.get("metadata", {}).get("language_info", {}).pop("version", None)
    return first == second


def build_labs(solutions: Path | None = None, labs: Path | None = None, check: bool = False) -> list[str]:
    """Write labs/ from solutions/ (or, with check, only compare); return the names that were stale."""
    solutions, labs = Path(solutions or solutions_dir()), Path(labs or labs_dir())
    stale = []
    wanted = {}
    for path in sorted(solutions.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        wanted[path.name] = notebook_text(make_learner_notebook(nb, path.name))
    for name, text in wanted.items():
        target = labs / name
        if not target.exists() or not same_notebook_text(target.read_text(encoding="utf-8"), text):
            stale.append(name)
            if not check:
                labs.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
    extra = sorted(p.name for p in labs.glob("*.ipynb") if p.name not in wanted)
    stale += [f"{name} (no solution of that name)" for name in extra]
    return stale


def reset_lab(number: str, solutions: Path | None = None, labs: Path | None = None) -> tuple[Path, Path | None]:
    """A fresh learner copy of lab NN; the learner's current file is moved to labs/backups/, never overwritten."""
    solutions, labs = Path(solutions or solutions_dir()), Path(labs or labs_dir())
    available = list_labs(solutions)
    key = str(number).zfill(2)
    if key not in available:
        listing = ", ".join(f"{k} ({v.removesuffix('.ipynb')})" for k, v in available.items()) or "none"
        raise KeyError(f"There is no lab {number}. Labs that exist: {listing}.")
    name = available[key]
    fresh = notebook_text(make_learner_notebook(nbformat.read(solutions / name, as_version=4), name))
    target, kept = labs / name, None
    if target.exists() and target.read_text(encoding="utf-8") != fresh:
        kept = _free_backup_path(labs / "backups", name)
        kept.parent.mkdir(parents=True, exist_ok=True)
        target.replace(kept)
    labs.mkdir(parents=True, exist_ok=True)
    target.write_text(fresh, encoding="utf-8")
    return target, kept


def open_in_jupyter(path: Path, runtime_dir: str | None = None, timeout: float = 2.0) -> list[str]:
    """The running Jupyter servers (their URLs) that have this notebook open in a session, where that can be seen.

    Reads each running server's info file and asks its /api/sessions with its token (loopback, short timeout);
    a server that cannot be asked is skipped. An open notebook's autosave would undo a reset.
    """
    try:
        import httpx
        from jupyter_server.serverapp import list_running_servers
    except ImportError:
        return []
    target, found = Path(path).resolve(), []
    for info in list_running_servers(runtime_dir):
        url = info.get("url", "").rstrip("/")
        root = Path(info.get("root_dir") or info.get("notebook_dir") or ".")
        try:
            sessions = httpx.get(f"{url}/api/sessions", params={"token": info.get("token", "")}, timeout=timeout,
                                 trust_env=False).json()
        except (httpx.HTTPError, ValueError):
            continue
        for session in sessions if isinstance(sessions, list) else []:
            rel = (session.get("path") or session.get("notebook", {}).get("path") or "")
            if rel and (root / rel).resolve() == target:
                found.append(url)
                break
    return found


def _free_backup_path(folder: Path, name: str) -> Path:
    """A backup file name that does not exist yet: NN_topic.YYYYmmdd-HHMMSS[-k].ipynb."""
    stem = name.removesuffix(".ipynb") + "." + _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate, k = folder / f"{stem}.ipynb", 1
    while candidate.exists():
        candidate, k = folder / f"{stem}-{k}.ipynb", k + 1
    return candidate


# ---------------------------------------------------------------- running notebooks headless

PEAK_MARKER = "__LAB_PEAK_RSS_KB__"
# What a stalled or dead headless kernel raises: the only failures worth running a notebook again for.
KERNEL_STALL_ERRORS = ["CellTimeoutError", "DeadKernelError", "Kernel didn't respond"]
# The kernel's own peak memory: VmHWM (Linux) is reset when a process starts a new program, whereas
# ru_maxrss would inherit the high-water mark of the test process that launched the kernel.
_PEAK_CELL = (
    "import re as _re, resource as _r\n"
    "try:\n"
    "    _kb = int(_re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
    "except (OSError, AttributeError):\n"
    "    _kb = _r.getrusage(_r.RUSAGE_SELF).ru_maxrss\n"
    f"print('{PEAK_MARKER}', _kb)"
)


@dataclass
class NotebookRun:
    """An executed notebook with its wall time and the kernel's peak memory."""

    notebook: nbformat.NotebookNode
    seconds: float
    peak_mb: float


def _front_end_client():
    """nbclient's NotebookClient, saving widget state as JupyterLab does: a widget closed while the notebook ran is
    gone, so an output that still shows it is saved as what a reader will meet ("model not found")."""
    from nbclient import NotebookClient

    class FrontEndClient(NotebookClient):
        def handle_comm_msg(self, outs, msg, cell_index):
            super().handle_comm_msg(outs, msg, cell_index)
            if msg["msg_type"] == "comm_close":
                self.widget_state.pop(msg["content"]["comm_id"], None)
                self.widget_buffers.pop(msg["content"]["comm_id"], None)

    return FrontEndClient


def execute_notebook(path: Path, cwd: Path, cell_timeout: int = 240, startup_timeout: int = 120,
                     env: dict | None = None) -> NotebookRun:
    """Run every cell in a fresh kernel started in cwd (env: extra environment variables for the kernel); raises on a
    failing cell or a timed-out cell. Widget state is saved as a front end saves it (closed widgets are gone)."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(_PEAK_CELL))
    client = _front_end_client()(nb, timeout=cell_timeout, startup_timeout=startup_timeout, kernel_name="python3",
                                 resources={"metadata": {"path": str(cwd)}}, store_widget_state=True)
    start = time.perf_counter()
    client.execute(**({"env": {**os.environ, **env}} if env else {}))
    seconds = time.perf_counter() - start
    probe = nb.cells.pop()
    text = "".join(o.get("text", "") for o in probe.outputs if o.get("output_type") == "stream")
    peak_kb = float(text.split(PEAK_MARKER, 1)[1].split()[0]) if PEAK_MARKER in text else float("nan")
    return NotebookRun(nb, seconds, peak_kb / 1024)


def _output_problem(output) -> str | None:
    """What is wrong with one output, or None when it is fine."""
    kind = output.get("output_type")
    if kind == "error":
        return f"{output.get('ename')}: {output.get('evalue')}"
    text = output.get("text", "") if kind == "stream" else output.get("data", {}).get("text/plain", "")
    text = "".join(text) if isinstance(text, list) else str(text)
    if "Traceback (most recent call last)" in text:
        return text.strip().splitlines()[-1]
    return None


def error_outputs(nb: nbformat.NotebookNode) -> list[str]:
    """Every error an executed notebook shows, in its cells or inside widget Output areas."""
    found = []
    for i, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            problem = _output_problem(output)
            if problem:
                found.append(f"cell {i}: {problem}")
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for model_id, model in state.items():
        for output in model.get("state", {}).get("outputs", []) or []:
            problem = _output_problem(output)
            if problem:
                found.append(f"widget {model_id[:8]}: {problem}")
    return found


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def dead_widget_outputs(nb: nbformat.NotebookNode) -> list[str]:
    """Every output of a saved notebook that shows a widget the notebook's saved widget state does not hold (in a cell
    or inside an Output widget), and every saved widget whose child is missing: what a reopened notebook shows as
    "Error displaying widget: model not found"."""
    import json
    import re

    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    found = []

    def check(outputs, where: str) -> None:
        for output in outputs or []:
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view and view.get("model_id") and view["model_id"] not in state:
                text = output.get("data", {}).get("text/plain", "")
                text = "".join(text) if isinstance(text, list) else str(text)
                found.append(f"{where}: widget {view['model_id'][:8]} is not in the saved state ({text[:60]!r})")

    for i, cell in enumerate(nb.cells):
        check(cell.get("outputs"), f"cell {i}")
    for model_id, model in state.items():
        check(model.get("state", {}).get("outputs"), f"widget {model_id[:8]}")
        for child in set(re.findall(r"IPY_MODEL_([0-9a-f]{32})", json.dumps(model.get("state", {})))):
            if child not in state:
                found.append(f"widget {model_id[:8]}: its child {child[:8]} is not in the saved state")
    return found

"""Shared test set-up: the face data comes from ../shared (no network), notebooks retry only on a stalled kernel."""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")  # this process only; kernels started by tests keep the inline backend

# The suite runs on every core at once (pytest-xdist), each test process and each notebook kernel on one
# thread: several PyTorch threads per process on a busy machine make the same call 0.7 s one time and 29 s
# the next. Set before torch is imported anywhere; kernels and servers started by tests inherit it.
for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

KIT = Path(__file__).resolve().parent.parent
SHARED_FACES = KIT.parent / "shared" / "data" / "scikit_learn_data"
ARTIFACTS = KIT / "tests" / "_artifacts"

# Tests never download: point the loader at the shared copy unless the caller chose a data home.
if "LAB_DATA_HOME" not in os.environ and (SHARED_FACES / "olivetti_py3.pkz").is_file():
    os.environ["LAB_DATA_HOME"] = str(SHARED_FACES)

# A headless kernel here now and then stalls (no reply ever comes). Such a test is retried;
# a failing assertion or an error output in a cell never is.
pytest_plugins = ["pytester"]


# The labs whose first run costs most go first, so the long runs do not make the tail of the suite (lab 04 early: the
# browser tests, which come next, run it warm instead of waiting on its panel); lab 08 before
# labs 07 and 09, which use lab 08's models (they would wait for them on the cache's lock otherwise).
HEAVY_LABS_FIRST = ("08", "04", "05", "06", "03", "09", "07")


def _lab_of(item) -> str | None:
    """'08' for the notebook test of labs/08_... or solutions/08_..., else None."""
    if not item.get_closest_marker("notebook") or "[" not in item.nodeid:
        return None
    name = item.nodeid.split("[", 1)[1].split("/", 1)[-1]
    return name[:2] if name[:2].isdigit() else None


# Fixtures that build an expensive shared measurement (a test file's own fixture, by file): a test that uses one is
# slow however quick its own body is, so the quick lane leaves it out.
SLOW_FIXTURES = {
    "test_control_panel.py": {"panel"},  # lab 04's panel: two attackers at 13 output settings
    "test_prior.py": {"lab"},  # lab 08's models and priors
    "test_class_target.py": {"setup", "classroom", "round_one"},  # the class target's models and a live round
    "test_privacy.py": {"sweep", "regularised"},  # DP-SGD and weight-decay sweeps
    "test_pbq.py": {"triage_logs"},  # real audit logs written by the service
}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups (loadgroup) from the markers added here
def pytest_collection_modifyitems(items):
    from lab_helpers.kit import KERNEL_STALL_ERRORS

    for item in items:
        heavy = SLOW_FIXTURES.get(item.path.name, set()) & set(getattr(item, "fixturenames", ()))
        if heavy or any(item.get_closest_marker(m) for m in ("notebook", "browser", "hub")):
            item.add_marker(pytest.mark.slow)  # the quick lane (pytest -m "not slow") leaves them out
        if item.get_closest_marker("notebook"):
            item.add_marker(pytest.mark.flaky(reruns=2, only_rerun=KERNEL_STALL_ERRORS))
        if item.get_closest_marker("browser"):
            # one JupyterLab server, on one worker: lab 04's, after its notebooks, so the browser's Run All of lab 04
            # finds the panel measured (on another worker it waited a minute on the panel's lock)
            item.add_marker(pytest.mark.xdist_group("lab04"))
        if _lab_of(item):  # a lab's solution, then its learner copy, on one worker: the copy starts from warm caches
            item.add_marker(pytest.mark.xdist_group(f"lab{_lab_of(item)}"))
        elif item.path.name.startswith("test_guided_") and item.path.stem[-2:].isdigit():
            # a lab's guided-path checks: on the worker of that lab's notebooks, after them (their module fixtures built
            # once, the lab's models and tables already in data/cache/)
            item.add_marker(pytest.mark.xdist_group(f"lab{item.path.stem[-2:]}"))

    # Models and caches are shared through data/cache/: a lock beside each entry makes the first process that
    # needs it build it while any other waits and then loads it, so nothing is trained twice in a run.
    # Order: the heaviest labs first (solutions/ before labs/ within each), then the real-browser tests (in lab 04's
    # group: on its worker, after its notebooks, while the other worker goes on with the rest), then everything else
    # as collected.
    def order(item):
        lab = _lab_of(item)
        if item.get_closest_marker("browser"):
            return (0, len(HEAVY_LABS_FIRST), "")
        if lab in HEAVY_LABS_FIRST:
            return (0, HEAVY_LABS_FIRST.index(lab), "0" if "[solutions/" in item.nodeid else "1")
        return (1, 0, "")

    items.sort(key=order)


@pytest.fixture(scope="session")
def faces():
    """The face data with the kit's default split (loaded once)."""
    from lab_helpers.data import load_faces

    return load_faces(seed=0)


@pytest.fixture(scope="session")
def softmax(faces):
    """Lab 03's overfit softmax target (trained once per run, then loaded from data/cache/ by every process)."""
    from lab_helpers.targets import train_face_model

    return train_face_model(faces, "softmax", regularised=False, progress=False)


@pytest.fixture(scope="session")
def evaluator(faces):
    """Lab 03's independent evaluator CNN, the strict judge (trained once per run, shared through data/cache/)."""
    from lab_helpers.judges import train_evaluator

    return train_evaluator(faces, progress=False)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """A git-ignored folder for executed notebooks and measurements."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def people():
    """The synthetic patients of labs 01-02 (healthcare framing, seeded)."""
    from lab_helpers.data import load_people

    return load_people()


@pytest.fixture(scope="session")
def patient_models(people):
    """Lab 01's overfit and regularised forests on the patients (trained once per test run)."""
    from lab_helpers.targets import train_overfit_and_regularised

    return train_overfit_and_regularised(people, seed=0)

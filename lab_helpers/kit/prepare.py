"""`prepare`: get a classroom ready to work offline — the face data, and every lab's models and caches."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from ..paths import solutions_dir


def prepare_classroom(notebooks: list[Path] | None = None) -> bool:
    """Fetch the face data, then run every solution notebook once so all models and attack caches exist (and, for
    the whole kit, write the mock exam's audit logs)."""
    from tqdm.auto import tqdm

    from ..data.face_photos import FaceDataMissing, fetch_faces_bunch
    from ..exam.pbq import TASKS, LogTriage
    from .notebooks import error_outputs, execute_notebook

    try:
        bunch = fetch_faces_bunch(download=True)
    except FaceDataMissing as exc:
        print(exc)
        return False
    print(f"face data: {len(bunch.images)} photos in {bunch.data_home}")
    ok, started = True, time.perf_counter()
    paths = notebooks if notebooks is not None else sorted(solutions_dir().glob("*.ipynb"))
    with tempfile.TemporaryDirectory() as cwd:
        for path in tqdm(paths, desc="precomputing every lab"):
            try:
                run = execute_notebook(path, Path(cwd), cell_timeout=1200)
                problems = error_outputs(run.notebook)
            except Exception as exc:  # a failing lab is reported, and the others are still prepared
                name = getattr(exc, "ename", None) or type(exc).__name__
                problems = [f"{name}: {getattr(exc, 'evalue', None) or str(exc).splitlines()[0] if str(exc) else ''}"]
                run = None
            status = "ok" if not problems else "FAILED: " + "; ".join(problems)[:300]
            seconds = f"{run.seconds:.0f} s, peak {run.peak_mb:.0f} MB" if run else "-"
            print(f"  {path.name}: {status} ({seconds})")
            ok = ok and not problems
    exam_logs = [t for t in TASKS.values() if isinstance(t, LogTriage)] if notebooks is None else []
    for task in exam_logs:  # the mock exam's audit logs to triage, into the same cache
        try:
            print(f"  exam log {task.path().name}: ok")
        except Exception as exc:  # reported; the labs are prepared all the same
            print(f"  exam log {task.name}: FAILED: {type(exc).__name__}: {exc}")
            ok = False
    print(f"Prepared in {time.perf_counter() - started:.0f} s. " +
          ("Every lab now runs offline from the cache (set LAB_OFFLINE=1 in the room)." if ok else "Fix the failures above."))
    return ok

"""`prepare`: get a classroom ready to work offline — the face data, and every lab's models and caches.

Each lab prepared leaves a stamp in data/cache/prepared/NN.json: when, how long its first run took, and the cache
entries it used (every entry goes through `paths.cache_lock`, which notes it in LAB_CACHE_LOG). `lab_caches` reads
the stamps back: a lab is warm while its stamp and every entry it names are there; `doctor` reports it.
"""
from __future__ import annotations

import datetime as _dt
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..paths import cache_dir, save_atomically, solutions_dir


def stamp_path(number: str) -> Path:
    """Where `prepare` records that lab NN's caches were built."""
    return cache_dir() / "prepared" / f"{number}.json"


@dataclass(frozen=True)
class LabCache:
    """Whether one lab's caches are built: `warm`, and the first run's seconds when they are."""

    number: str
    warm: bool
    seconds: float | None = None
    missing: int = 0  # entries the stamp names that are gone


def lab_caches() -> dict[str, LabCache]:
    """{'00': LabCache, ...} for every lab: warm when `prepare` stamped it and every cache entry it used is still there."""
    from ..paths import list_labs

    found = {}
    for number in list_labs():
        path = stamp_path(number)
        try:
            stamp = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            found[number] = LabCache(number, False)
            continue
        gone = sum(not (cache_dir() / entry).exists() for entry in stamp.get("entries", []))
        found[number] = LabCache(number, gone == 0, stamp.get("seconds"), gone)
    return found


def _write_stamp(path: Path, log: Path, run) -> None:
    """Lab NN's stamp: when it ran, how long it took, and the cache entries it used that exist now."""
    entries = sorted({line.strip() for line in log.read_text(encoding="utf-8").splitlines() if line.strip()}) \
        if log.exists() else []
    entries = [e for e in entries if (cache_dir() / e).exists()]
    number = path.name.split("_", 1)[0]
    stamp = {"lab": number, "notebook": path.name, "seconds": round(run.seconds, 1), "peak_mb": round(run.peak_mb),
             "prepared": _dt.datetime.now().isoformat(timespec="seconds"), "entries": entries}
    target = stamp_path(number)
    save_atomically(target, lambda p: p.write_text(json.dumps(stamp, indent=1), encoding="utf-8"))


def prepare_classroom(notebooks: list[Path] | None = None) -> bool:
    """Fetch the face data, then run every solution notebook once so all models and attack caches exist (and, for
    the whole kit, write the mock exam's audit logs)."""
    from tqdm.auto import tqdm

    from ..data.face_photos import FaceDataMissing, fetch_faces_bunch
    from ..exam.pbq import TASKS, LogTriage
    from ..ui.predictions import MEASURE_ENV
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
            log = Path(cwd) / f"{path.stem}.cache-log"
            try:
                run = execute_notebook(path, Path(cwd), cell_timeout=1200, env={"LAB_CACHE_LOG": str(log), MEASURE_ENV: "1"})
                problems = error_outputs(run.notebook)
                if not problems and path.name.split("_", 1)[0].isdigit():  # a lab, NN_name.ipynb
                    _write_stamp(path, log, run)
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

"""Where the kit's folders are, found from the package itself (never from the working directory)."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

FACE_FILE_NAME = "olivetti_py3.pkz"  # the name scikit-learn gives its cache of the Olivetti faces


def kit_root() -> Path:
    """The kit's top folder (the one holding README.md, labs/ and solutions/)."""
    env = os.environ.get("LAB_KIT_ROOT")
    if env:
        return Path(env).expanduser().resolve()
    return Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The kit's own small data (question bank, scenario cards, synthetic tables)."""
    return kit_root() / "data"


def cache_dir() -> Path:
    """The git-ignored folder for what the kit computes (created on demand); LAB_CACHE_DIR moves it."""
    env = os.environ.get("LAB_CACHE_DIR")
    path = Path(env).expanduser() if env else data_dir() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def solutions_dir() -> Path:
    """Complete notebooks, the single source of every lab."""
    return kit_root() / "solutions"


def list_labs(solutions: Path | None = None) -> dict[str, str]:
    """{'00': '00_orientation.ipynb', ...} for every lab that exists (no notebook library needed: `doctor` asks
    this on every lab 00 run, and importing nbformat cost it 3 seconds)."""
    found = {}
    for path in sorted(Path(solutions or solutions_dir()).glob("*.ipynb")):
        number = path.name.split("_", 1)[0]
        if number.isdigit():
            found[number] = path.name
    return found


def labs_dir() -> Path:
    """Learner notebooks, generated from solutions/ by `python -m lab_helpers build-labs`."""
    return kit_root() / "labs"


def note_cache_entry(path: Path) -> None:
    """Append a cache entry's path to the file in LAB_CACHE_LOG, when set (`prepare` learns what each lab uses)."""
    log = os.environ.get("LAB_CACHE_LOG")
    if log:
        try:
            entry = Path(path).resolve().relative_to(cache_dir().resolve())
        except ValueError:  # an entry outside the cache folder (a test's own folder): not part of a lab's cache
            return
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(entry.as_posix() + "\n")


@contextmanager
def cache_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on a cache entry while it is checked and built: two kernels never build it twice."""
    note_cache_entry(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: no lock; the atomic write below still keeps every file whole
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def save_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Write a cache entry under a temporary name, then rename it: a reader sees the whole file or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def cached_rows(folder: str, name: str, settings: dict, build: Callable[[], list]) -> list:
    """A table (a list of row dicts) from data/cache/<folder>/<name>-<hash of settings>.json, built by `build` and
    saved when these settings are new; the lock beside it makes two processes build it once."""
    import hashlib
    import json

    digest = hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:10]
    path = cache_dir() / folder / f"{name}-{digest}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    with cache_lock(path):
        if path.exists():
            return json.loads(path.read_text(encoding="utf-8"))
        rows = build()
        save_atomically(path, lambda p: p.write_text(json.dumps(rows, indent=1), encoding="utf-8"))
    return rows


def cached_object(folder: str, name: str, settings: dict, build: Callable[[], object]) -> object:
    """Any picklable result (an attack's images and counts, a set of runs) from
    data/cache/<folder>/<name>-<hash of settings>.pkl, built by `build` and saved when these settings are new; the
    lock beside it makes two processes build it once. Only the kit's own results go in: a pickle is read back as code."""
    import hashlib
    import json
    import pickle

    digest = hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]
    path = cache_dir() / folder / f"{name}-{digest}.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with cache_lock(path):
        if path.exists():
            return pickle.loads(path.read_bytes())
        result = build()
        save_atomically(path, lambda p: p.write_bytes(pickle.dumps(result)))
    return result


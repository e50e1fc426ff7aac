"""Where the kit's folders are, found from the package itself (never from the working directory)."""
from __future__ import annotations

import os
from pathlib import Path

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


def labs_dir() -> Path:
    """Learner notebooks, generated from solutions/ by `python -m lab_helpers build-labs`."""
    return kit_root() / "labs"

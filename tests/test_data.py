"""The face loader: shapes, the fixed 7/3 split, where it looks for the data, and the offline message."""
from __future__ import annotations

import shutil
import urllib.error

import numpy as np
import pytest

from lab_helpers.data import face_photos as data_mod
from lab_helpers.data import FaceDataMissing, candidate_data_homes, load_faces, split_per_person
from lab_helpers.paths import FACE_FILE_NAME


def test_faces_shapes_and_range(faces):
    assert faces.images.shape == (400, 64, 64) and faces.images.dtype == np.float32
    assert 0.0 <= faces.images.min() and faces.images.max() <= 1.0
    assert faces.n_people == 40
    assert faces.X_train.shape == (280, 4096) and faces.X_test.shape == (120, 4096)


def test_split_is_seven_three_per_person_and_disjoint(faces):
    assert np.bincount(faces.y_train).tolist() == [7] * 40
    assert np.bincount(faces.y_test).tolist() == [3] * 40
    assert not set(faces.train_idx) & set(faces.test_idx)
    assert len(set(faces.train_idx) | set(faces.test_idx)) == 400


def test_split_is_seeded():
    labels = np.repeat(np.arange(40), 10)
    a, b, c = (split_per_person(labels, seed=s) for s in (0, 0, 1))
    assert np.array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


def test_split_rejects_impossible_sizes():
    with pytest.raises(ValueError, match="n_train=10"):
        split_per_person(np.repeat(np.arange(3), 10), n_train=10)


def test_loader_uses_lab_data_home_first(monkeypatch, tmp_path, faces):
    shutil.copy(faces.data_home / FACE_FILE_NAME, tmp_path / FACE_FILE_NAME)
    monkeypatch.setenv("LAB_DATA_HOME", str(tmp_path))
    assert candidate_data_homes() == [tmp_path]
    assert load_faces().data_home == tmp_path


def test_without_env_var_kit_cache_comes_before_sklearn_default(monkeypatch, tmp_path):
    monkeypatch.delenv("LAB_DATA_HOME", raising=False)
    monkeypatch.setenv("LAB_KIT_ROOT", str(tmp_path / "kit"))
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sk"))
    assert candidate_data_homes() == [tmp_path / "kit" / "data" / "cache", tmp_path / "sk"]


def test_sklearn_default_home_is_used_when_it_holds_the_file(monkeypatch, tmp_path, faces):
    monkeypatch.delenv("LAB_DATA_HOME", raising=False)
    monkeypatch.setenv("LAB_KIT_ROOT", str(tmp_path / "kit"))
    (tmp_path / "sk").mkdir()
    shutil.copy(faces.data_home / FACE_FILE_NAME, tmp_path / "sk" / FACE_FILE_NAME)
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sk"))
    assert load_faces().data_home == tmp_path / "sk"


def _offline(*args, **kwargs):
    raise urllib.error.URLError("[Errno -2] Name or service not known")


def test_offline_without_data_gives_one_clear_message(monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_DATA_HOME", str(tmp_path / "empty"))
    monkeypatch.delenv("LAB_OFFLINE", raising=False)  # CI sets it; here the download itself must fail
    monkeypatch.setattr("sklearn.datasets._olivetti_faces._fetch_remote", _offline)
    with pytest.raises(FaceDataMissing) as info:
        load_faces()
    message = str(info.value)
    assert "python -m lab_helpers fetch-data" in message and "LAB_DATA_HOME" in message
    assert str(tmp_path / "empty") in message
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no deep scikit-learn traceback


def test_download_switched_off_gives_the_same_message(monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_DATA_HOME", str(tmp_path))
    with pytest.raises(FaceDataMissing, match="fetch-data"):
        load_faces(download=False)


def test_download_goes_to_lab_data_home_when_set(monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_DATA_HOME", str(tmp_path / "dl"))
    assert data_mod.download_home() == tmp_path / "dl"
    monkeypatch.delenv("LAB_DATA_HOME")
    monkeypatch.setenv("LAB_KIT_ROOT", str(tmp_path / "kit"))
    assert data_mod.download_home() == tmp_path / "kit" / "data" / "cache"


def test_lab_offline_never_tries_to_download(monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_DATA_HOME", str(tmp_path))
    monkeypatch.setenv("LAB_OFFLINE", "1")
    monkeypatch.setattr("sklearn.datasets._olivetti_faces._fetch_remote", lambda *a, **k: pytest.fail("downloaded"))
    with pytest.raises(FaceDataMissing, match="LAB_OFFLINE is set"):
        load_faces()


def _build_under_lock(path: str, log: str) -> None:
    """One process's try at a cache entry: build it only if it is still missing once the lock is held."""
    import time
    from pathlib import Path

    from lab_helpers.paths import cache_lock, save_atomically

    target = Path(path)
    with cache_lock(target):
        if not target.exists():
            with open(log, "a") as f:
                f.write("built\n")
            time.sleep(0.5)  # a slow build: the other process must wait, not build too
            save_atomically(target, lambda p: p.write_text("model"))


def test_a_cache_entry_is_built_once_when_two_processes_ask_at_once(tmp_path):
    import multiprocessing

    entry, log = tmp_path / "models" / "m.pt", tmp_path / "builds.log"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_build_under_lock, args=(str(entry), str(log))) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert all(w.exitcode == 0 for w in workers)
    assert log.read_text() == "built\n" and entry.read_text() == "model"
    assert not list(entry.parent.glob("*.tmp"))  # the temporary file was renamed into place

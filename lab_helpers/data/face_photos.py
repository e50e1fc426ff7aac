"""Loading the Olivetti faces through scikit-learn's own loader, with a fixed per-person split."""
from __future__ import annotations

import os
import socket
import urllib.error
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..paths import FACE_FILE_NAME, cache_dir, data_dir

N_PEOPLE = 40
PHOTOS_PER_PERSON = 10
TRAIN_PER_PERSON = 7
IMAGE_SHAPE = (64, 64)


class FaceDataMissing(RuntimeError):
    """The face photos are not on this machine and could not be downloaded."""


@dataclass(frozen=True)
class FaceData:
    """The 400 Olivetti photos, their identity labels and a fixed 7/3 split per person."""

    images: np.ndarray  # (400, 64, 64) float32 in [0, 1]
    labels: np.ndarray  # (400,) int, person 0..39
    train_idx: np.ndarray  # indices of the 7 training photos of each person (280)
    test_idx: np.ndarray  # indices of the 3 held-out photos of each person (120)
    data_home: Path

    def split_key(self) -> str:
        """A short digest of which photos train a model (measurements cached on disk are reused for this split only)."""
        import hashlib

        return hashlib.sha1(np.asarray(self.train_idx).tobytes()).hexdigest()[:10]

    @property
    def X_train(self) -> np.ndarray:
        """Training photos flattened to rows of 4096 pixels."""
        return self.images[self.train_idx].reshape(len(self.train_idx), -1)

    @property
    def X_test(self) -> np.ndarray:
        """Held-out photos flattened to rows of 4096 pixels."""
        return self.images[self.test_idx].reshape(len(self.test_idx), -1)

    @property
    def y_train(self) -> np.ndarray:
        """Identity labels of the training photos."""
        return self.labels[self.train_idx]

    @property
    def y_test(self) -> np.ndarray:
        """Identity labels of the held-out photos."""
        return self.labels[self.test_idx]

    @property
    def n_people(self) -> int:
        """The size of the identity space: Olivetti person numbers run from 0 to n_people - 1 (40)."""
        return N_PEOPLE

    @property
    def people(self) -> np.ndarray:
        """The person numbers whose photos this data holds (all 40, or a private or public share)."""
        return np.unique(self.labels)

    def only(self, people) -> "FaceData":
        """The same data restricted to some people: their photos, the same 7/3 split, their Olivetti numbers kept."""
        people = np.unique(np.asarray(people, dtype=np.int64))
        if people.size == 0 or people.min() < 0 or people.max() >= N_PEOPLE:
            raise ValueError(f"People are Olivetti person numbers from 0 to {N_PEOPLE - 1} (got {people.tolist()}).")
        keep = np.flatnonzero(np.isin(self.labels, people))
        position = -np.ones(len(self.labels), dtype=np.int64)
        position[keep] = np.arange(len(keep))
        return FaceData(self.images[keep], self.labels[keep], position[self.train_idx[np.isin(self.train_idx, keep)]],
                        position[self.test_idx[np.isin(self.test_idx, keep)]], self.data_home)


PUBLIC_SPLIT_SEED = 7  # which Olivetti people are "public" (the attacker holds their photos) and which "private"
N_PUBLIC = 20


GREY_LEVEL = 1 / 255  # one step of an 8-bit grey scale
FLAT = 1e-6  # an image whose pixels span less than this never moved from its start: the attack got no signal
FAINT_GREY_LEVELS = 4.0  # an image whose contrast is under this many grey levels looks uniform grey to a person


def contrast_grey_levels(images) -> np.ndarray:
    """Each image's contrast as it is, in 8-bit grey levels: the spread from its 2nd to its 98th percentile pixel.

    A picture under a few grey levels looks uniform grey; it shows a face only once a display stretches its contrast,
    and a person shown it as it is recognises no one.
    """
    flat = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    return (np.percentile(flat, 98, axis=1) - np.percentile(flat, 2, axis=1)) / GREY_LEVEL


def public_private_split(faces: FaceData, n_public: int = N_PUBLIC, seed: int = PUBLIC_SPLIT_SEED) -> tuple[FaceData, FaceData]:
    """(private, public): the recogniser enrols the private people; the attacker holds the public people's photos.

    No person is on both sides; every person keeps their Olivetti number.
    """
    if not 0 < n_public < N_PEOPLE:
        raise ValueError(f"n_public must leave people on both sides: 1 to {N_PEOPLE - 1} (got {n_public}).")
    public = np.sort(np.random.default_rng(seed).permutation(N_PEOPLE)[:n_public])
    return faces.only(np.setdiff1d(np.arange(N_PEOPLE), public)), faces.only(public)


def sklearn_default_home() -> Path:
    """scikit-learn's own data folder (~/scikit_learn_data unless SCIKIT_LEARN_DATA says otherwise)."""
    from sklearn.datasets import get_data_home

    return Path(get_data_home())


def candidate_data_homes() -> list[Path]:
    """Where the kit looks for the faces, in order: $LAB_DATA_HOME, data/cache/, scikit-learn's default."""
    env = os.environ.get("LAB_DATA_HOME")
    if env:
        return [Path(env).expanduser()]
    return [data_dir() / "cache", sklearn_default_home()]


def find_face_data() -> Path | None:
    """The first data home that already holds the face file, or None."""
    for home in candidate_data_homes():
        if (home / FACE_FILE_NAME).is_file():
            return home
    return None


def download_home() -> Path:
    """Where a download goes: $LAB_DATA_HOME if set, else the kit's data/cache/."""
    env = os.environ.get("LAB_DATA_HOME")
    return Path(env).expanduser() if env else cache_dir()


def offline_mode() -> bool:
    """True when LAB_OFFLINE is set (an offline classroom): never try to download."""
    return os.environ.get("LAB_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def missing_data_message(tried: list[Path], reason: str) -> str:
    """The one message a learner sees when the faces are neither here nor downloadable."""
    places = "\n".join(f"  - {p}" for p in tried)
    return (
        f"The Olivetti face photos were not found and could not be downloaded ({reason}).\n"
        f"Looked in:\n{places}\n"
        "To fix it, do one of these:\n"
        "  1. On a machine with internet, run:  python -m lab_helpers fetch-data\n"
        "     (about 1.4 MB, downloaded once by scikit-learn into data/cache/).\n"
        "  2. Point LAB_DATA_HOME at a folder that holds olivetti_py3.pkz, e.g.\n"
        "     export LAB_DATA_HOME=/path/to/scikit_learn_data   (ask your instructor for the copy)."
    )


def fetch_faces_bunch(download: bool = True):
    """Call scikit-learn's fetch_olivetti_faces on the right data home; raise FaceDataMissing if impossible."""
    from sklearn.datasets import fetch_olivetti_faces

    home = find_face_data()
    tried = candidate_data_homes()
    if home is None and (not download or offline_mode()):
        why = "LAB_OFFLINE is set" if offline_mode() else "downloads are switched off"
        raise FaceDataMissing(missing_data_message(tried, why))
    target = home if home is not None else download_home()
    target.mkdir(parents=True, exist_ok=True)
    try:
        bunch = fetch_olivetti_faces(data_home=str(target), download_if_missing=home is None)
    except (urllib.error.URLError, socket.error, TimeoutError, OSError) as exc:
        raise FaceDataMissing(missing_data_message(tried, f"{type(exc).__name__}: {exc}")) from None
    bunch.data_home = target
    return bunch


def split_per_person(labels: np.ndarray, n_train: int = TRAIN_PER_PERSON, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split keeping n_train photos of every person for training and the rest for testing."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for person in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == person))
        if not 0 < n_train < len(idx):
            raise ValueError(f"n_train={n_train} must leave photos on both sides for every person (person {person} has {len(idx)}).")
        train.extend(idx[:n_train])
        test.extend(idx[n_train:])
    return np.sort(np.array(train)), np.sort(np.array(test))


def load_faces(seed: int = 0, n_train: int = TRAIN_PER_PERSON, download: bool = True) -> FaceData:
    """The Olivetti faces with a fixed, seeded 7-train / 3-test split for each of the 40 people."""
    bunch = fetch_faces_bunch(download=download)
    images = np.asarray(bunch.images, dtype=np.float32)
    labels = np.asarray(bunch.target, dtype=np.int64)
    train_idx, test_idx = split_per_person(labels, n_train=n_train, seed=seed)
    return FaceData(images, labels, train_idx, test_idx, Path(bunch.data_home))

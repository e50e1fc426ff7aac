"""Face classifiers the lab 03 attack targets (softmax regression and an MLP, as in Fredrikson et al. 2015).

Trained weights are cached under data/cache/models/, keyed by every setting, so a re-run is instant.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..compute import one_thread
from ..data.faces import FaceData
from ..paths import cache_dir, cache_lock, save_atomically

N_PIXELS, N_PEOPLE = 64 * 64, 40

# The four targets of lab 03. "Overfit": no weight decay, trained long, very sure of its training photos.
# "Regularised": weight decay and a short schedule (early stopping). MLP: 256 sigmoid hidden units
# (Fredrikson et al. used 3000; 256 trains in about 10 s on one CPU and inverts the same way).
TARGETS = {
    ("softmax", False): dict(epochs=1000, weight_decay=0.0),
    ("softmax", True): dict(epochs=300, weight_decay=1e-2),
    ("mlp", False): dict(epochs=600, weight_decay=0.0),
    ("mlp", True): dict(epochs=300, weight_decay=1e-2),
}


@dataclass(frozen=True)
class FaceModelSpec:
    """Every setting that decides a trained face model (the cache key)."""

    kind: str = "softmax"  # "softmax" or "mlp"
    epochs: int = 1000
    weight_decay: float = 0.0
    learning_rate: float = 1e-3
    hidden: int = 256
    seed: int = 0
    split_seed: int = 0

    def key(self) -> str:
        """A short name for the cache file."""
        digest = hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:10]
        return f"{self.kind}-e{self.epochs}-wd{self.weight_decay:g}-{digest}"


def build_network(spec: FaceModelSpec) -> nn.Module:
    """The untrained network for a spec: 4096 pixels in, 40 identity logits out."""
    if spec.kind == "softmax":
        return nn.Linear(N_PIXELS, N_PEOPLE)
    if spec.kind == "mlp":
        return nn.Sequential(nn.Linear(N_PIXELS, spec.hidden), nn.Sigmoid(), nn.Linear(spec.hidden, N_PEOPLE))
    raise ValueError(f"Unknown model kind {spec.kind!r}: use 'softmax' or 'mlp'.")


@dataclass
class FaceModel:
    """A trained face classifier with its accuracy; `predict_proba` is what an API would serve."""

    net: nn.Module
    spec: FaceModelSpec
    train_accuracy: float
    test_accuracy: float
    train_seconds: float
    from_cache: bool

    @property
    def name(self) -> str:
        """e.g. 'softmax (overfit)'."""
        return f"{self.spec.kind} ({'regularised' if self.spec.weight_decay > 0 else 'overfit'})"

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """Confidence scores (n, 40) for images given as (n, 4096) or (n, 64, 64) pixels in [0, 1]."""
        x = torch.as_tensor(np.asarray(images, dtype=np.float32)).reshape(-1, N_PIXELS)
        with torch.no_grad():
            return F.softmax(self.net(x), dim=1).numpy()


def _accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((net(x).argmax(1) == y).float().mean())


def fit_network(spec: FaceModelSpec, faces: FaceData, progress: bool = True) -> nn.Module:
    """Full-batch Adam on the training photos, with a progress bar over epochs."""
    from tqdm.auto import tqdm

    torch.manual_seed(spec.seed)
    net = build_network(spec)
    x, y = torch.tensor(faces.X_train), torch.tensor(faces.y_train)
    opt = torch.optim.Adam(net.parameters(), lr=spec.learning_rate, weight_decay=spec.weight_decay)
    with one_thread():
        for _ in tqdm(range(spec.epochs), desc=f"training {spec.kind}", disable=not progress, leave=False):
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
    return net.eval()


def train_face_model(faces: FaceData, kind: str = "softmax", regularised: bool = False, seed: int = 0,
                     progress: bool = True, **overrides) -> FaceModel:
    """A target face model, loaded from data/cache/ when these exact settings were trained before."""
    if (kind, regularised) not in TARGETS:
        raise ValueError(f"Unknown model kind {kind!r}: use 'softmax' or 'mlp'.")
    spec = replace(FaceModelSpec(kind=kind, seed=seed, **TARGETS[(kind, regularised)]), **overrides)
    path = cache_dir() / "models" / f"{spec.key()}.pt"
    start = time.perf_counter()
    with cache_lock(path):
        net, cached = build_network(spec), path.exists()
        if cached:
            net.load_state_dict(torch.load(path, weights_only=True))
            net.eval()
        else:
            net = fit_network(spec, faces, progress)
            save_atomically(path, lambda p: torch.save(net.state_dict(), p))
    seconds = time.perf_counter() - start
    xtr, ytr = torch.tensor(faces.X_train), torch.tensor(faces.y_train)
    xte, yte = torch.tensor(faces.X_test), torch.tensor(faces.y_test)
    return FaceModel(net, spec, _accuracy(net, xtr, ytr), _accuracy(net, xte, yte), seconds, cached)

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

from ..compute import one_thread, use_cpu_budget
from ..data.face_photos import FaceData
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
    people: str = ""  # digest of the enrolled people ("": all 40)
    label_smoothing: float = 0.0  # > 0 softens the targets, < 0 sharpens them (Struppek et al., 2024)
    transfer: str = ""  # digest of the public photos a frozen feature layer was learned from ("": none)

    def key(self) -> str:
        """A short name for the cache file (settings left at their defaults do not change it)."""
        settings = asdict(self)
        for name, default in (("people", ""), ("label_smoothing", 0.0), ("transfer", "")):
            if settings[name] == default:
                del settings[name]
        digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
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
        """e.g. 'softmax (overfit)', 'mlp (regularised, label smoothing -0.05)'."""
        extra = (f", label smoothing {self.spec.label_smoothing:+g}" if self.spec.label_smoothing else "") + (
            ", transfer from public faces" if self.spec.transfer else "")
        return f"{self.spec.kind} ({'regularised' if self.spec.weight_decay > 0 else 'overfit'}{extra})"

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """Confidence scores (n, 40) for images given as (n, 4096) or (n, 64, 64) pixels in [0, 1]."""
        use_cpu_budget()
        x = torch.as_tensor(np.asarray(images, dtype=np.float32)).reshape(-1, N_PIXELS)
        with torch.no_grad():
            return F.softmax(self.net(x), dim=1).numpy()


def _accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((net(x).argmax(1) == y).float().mean())


def smoothed_loss(logits: torch.Tensor, y: torch.Tensor, smoothing: float, classes: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy against targets (1 - a) * one-hot + a / K over the enrolled classes; a < 0 is negative smoothing."""
    if smoothing == 0.0:
        return F.cross_entropy(logits, y)
    log_p = F.log_softmax(logits, dim=1)
    k = logits.shape[1] if classes is None else len(classes)
    target = torch.zeros_like(log_p)
    if classes is None:
        target += smoothing / k
    else:
        target[:, classes] = smoothing / k
    target[torch.arange(len(y)), y] += 1.0 - smoothing
    return -(target * log_p).sum(1).mean()


def fit_network(spec: FaceModelSpec, faces: FaceData, progress: bool = True, frozen: nn.Module | None = None) -> nn.Module:
    """Full-batch Adam on the training photos, with a progress bar over epochs.

    frozen: a first layer learned elsewhere (transfer learning): copied in and not trained; only the head learns.
    """
    from tqdm.auto import tqdm

    torch.manual_seed(spec.seed)
    net = build_network(spec)
    x, y = torch.tensor(faces.X_train), torch.tensor(faces.y_train)
    classes = torch.as_tensor(faces.people) if len(faces.people) < N_PEOPLE else None
    params = net.parameters()
    if frozen is not None:
        net[0].load_state_dict(frozen.state_dict())
        for p in net[0].parameters():
            p.requires_grad_(False)
        params = net[2].parameters()
    opt = torch.optim.Adam(params, lr=spec.learning_rate, weight_decay=spec.weight_decay)
    with one_thread():
        head, inputs = net, x
        if frozen is not None:  # the frozen layer's output never changes: computed once, only the head is run
            with torch.no_grad():
                head, inputs = net[2], net[1](net[0](x))
        for _ in tqdm(range(spec.epochs), desc=f"training {spec.kind}", disable=not progress, leave=False):
            opt.zero_grad()
            smoothed_loss(head(inputs), y, spec.label_smoothing, classes).backward()
            opt.step()
    return net.eval()


def people_digest(faces: FaceData) -> str:
    """'' for all 40 people, else a short digest of the person numbers (part of a model's cache key)."""
    if len(faces.people) == N_PEOPLE:
        return ""
    return hashlib.sha1(np.asarray(faces.people, dtype=np.int64).tobytes()).hexdigest()[:10]


def train_face_model(faces: FaceData, kind: str = "softmax", regularised: bool = False, seed: int = 0,
                     progress: bool = True, transfer_from: FaceData | None = None, **overrides) -> FaceModel:
    """A target face model, loaded from data/cache/ when these exact settings were trained before.

    faces may hold some people only (`faces.only(...)`, the private people of lab 08): the model enrols them.
    transfer_from: photos of other people (the public ones) from which an MLP's hidden layer is learned first
    and then frozen; only the last layer is fitted to `faces` (transfer learning).
    """
    if (kind, regularised) not in TARGETS:
        raise ValueError(f"Unknown model kind {kind!r}: use 'softmax' or 'mlp'.")
    if transfer_from is not None and kind != "mlp":
        raise ValueError("Transfer learning needs a hidden layer to transfer: use kind='mlp'.")
    if transfer_from is not None and set(transfer_from.people) & set(faces.people):
        raise ValueError("transfer_from must hold other people than the model enrols (the public ones).")
    spec = replace(FaceModelSpec(kind=kind, seed=seed, people=people_digest(faces), **TARGETS[(kind, regularised)]),
                   **overrides)
    if transfer_from is not None:
        spec = replace(spec, transfer=people_digest(transfer_from) or "all")
    path = cache_dir() / "models" / f"{spec.key()}.pt"
    start = time.perf_counter()
    with cache_lock(path):
        net, cached = build_network(spec), path.exists()
        if cached:
            net.load_state_dict(torch.load(path, weights_only=True))
            net.eval()
        else:
            frozen = None
            if transfer_from is not None:  # the feature layer, learned on the public people only
                base = train_face_model(transfer_from, "mlp", regularised=regularised, seed=seed, progress=progress)
                frozen = base.net[0]
            net = fit_network(spec, faces, progress, frozen)
            save_atomically(path, lambda p: torch.save(net.state_dict(), p))
    seconds = time.perf_counter() - start
    xtr, ytr = torch.tensor(faces.X_train), torch.tensor(faces.y_train)
    xte, yte = torch.tensor(faces.X_test), torch.tensor(faces.y_test)
    return FaceModel(net, spec, _accuracy(net, xtr, ytr), _accuracy(net, xte, yte), seconds, cached)

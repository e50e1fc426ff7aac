"""Training-side defences on the face classifier: differential privacy (DP-SGD with Opacus).

ε always comes from Opacus's accountant. Trained models are cached under data/cache/models/, keyed by every
setting, so a re-run only loads them. What each defence buys is measured in `lab_helpers.evaluation`.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
import warnings
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..compute import one_thread
from ..data.face_photos import FaceData
from ..paths import cache_dir, cache_lock, save_atomically

if TYPE_CHECKING:
    pass


INF = float("inf")
DELTA = 1e-5  # the δ of every DP model here: far below 1 / 280 training photos
EPSILONS = (INF, 50.0, 20.0, 10.0, 5.0, 3.0, 1.0)  # the ε sweep, no privacy to strong privacy


# ---------------------------------------------------------------- the DP-ready face model

class PooledSoftmax(nn.Module):
    """Softmax regression on centred, pool x pool-averaged pixels: same inputs and outputs as lab 03's targets."""

    def __init__(self, pool: int = 2, n_people: int = 40):
        super().__init__()
        if pool not in (1, 2, 4, 8):
            raise ValueError(f"pool must be 1, 2, 4 or 8 (pixels averaged per side); got {pool!r}.")
        self.pool = pool
        self.linear = nn.Linear((64 // pool) ** 2, n_people)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        small = F.avg_pool2d(x.reshape(-1, 1, 64, 64), self.pool).flatten(1)
        return self.linear(small - 0.5)  # centred pixels: DP-SGD's clipped gradients then carry the faces, not the mean


@dataclass(frozen=True)
class DPSpec:
    """Every setting that decides a DP-trained face model (the cache key). epsilon=inf: the same training, no DP."""

    epsilon: float = INF
    delta: float = DELTA
    epochs: int = 60
    batch_size: int = 70  # expected batch: each photo is drawn with probability 70 / 280 per step (Poisson sampling)
    learning_rate: float = 1e-2
    max_grad_norm: float = 1.0  # every photo's gradient is clipped to this length
    pool: int = 2
    seed: int = 0
    people: str = ""  # digest of the enrolled people ("": all 40)

    def key(self) -> str:
        """A short name for the cache file."""
        settings = asdict(self)
        if not settings["people"]:
            del settings["people"]
        digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
        return f"dp-eps{self.epsilon:g}-{digest}"


def new_network(spec: DPSpec) -> PooledSoftmax:
    """The untrained DP-ready network for a spec, its starting weights fixed by the spec's seed."""
    torch.manual_seed(spec.seed)
    return PooledSoftmax(spec.pool)


def check_privacy_budget(epsilon: float, delta: float, n_records: int) -> None:
    """A clear error unless 0 < ε (inf = no DP) and 0 < δ < 1/n, the usual ceiling for δ."""
    if not isinstance(epsilon, (int, float, np.floating, np.integer)) or math.isnan(epsilon) or epsilon <= 0:
        raise ValueError(f"ε (epsilon) must be a number greater than 0 (got {epsilon!r}). Smaller is more private: "
                         "1 is strong, 10 is weak; use float('inf') for training without DP.")
    if not isinstance(delta, (int, float, np.floating)) or math.isnan(delta) or not 0 < delta < 1:
        raise ValueError(f"δ (delta) is the small additive slack in the ε guarantee (loosely, a small chance it does "
                         f"not hold), so it must lie strictly between 0 and 1 (got {delta!r}); use something like 1e-5.")
    if delta >= 1 / n_records:
        raise ValueError(f"δ = {delta:g} is too large for {n_records} training records: with δ ≥ 1/n = "
                         f"{1 / n_records:.2g} "
                         "a mechanism could publish a whole record and still claim the guarantee. Use δ well below "
                         f"1/n, e.g. {DELTA:g}.")


PLAIN_WORDS = {
    "BatchNorm": ("it normalises each photo with statistics of the other photos in its batch, so one photo changes "
                  "how every other photo is processed and DP-SGD cannot bound a single photo's influence. Replace it "
                  "with GroupNorm or LayerNorm (opacus.validators.ModuleValidator.fix(net) does this)"),
}


def opacus_findings(net: nn.Module) -> list[str]:
    """Opacus's validator's findings about a network, one plain sentence per offending layer (empty: ready for DP)."""
    from opacus.utils.module_utils import trainable_modules
    from opacus.validators import ModuleValidator

    findings = [] if net.training else ["the network is in evaluation mode: call net.train() before DP training."]
    for name, module in trainable_modules(net):  # the same per-layer checks as ModuleValidator.validate, with names
        check = ModuleValidator.VALIDATORS.get(type(module))
        for error in check(module) if check else []:
            said = str(error).split(". ")[0].rstrip(".")
            plain = next((text for key, text in PLAIN_WORDS.items() if key in type(module).__name__), None)
            reason = plain or ("Opacus cannot compute each photo's own gradient through it; "
                               "opacus.validators.ModuleValidator.fix(net) swaps in Opacus's drop-in replacement")
            findings.append(f"layer '{name or type(module).__name__}' ({type(module).__name__}): {reason}. "
                            f"(Opacus: \"{said}.\")")
    return findings


def check_dp_ready(net: nn.Module) -> None:
    """A clear error naming every layer Opacus cannot train with DP, and what to use instead."""
    findings = opacus_findings(net)
    if findings:
        raise ValueError("This network cannot be trained with DP-SGD as it is:\n  - " + "\n  - ".join(findings))


@dataclass
class PrivateModel:
    """A face classifier trained with (or, at ε = inf, without) DP-SGD, with the ε Opacus's accountant spent."""

    net: nn.Module
    spec: DPSpec
    epsilon_spent: float  # from Opacus's accountant (inf without DP)
    noise_multiplier: float  # Gaussian noise std / clipping norm, chosen by Opacus to meet the target ε
    train_accuracy: float
    test_accuracy: float
    train_seconds: float  # of the first training run, also when loaded from the cache
    from_cache: bool

    @property
    def name(self) -> str:
        """e.g. 'DP, ε = 10' or 'no DP (ε = ∞)'."""
        return "no DP (ε = ∞)" if math.isinf(self.spec.epsilon) else f"DP, ε = {self.spec.epsilon:g}"

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """Confidence scores (n, 40) for images given as (n, 4096) or (n, 64, 64) pixels in [0, 1]."""
        x = torch.as_tensor(np.asarray(images, dtype=np.float32)).reshape(-1, 4096)
        with torch.no_grad():
            return F.softmax(self.net(x), dim=1).numpy()


def train_private_network(net: nn.Module, faces: FaceData, spec: DPSpec,
                          progress: bool = True) -> tuple[nn.Module, float, float]:
    """DP-SGD with Opacus (Poisson sampling, per-photo clipping, Gaussian noise): (net, ε spent, noise multiplier)."""
    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader, TensorDataset
    from tqdm.auto import tqdm

    check_privacy_budget(spec.epsilon, spec.delta, len(faces.y_train))
    private = not math.isinf(spec.epsilon)
    if private:
        check_dp_ready(net)
    torch.manual_seed(spec.seed)
    data = TensorDataset(torch.tensor(faces.X_train), torch.tensor(faces.y_train))
    loader = DataLoader(data, batch_size=spec.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(spec.seed))
    optimiser, model, engine = torch.optim.Adam(net.parameters(), lr=spec.learning_rate), net, None
    with warnings.catch_warnings(), one_thread():  # one thread: the same numbers on every machine
        warnings.simplefilter("ignore")  # Opacus warns that its teaching-grade random numbers are not secure_mode
        if private:
            engine = PrivacyEngine(accountant="rdp")
            model, optimiser, loader = engine.make_private_with_epsilon(
                module=net, optimizer=optimiser, data_loader=loader, target_epsilon=spec.epsilon,
                target_delta=spec.delta, epochs=spec.epochs, max_grad_norm=spec.max_grad_norm)
        for _ in tqdm(range(spec.epochs), desc=f"training, ε = {spec.epsilon:g}", disable=not progress, leave=False):
            for xb, yb in loader:
                optimiser.zero_grad()
                F.cross_entropy(model(xb), yb).backward()
                optimiser.step()
    if not private:
        return net.eval(), INF, 0.0
    return net, float(engine.get_epsilon(spec.delta)), float(optimiser.noise_multiplier)


def _accuracy(net: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with torch.no_grad():
        return float((net(torch.tensor(x)).argmax(1) == torch.tensor(y)).float().mean())


def train_private_model(faces: FaceData, epsilon: float = INF, delta: float = DELTA, progress: bool = True,
                        **overrides) -> PrivateModel:
    """A DP face model for a target ε (inf: no DP), loaded from data/cache/ when trained before with these settings."""
    from ..targets.face_classifiers import people_digest

    check_privacy_budget(epsilon, delta, len(faces.y_train))
    spec = replace(DPSpec(epsilon=float(epsilon), delta=float(delta), people=people_digest(faces)), **overrides)
    path = cache_dir() / "models" / f"{spec.key()}.pt"
    with cache_lock(path):
        net, cached = PooledSoftmax(spec.pool), path.exists()
        if cached:
            saved = torch.load(path, weights_only=True)
            net.load_state_dict(saved["state"])
            spent, sigma, seconds = saved["epsilon"], saved["noise_multiplier"], saved["seconds"]
        else:
            start = time.perf_counter()
            trained, spent, sigma = train_private_network(new_network(spec), faces, spec, progress)
            seconds = time.perf_counter() - start
            net.load_state_dict(trained.state_dict())  # into a fresh module: no Opacus hooks left on it
            record = {"state": net.state_dict(), "epsilon": spent, "noise_multiplier": sigma, "seconds": seconds}
            save_atomically(path, lambda p: torch.save(record, p))
    net.eval()
    return PrivateModel(net, spec, float(spent), float(sigma), _accuracy(net, faces.X_train, faces.y_train),
                        _accuracy(net, faces.X_test, faces.y_test), float(seconds), cached)


def train_private_models(faces: FaceData, epsilons=EPSILONS, delta: float = DELTA, progress: bool = True,
                         **overrides) -> dict[float, PrivateModel]:
    """One DP model per target ε, with a progress bar over the sweep (cached, like train_private_model)."""
    from tqdm.auto import tqdm

    for epsilon in epsilons:
        check_privacy_budget(epsilon, delta, len(faces.y_train))
    return {float(e): train_private_model(faces, e, delta, progress, **overrides)
            for e in tqdm(epsilons, desc="DP-SGD models (one per ε)", disable=not progress)}


def advantage_bound(epsilon: float, delta: float = DELTA) -> float:
    """The most membership advantage (TPR − FPR) any test can get against an (ε, δ)-DP model: (e^ε−1+2δ)/(e^ε+1)."""
    if math.isinf(epsilon) or epsilon > 700:
        return 1.0
    return min(1.0, (math.exp(epsilon) - 1 + 2 * delta) / (math.exp(epsilon) + 1))


def group_epsilon(epsilon: float, photos_per_person: int = 7) -> float:
    """ε for all of one person's photos together (group privacy: k records cost k·ε)."""
    return photos_per_person * epsilon

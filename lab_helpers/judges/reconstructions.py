"""Judging reconstructions, never with the target model, in three words.

- **Recognised** (the headline, the field's standard since GMI: attack accuracy by an evaluation model independent
  of the target): an evaluator CNN names the person (top-1, top-5), and a second strict judge of another kind, the
  nearest held-out photo in the evaluator's feature space.
- **Template leak**: the pixel lineup (closer to the person's photos than to four others') and correlation judges.
  They count a faint template that matches the person's average photo: identity information, enough to confirm a
  guess, not a face anyone would recognise. Fredrikson et al. (2015) ran their lineup with people, who see far less
  in a faint pattern than a pixel correlation does.
- **Visible**: each image's contrast as the attack returned it, in 8-bit grey levels.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..compute import one_thread, use_cpu_budget
from ..data.face_photos import FAINT_GREY_LEVELS, FaceData, contrast_grey_levels, split_per_person
from ..paths import cache_dir, cache_lock, save_atomically

if TYPE_CHECKING:
    import pandas as pd


EVALUATOR_SPLIT_SEED = 1  # the evaluator's own split of the photos, not the target's


def as_images(images: np.ndarray) -> np.ndarray:
    """Images as a float32 (n, 64, 64) array, or a clear error about the shape."""
    arr = np.asarray(images, dtype=np.float32)
    if arr.ndim == 2 and arr.shape[1] == 4096:
        arr = arr.reshape(-1, 64, 64)
    if arr.ndim != 3 or arr.shape[1:] != (64, 64):
        raise ValueError(f"Expected face images shaped (n, 64, 64) or (n, 4096); got {np.shape(images)}.")
    return arr


def normalise_contrast(images: np.ndarray) -> np.ndarray:
    """Stretch each image's 2nd-98th percentile to [0, 1]: raw MI-FACE images are dark or flat."""
    flat = as_images(images).reshape(len(images), -1)
    lo, hi = np.percentile(flat, 2, axis=1, keepdims=True), np.percentile(flat, 98, axis=1, keepdims=True)
    return np.clip((flat - lo) / np.maximum(hi - lo, 1e-6), 0, 1).reshape(-1, 64, 64)


def standardise(x: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit spread for every image (the evaluator's first layer of contrast normalisation)."""
    mean, std = x.mean((1, 2, 3), keepdim=True), x.std((1, 2, 3), keepdim=True)
    return (x - mean) / (std + 1e-6)


class EvaluatorCNN(nn.Module):
    """A small convolutional face recogniser: a different architecture from every target."""

    def __init__(self, n_people: int = 40):
        super().__init__()
        def block(i, o, k):
            return [nn.Conv2d(i, o, k, padding=k // 2), nn.BatchNorm2d(o), nn.ReLU()]
        self.layers = nn.Sequential(*block(1, 16, 5), nn.MaxPool2d(2), *block(16, 32, 3), nn.MaxPool2d(2),
                                    *block(32, 64, 3), nn.MaxPool2d(2), *block(64, 64, 3),
                                    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(64, n_people))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(standardise(x))


def augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random shifts, mirror images, contrast and brightness changes, blur and pixel noise."""
    n = len(x)
    padded, out = F.pad(x, (4, 4, 4, 4), mode="replicate"), torch.empty_like(x)
    dx, dy = torch.randint(0, 9, (n,), generator=g), torch.randint(0, 9, (n,), generator=g)
    for i in range(n):
        out[i] = padded[i, :, dy[i]:dy[i] + 64, dx[i]:dx[i] + 64]
    flip = torch.rand(n, generator=g) < 0.5
    out[flip] = out[flip].flip(-1)
    out = out * (0.6 + 0.8 * torch.rand(n, 1, 1, 1, generator=g)) + 0.3 * (torch.rand(n, 1, 1, 1, generator=g) - 0.5)
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
    kernel = (k[:, None] * k[None, :] / 256).reshape(1, 1, 5, 5)
    blurred = F.conv2d(F.pad(out, (2, 2, 2, 2), mode="replicate"), kernel)
    pick = (torch.rand(n, 1, 1, 1, generator=g) < 0.3).float()
    out = pick * blurred + (1 - pick) * out
    return out + torch.randn(out.shape, generator=g) * 0.08 * torch.rand(n, 1, 1, 1, generator=g)


@dataclass
class Evaluator:
    """The trained independent judge and its accuracy on its own held-out photos."""

    net: EvaluatorCNN
    test_accuracy: float
    train_seconds: float
    from_cache: bool
    people: np.ndarray | None = None  # the person numbers it was trained on (None: all 40)
    _photo_features: dict = field(default_factory=dict, repr=False, compare=False)

    def photo_features(self, photos: np.ndarray) -> np.ndarray:
        """`features` of a fixed set of photos (the held-out photos every judgement compares with), computed once per
        set: the same numbers, without a pass over every photo at each judgement."""
        photos = np.ascontiguousarray(photos)
        key = (photos.shape, str(photos.dtype), hashlib.sha1(photos.tobytes()).hexdigest())
        if key not in self._photo_features:
            self._photo_features[key] = self.features(photos)
            self._photo_features[key].setflags(write=False)
        return self._photo_features[key]

    def fingerprint(self) -> str:
        """A short digest of the trained weights (and the people it knows): measurements cached on disk name the judge
        that made them."""
        import hashlib

        digest = hashlib.sha1()
        for tensor in self.net.state_dict().values():
            digest.update(tensor.detach().cpu().numpy().tobytes())
        if self.people is not None:
            digest.update(np.asarray(self.people).tobytes())
        return digest.hexdigest()[:12]

    def logits(self, images: np.ndarray) -> torch.Tensor:
        """The evaluator's scores for each identity (people it never saw: -inf), after contrast normalisation."""
        use_cpu_budget()
        x = torch.tensor(normalise_contrast(images)).unsqueeze(1)
        with torch.no_grad():
            out = self.net(x)
        if self.people is not None:
            mask = torch.full((out.shape[1],), float("-inf"))
            mask[torch.as_tensor(self.people)] = 0.0
            out = out + mask
        return out

    def top_k(self, images: np.ndarray, k: int = 5) -> np.ndarray:
        """The evaluator's k most likely identities for each image, after contrast normalisation."""
        return self.logits(images).topk(k, dim=1).indices.numpy()

    def features(self, images: np.ndarray) -> np.ndarray:
        """The evaluator's 64 learned features of each image (its last layer's input), for nearest-face distances."""
        x = torch.tensor(normalise_contrast(images)).unsqueeze(1)
        body = self.net.layers[:-2]  # everything before dropout and the final linear layer
        with torch.no_grad():
            return body(standardise(x)).numpy()


def train_evaluator(faces: FaceData, epochs: int = 40, seed: int = 0, progress: bool = True) -> Evaluator:
    """The independent evaluator, trained on its own split with augmentation (cached in data/cache/)."""
    from tqdm.auto import tqdm

    train_idx, test_idx = split_per_person(faces.labels, seed=EVALUATOR_SPLIT_SEED)
    x, y = torch.tensor(faces.images).unsqueeze(1), torch.tensor(faces.labels)
    people = faces.people
    subset = "" if len(people) == faces.n_people else "-people" + hashlib.sha1(people.tobytes()).hexdigest()[:8]
    path = cache_dir() / "models" / f"evaluator-cnn-e{epochs}-s{seed}-split{EVALUATOR_SPLIT_SEED}{subset}.pt"
    torch.manual_seed(seed)
    with cache_lock(path):
        net, start, cached = EvaluatorCNN(), time.perf_counter(), path.exists()
        if cached:
            net.load_state_dict(torch.load(path, weights_only=True))
        else:
            g = torch.Generator().manual_seed(seed)
            opt = torch.optim.Adam(net.parameters(), 3e-3, weight_decay=1e-4)
            xt, yt = x[train_idx], y[train_idx]
            with one_thread():
                for _ in tqdm(range(epochs), desc="training the evaluator", disable=not progress, leave=False):
                    net.train()
                    order = torch.randperm(len(xt), generator=g)
                    for b in range(0, len(xt), 35):
                        batch = order[b:b + 35]
                        opt.zero_grad()
                        F.cross_entropy(net(augment(xt[batch], g)), yt[batch]).backward()
                        opt.step()
            save_atomically(path, lambda p: torch.save(net.state_dict(), p))
    net.eval()
    with torch.no_grad():
        out = net(x[test_idx])
        if subset:
            out[:, np.setdiff1d(np.arange(faces.n_people), people)] = float("-inf")
        accuracy = float((out.argmax(1) == y[test_idx]).float().mean())
    return Evaluator(net, accuracy, time.perf_counter() - start, cached, people if subset else None)


def _standardise_rows(a: np.ndarray) -> np.ndarray:
    a = a.reshape(len(a), -1).astype(np.float64)
    a = a - a.mean(1, keepdims=True)
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


def similarity_to_people(images: np.ndarray, faces: FaceData) -> np.ndarray:
    """Correlation of each image with each person's average held-out photo, shape (n, 40).

    Columns are Olivetti person numbers; a person whose photos `faces` does not hold gets -inf.
    """
    people = faces.people
    means = np.stack([faces.X_test[faces.y_test == p].mean(0) for p in people])
    sims = np.full((len(images), faces.n_people), -np.inf)
    sims[:, people] = _standardise_rows(as_images(images)) @ _standardise_rows(means).T
    return sims


def correlation_top1(images: np.ndarray, identities: np.ndarray, faces: FaceData) -> float:
    """Share of reconstructions most correlated with the right person's held-out photos."""
    return float((similarity_to_people(images, faces).argmax(1) == np.asarray(identities)).mean())


def lineup_accuracy(images: np.ndarray, identities: np.ndarray, faces: FaceData, others: int = 4,
                    trials: int = 25, seed: int = 0) -> float:
    """Is the reconstruction closer to the right person than to `others` random people? (chance 1/(others+1))"""
    sims, rng, score = similarity_to_people(images, faces), np.random.default_rng(seed), []
    for row, person in zip(sims, np.asarray(identities)):
        rest = faces.people[faces.people != person]
        for _ in range(trials):
            rivals = row[rng.choice(rest, others, replace=False)]
            best = rivals.max()
            score.append(1.0 if row[person] > best else (1.0 / (1 + (rivals == best).sum()) if row[person] == best else 0.0))
    return float(np.mean(score))


def amplification(images: np.ndarray) -> np.ndarray:
    """How many times each image's contrast must be stretched to span the whole grey scale (1 for a full-range image)."""
    return 255.0 / np.maximum(contrast_grey_levels(images), 1e-3)


def nearest_photo_top1(images: np.ndarray, identities: np.ndarray, faces: FaceData, evaluator: Evaluator,
                       photo_features: np.ndarray | None = None) -> float:
    """The second strict judge: is the held-out photo nearest each image, in the evaluator's feature space, of the right
    person? The photos are ones the target never trained on (its test photos); the rule is a nearest neighbour, not the
    evaluator's own classifier, so the two strict judges can disagree (chance: 1 in the number of people)."""
    ids = np.asarray(identities)
    f = evaluator.features(images)
    photos = evaluator.photo_features(faces.X_test.reshape(-1, 64, 64)) if photo_features is None else photo_features
    d = (f ** 2).sum(1)[:, None] - 2 * f @ photos.T + (photos ** 2).sum(1)[None, :]
    return float((np.asarray(faces.y_test)[d.argmin(1)] == ids).mean())


@dataclass
class Verdict:
    """How well reconstructions recovered the people, in the kit's three words, with chance levels alongside.

    **Recognised** (the headline: strict judges independent of the target): `recognised_top1` and `recognised_top5`,
    the evaluator CNN names the person first or among its five; `recognised_nearest`, the held-out photo nearest the
    image in the evaluator's feature space is the person's (a nearest-neighbour rule, not the evaluator's classifier).
    **Template leak** (matches the person's photos better than chance: enough to confirm a guess, not a face anyone
    would recognise): `template_lineup` (closer to the person's photos than to four others'), `template_correlation`
    (the person's average photo is the most correlated of all). **Visible**: `contrast_grey_levels`, the median image's
    contrast as returned, in 8-bit grey levels, and `faint`, how many are under FAINT_GREY_LEVELS.
    """

    recognised_top1: float
    recognised_top5: float
    recognised_nearest: float
    template_lineup: float
    template_correlation: float
    contrast_grey_levels: float
    faint: int = 0
    chance_top1: float = 1 / 40
    chance_top5: float = 5 / 40
    chance_lineup: float = 1 / 5

    def as_dict(self) -> dict:
        """The verdict as a plain dict (one table row)."""
        return asdict(self)


def judge(images: np.ndarray, identities: np.ndarray, faces: FaceData, evaluator: Evaluator) -> Verdict:
    """Judge reconstructions: recognised (the evaluator's top-1 and top-5, the nearest held-out photo), template leak
    (lineup, correlation) and visible (contrast in grey levels).

    Chance levels follow the people `faces` holds (1 in 40 for all of them, 1 in 20 for the private half).
    """
    ids = np.asarray(identities)
    top5 = evaluator.top_k(images, 5)
    n = len(faces.people)
    contrast = contrast_grey_levels(images)
    return Verdict(float((top5[:, 0] == ids).mean()), float((top5 == ids[:, None]).any(1).mean()),
                   nearest_photo_top1(images, ids, faces, evaluator), lineup_accuracy(images, ids, faces),
                   correlation_top1(images, ids, faces), float(np.median(contrast)),
                   int((contrast < FAINT_GREY_LEVELS).sum()), 1 / n, min(1.0, 5 / n))


def closer_than_public(images: np.ndarray, identities: np.ndarray, private: FaceData, public: FaceData,
                       evaluator: Evaluator, features: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """Share of reconstructions closer to the right private person's photos than to every public photo.

    Distances in the evaluator's feature space (nearest photo on each side). An attack that returns a face the
    attacker already held (a public photo, or a blend that stays near one) scores about 0: it learned nothing.
    features: the evaluator's (public, private) photo features, when the caller computed them once already.
    """
    ids = np.asarray(identities)
    f = evaluator.features(images)
    pub, priv = features if features is not None else (evaluator.photo_features(public.images),
                                                         evaluator.photo_features(private.images))

    def nearest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        d = (a ** 2).sum(1)[:, None] - 2 * a @ b.T + (b ** 2).sum(1)[None, :]
        return np.sqrt(np.maximum(d, 0)).min(1)

    to_public = nearest(f, pub)
    to_person = np.array([nearest(f[i:i + 1], priv[private.labels == p])[0] for i, p in enumerate(ids)])
    return float((to_person < to_public).mean())


JUDGE_COLUMNS = {  # Verdict field -> its table column, the recognised judges first
    "recognised_top1": "recognised: evaluator top-1 %", "recognised_top5": "recognised: evaluator top-5 %",
    "recognised_nearest": "recognised: nearest photo %", "template_lineup": "template: lineup (1 of 5) %",
    "template_correlation": "template: correlation top-1 %", "contrast_grey_levels": "contrast (grey levels)",
}


def verdict_table(verdicts: dict) -> "pd.DataFrame":
    """One row per attack setting: each judge's share in percent (recognised first), the median contrast in grey
    levels, and chance levels in the last row."""
    import pandas as pd

    rows = {name: {label: round(getattr(v, key) if key == "contrast_grey_levels" else 100 * getattr(v, key), 1)
                   for key, label in JUDGE_COLUMNS.items()} for name, v in verdicts.items()}
    first = next(iter(verdicts.values()), Verdict(0, 0, 0, 0, 0, 0))
    rows["chance"] = {JUDGE_COLUMNS["recognised_top1"]: round(100 * first.chance_top1, 1),
                      JUDGE_COLUMNS["recognised_top5"]: round(100 * first.chance_top5, 1),
                      JUDGE_COLUMNS["recognised_nearest"]: round(100 * first.chance_top1, 1),
                      JUDGE_COLUMNS["template_lineup"]: round(100 * first.chance_lineup, 1),
                      JUDGE_COLUMNS["template_correlation"]: round(100 * first.chance_top1, 1),
                      JUDGE_COLUMNS["contrast_grey_levels"]: None}
    return pd.DataFrame(rows).T

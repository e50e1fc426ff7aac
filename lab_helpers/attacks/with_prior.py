"""Model inversion with a face prior: search the prior's latent space, not the pixels (lab 08).

In the spirit of GMI (Zhang et al., CVPR 2020) and its successors, without their GAN discriminators: the attacker
holds a face prior G(z) learned from public photos (`face_priors.py`) and looks for the z whose face the target model
names as the person. Three attackers, by what they get:

- **white-box** (`invert_prior_white_box`): the model's weights; gradients of log p(person | G(z)) flow through the
  generator to z. Several random starts, Adam, a pull towards the prior's centre (|z|^2) so G(z) stays a face.
- **black-box** (`invert_prior_black_box`): the API's score for the person; the gradient in z is *estimated* from
  antithetic probes z ± σu (NES, as lab 03's black-box attack, but in 30-60 dimensions instead of 576). It
  starts from the best of a batch of random prior faces. Every query goes through the query-counting ModelAPI.
- **label-only** (`invert_prior_label_only`): labels only; BREP-MI's boundary repulsion in z: find a z labelled as
  the person among random prior faces, then step away from the points of a sphere around it that are labelled
  as someone else, growing the sphere while it stays inside.

Each returns lab 03's `Reconstructions` (images, identities, queries and signal per person, snapshots by budget),
so the same judges, plots and tables apply. The two query attacks take `stop_on`: refusals (e.g. `ApiError`) that
end the attack early; the result then holds the faces it had, and says why it stopped.
"""
from __future__ import annotations

import time
from collections.abc import Iterable

import numpy as np
import torch
from torch.nn import functional as F

from ..compute import one_thread, weights_frozen
from .mi_face import Reconstructions, check_identities
from .face_priors import FacePrior

PRIOR_WEIGHT = 0.01  # the pull towards the prior's centre: loss += PRIOR_WEIGHT * |z|^2 / 2


def _scores(api, images: torch.Tensor | np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The API's score for each image's person (0 where the answer does not show it), one query per image."""
    answer = api.query(np.asarray(images, dtype=np.float32).reshape(len(ids), -1))
    answer = np.asarray(answer, dtype=np.float64)
    return answer[np.arange(len(ids)), ids]


def _labels(api, images: torch.Tensor | np.ndarray) -> np.ndarray:
    """The API's top label for each image, one query per image (`answer` reads labels only)."""
    return np.asarray(api.answer(np.asarray(images, dtype=np.float32).reshape(len(images), -1))[0]).astype(int)


def invert_prior_white_box(model, prior: FacePrior, identities=None, *, iterations: int = 300, starts: int = 2,
                           step_size: float = 0.05, prior_weight: float = PRIOR_WEIGHT, seed: int = 0,
                           progress: bool = True) -> Reconstructions:
    """White-box inversion through the prior: maximise log p(person | G(z)) over z, best of several starts.

    Parameters
    ----------
    model : a trained face model whose weights the attacker holds.
    prior : the face prior learned from public photos (`fit_pca_prior`, `train_generator_prior`).
    identities : person numbers to rebuild (default: all 40).
    iterations : Adam steps in the prior's latent space.
    starts : random starts per person; the one the model is surest of is kept (on lab 08's target, 2 starts reached
        what 8 did on every judge, within one person of 20, in a quarter of the time).
    step_size : Adam's learning rate.
    prior_weight : the pull towards the prior's centre, so G(z) stays a face.
    seed : fixes the starts.
    progress : show a progress bar.
    """
    from tqdm.auto import tqdm

    ids = check_identities(identities)
    began = time.perf_counter()
    net = model.net
    torch.manual_seed(seed)
    z = torch.randn(len(ids) * starts, prior.dim, generator=torch.Generator().manual_seed(seed), requires_grad=True)
    target = torch.as_tensor(np.repeat(ids, starts))
    opt = torch.optim.Adam([z], lr=step_size)
    with weights_frozen(net):  # gradients for z only
        with one_thread():
            for _ in tqdm(range(iterations), desc=f"white-box inversion through the {prior.name} prior",
                          disable=not progress, leave=False):
                opt.zero_grad()
                logits = net(prior.decode_torch(z))
                loss = F.cross_entropy(logits, target, reduction="sum") + prior_weight * 0.5 * (z ** 2).sum()
                loss.backward()
                opt.step()
            with torch.no_grad():
                images = prior.decode_torch(z)
                p = F.softmax(net(images), dim=1)[torch.arange(len(target)), target].reshape(len(ids), starts)
    best = p.argmax(1)
    images = images.reshape(len(ids), starts, -1)[torch.arange(len(ids)), best].numpy()
    return Reconstructions(images.reshape(-1, 64, 64), ids, time.perf_counter() - began,
                           signal=np.ones(len(ids), dtype=bool), attack="prior-white-box",
                           strategy=f"gradients of the model through the {prior.name} prior (no API)")


def invert_prior_black_box(api, prior: FacePrior, identities=None, *, queries_per_person: int = 1_000,
                           seed: int = 0, progress: bool = True, probes: int = 10, sigma: float = 0.5,
                           step_size: float = 0.1, start_share: float = 0.2, start_cap: int = 200,
                           prior_weight: float = PRIOR_WEIGHT, checkpoints: Iterable[int] = (),
                           stop_on: tuple = ()) -> Reconstructions:
    """Black-box inversion through the prior: NES gradient estimates of log score in z, all people batched per query.

    Parameters
    ----------
    api : the model behind its API (`QueryAPI`); the attack reads each person's own score.
    prior : the face prior learned from public photos.
    identities : person numbers to rebuild (default: all 40).
    queries_per_person : the budget; no person gets more.
    seed : fixes every random choice of the attack.
    progress : show a progress bar.
    probes : antithetic probe pairs z ± sigma·u per step (each pair costs two queries).
    sigma : the probes' radius in the latent space.
    step_size : Adam's step on the estimated gradient.
    start_share, start_cap : the share of each person's budget (at most start_cap queries) spent picking the start,
        the random prior face with the highest score for that person.
    prior_weight : the pull towards the prior's centre.
    checkpoints : budgets at which to keep a snapshot of the images.
    stop_on : exception types that end the attack early, keeping the faces it has (a service that stops answering).
    """
    from tqdm.auto import tqdm

    ids = check_identities(identities)
    if queries_per_person < 2 * probes + 2 or not 0 < start_share < 1 or probes < 1 or sigma <= 0:
        raise ValueError(f"Need queries_per_person >= {2 * probes + 2}, 0 < start_share < 1, probes >= 1 and "
                         f"sigma > 0 (got {queries_per_person}, {start_share}, {probes}, {sigma}).")
    n, began = len(ids), time.perf_counter()
    rng = np.random.default_rng(seed)
    queries = np.zeros(n, dtype=np.int64)
    # 1. the start: the best of a batch of random faces from the prior, for each person
    batch = max(1, min(int(start_share * queries_per_person), start_cap))
    candidates = rng.standard_normal((batch, prior.dim)).astype(np.float32)
    faces = prior.decode(candidates)
    best_score = np.full(n, -1.0)
    z = np.zeros((n, prior.dim), dtype=np.float32)
    marks = sorted({int(c) for c in checkpoints if int(c) > 0})
    snapshots: dict[int, np.ndarray] = {}
    stopped = ""
    try:
        for j in range(batch):  # one query per person per candidate: every person sees every candidate
            s = _scores(api, np.repeat(faces[j:j + 1], n, axis=0), ids)
            queries += 1
            better = s > best_score
            z[better], best_score[better] = candidates[j], s[better]
            if j + 1 in marks:
                snapshots[j + 1] = prior.decode(z)
        # 2. NES in z, Adam steps on the estimated gradient of log score (plus the prior's pull)
        m, v = np.zeros_like(z), np.zeros_like(z)
        per_step = 2 * probes
        steps = max(0, (queries_per_person - batch) // per_step)
        with one_thread():
            for step in tqdm(range(steps), desc=f"black-box inversion through the {prior.name} prior",
                             disable=not progress, leave=False):
                u = rng.standard_normal((n, probes, prior.dim)).astype(np.float32)
                points = np.concatenate([z[:, None] + sigma * u, z[:, None] - sigma * u], axis=1)  # (n, 2p, dim)
                images = prior.decode(points.reshape(-1, prior.dim))
                s = _scores(api, images, np.repeat(ids, 2 * probes)).reshape(n, 2, probes)
                f = np.log(np.maximum(s, 1e-300))  # no floor that erases small scores: log of what the API said
                grad = ((f[:, 0] - f[:, 1])[:, :, None] * u).sum(1) / (2 * sigma * probes) - prior_weight * z
                grad[~np.isfinite(grad)] = 0.0
                m = 0.9 * m + 0.1 * grad
                v = 0.999 * v + 0.001 * grad ** 2
                t = step + 1
                z = z + step_size * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
                queries += per_step
                for c in marks:  # the image when this budget was spent (the next step would go over it)
                    if c not in snapshots and queries[0] + per_step > c >= queries[0]:
                        snapshots[c] = prior.decode(z)
    except tuple(stop_on) as exc:  # the service stopped answering: keep the faces found so far
        stopped = str(getattr(exc, "reason", None) or exc)
    signal = best_score > 0
    images = prior.decode(z)
    for c in marks:
        snapshots.setdefault(c, images)
    return Reconstructions(images.reshape(-1, 64, 64), ids, time.perf_counter() - began, queries=queries,
                           signal=signal, snapshots={c: im.reshape(-1, 64, 64) for c, im in snapshots.items()},
                           stopped=stopped, attack="prior-black-box",
                           strategy=f"NES on the target's log-score in the {prior.name} prior's latent space")


def invert_prior_label_only(api, prior: FacePrior, identities=None, *, queries_per_person: int = 1_000,
                            seed: int = 0, progress: bool = True, probes: int = 8, radius: float = 0.5,
                            grow: float = 1.3, target_out: float = 0.25, step_size: float = 0.5,
                            search_share: float = 0.3, checkpoints: Iterable[int] = (),
                            stop_on: tuple = ()) -> Reconstructions:
    """Label-only inversion through the prior (BREP-MI in z): a start labelled as the person, then boundary repulsion.

    Parameters
    ----------
    api : the model behind its API (`QueryAPI`); the attack reads the top label of each answer only.
    prior : the face prior learned from public photos.
    identities : person numbers to rebuild (default: all 40).
    queries_per_person : the budget; no person gets more.
    seed : fixes every random choice of the attack.
    progress : show a progress bar.
    probes : antithetic pairs of sphere points per step (2 x probes labels, then one to check the step).
    radius, grow, target_out : the sphere's starting radius in z, and how it grows while at most target_out of
        its points leave the person's label (and shrinks when more do).
    step_size : each step's length, as a share of the radius.
    search_share : the most of each person's budget the search for a start may use.
    checkpoints : budgets at which to keep a snapshot of the images.
    stop_on : exception types that end the attack early, keeping the faces it has (a service that stops answering).
    """
    from tqdm.auto import tqdm

    ids = check_identities(identities)
    if probes < 1 or queries_per_person < 2 * probes + 4:
        raise ValueError(f"probes must be 1 or more, and queries_per_person at least 2 x probes + 4 "
                         f"(got {probes}, {queries_per_person}).")
    n, began = len(ids), time.perf_counter()
    rng = np.random.default_rng(seed)
    queries = np.zeros(n, dtype=np.int64)
    # 1. the start: random prior faces, asked on behalf of each person still without one
    cap = max(1, int(search_share * queries_per_person))
    z = np.zeros((n, prior.dim), dtype=np.float32)
    found = np.zeros(n, dtype=bool)
    batch = 50
    marks = sorted({int(c) for c in checkpoints if int(c) > 0})
    snapshots: dict[int, np.ndarray] = {}
    stopped = ""
    bar = None
    try:
        while (lacking := np.flatnonzero(~found & (queries + batch <= cap))).size:
            for c in marks:  # the image when this budget was spent: the next batch would go over it
                if c not in snapshots and queries.max() + batch > c:
                    snapshots[c] = prior.decode(z)
            # `batch` random prior faces for each person still without a start, charged to that person; a face
            # labelled as any of them is a start for that one
            candidates = rng.standard_normal((len(lacking) * batch, prior.dim)).astype(np.float32)
            labels = _labels(api, prior.decode(candidates))
            queries[lacking] += batch
            for p in np.flatnonzero(~found):
                hits = np.flatnonzero(labels == ids[p])
                if hits.size:  # the candidate nearest the prior's centre: the most face-like
                    pick = hits[np.linalg.norm(candidates[hits], axis=1).argmin()]
                    z[p], found[p] = candidates[pick], True
        # 2. boundary repulsion in z
        r = np.full(n, float(radius))
        pairs = probes
        per_step = 2 * probes + 1
        average, weight = z.copy(), np.ones(n)
        steps = int(((queries_per_person - queries) // per_step).max()) if found.any() else 0
        bar = tqdm(total=steps, desc=f"label-only inversion through the {prior.name} prior", disable=not progress,
                   leave=False)
        while (active := np.flatnonzero(found & (queries + per_step <= queries_per_person))).size:
            k = len(active)
            u = rng.standard_normal((k, pairs, prior.dim)).astype(np.float32)
            u /= np.linalg.norm(u, axis=2, keepdims=True)
            points = np.concatenate([z[active, None] + r[active, None, None] * u,
                                     z[active, None] - r[active, None, None] * u], axis=1)
            outside = _labels(api, prior.decode(points.reshape(-1, prior.dim))).reshape(k, 2, pairs) != ids[active, None, None]
            estimate = -((outside[:, 0].astype(float) - outside[:, 1].astype(float))[:, :, None] * u).sum(1) / (2 * pairs)
            size = np.linalg.norm(estimate, axis=1)
            share_out = outside.reshape(k, -1).mean(1)
            step = np.where(size[:, None] > 0, estimate / np.maximum(size, 1e-12)[:, None], 0.0)
            candidate = z[active] + (step_size * r[active])[:, None] * step
            kept = (_labels(api, prior.decode(candidate)) == ids[active]) & (size > 0)
            queries[active] += per_step
            z[active[kept]] = candidate[kept]
            r[active] = np.where(share_out <= target_out, r[active] * grow, r[active] / grow)
            weight[active[kept]] += 1.0
            average[active[kept]] += (z[active[kept]] - average[active[kept]]) / weight[active[kept], None]
            for c in marks:
                if c not in snapshots and queries.min() + per_step > c:
                    snapshots[c] = prior.decode(np.where(found[:, None], average, z))
            bar.update(1)
    except tuple(stop_on) as exc:  # the service stopped answering: keep the faces found so far
        stopped = str(getattr(exc, "reason", None) or exc)
    finally:
        if bar is not None:
            bar.close()
    images = prior.decode(z)  # each person's last face the model named as them (or the start)
    if not stopped:
        final = prior.decode(average)
        try:
            still = _labels(api, final) == ids  # one last query: keep the average only if it is still the person
            queries += 1
            images = np.where(still[:, None], final, images)
        except tuple(stop_on) as exc:
            stopped = str(getattr(exc, "reason", None) or exc)
    for c in marks:
        snapshots.setdefault(c, images)
    signal = found
    return Reconstructions(images.reshape(-1, 64, 64), ids, time.perf_counter() - began, queries=queries,
                           signal=signal, snapshots={c: im.reshape(-1, 64, 64) for c, im in snapshots.items()},
                           stopped=stopped, attack="prior-label-only",
                           strategy=f"labels only: boundary repulsion in the {prior.name} prior's latent space")


def public_lookup(api, public, identities=None) -> Reconstructions:
    """The trivial 'attack' a prior attack must beat: for each person, the public photo the API scores highest.

    Every public photo is asked once (shared by every person); a prior attack that only returns public faces
    scores like this, and fails the nearest-public-face check.
    """
    from .face_priors import public_photos

    ids = check_identities(identities)
    began = time.perf_counter()
    photos = public_photos(public, mirror=False)
    scores = np.asarray(api.query(photos), dtype=np.float64)  # (n_public_photos, 40)
    best = scores[:, ids].argmax(0)
    return Reconstructions(photos[best].reshape(-1, 64, 64), ids, time.perf_counter() - began,
                           queries=len(photos), signal=scores[best, ids] > 0, attack="public-lookup",
                           strategy="the public photo the API scores highest for each person (no inversion)")

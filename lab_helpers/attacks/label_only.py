"""Label-only face inversion by boundary repulsion, after BREP-MI: Kahla, Chen, Just and Jia, "Label-Only Model
Inversion Attacks via Boundary Repulsion", CVPR 2022. Adapted to pixels: there is no GAN, the search runs on
the 64x64 image itself, in a low-frequency DCT subspace.

What the attacker assumes: a black-box API that answers each image with the model's top label and nothing else
(no scores; the attack never reads them), the input format (64x64 greyscale pixels in [0, 1]) and the label
number of the person to rebuild. No photos, no training data, no weights. Every query goes through `api.answer`,
so a ModelAPI counts it, and no person gets more than `queries_per_person`.

1. Find a start: random smooth images around grey, and blends of the starts already found for other people,
   until one is labelled as the person, within `search_share` of that person's budget. A person with none
   keeps a plain grey image and `signal=False`: the attack never pretends.
2. Repel it from the decision boundary: label 2 x `probes` points on a sphere of radius r around the image
   (antithetic pairs x ± r·d, d a random unit direction of the first `low_freq` x `low_freq` DCT frequencies, the
   higher ones damped by `falloff`), step `step_size`·r away from the points labelled as someone else (BREP-MI's
   estimate: the mean of their directions, negated), and keep the step only if the new image is still labelled
   as the person. BREP-MI grows r when every point stays inside the class; here r grows by `grow` while at most
   `target_out` of the points leave and shrinks by it when more do, so the sphere keeps touching the boundary.
   The image reported is a running average of the accepted images (later ones weigh more), kept only if it is
   itself still labelled as the person (one last query); pixels stay in [0, 1] throughout.

Per person the result records `queries` (search rounds included), `signal` (a start was found and the image
then moved) and, for each budget in `checkpoints`, a snapshot of the average when it had spent no more than that.

Each step asks `api.answer` twice, for every person at once (their sphere points, then their new images), so
40 people x 10,000 queries take seconds on one core, most of it the target model's own forward passes.
"""
from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence

import numpy as np
import torch

from ..service.api import QueryAPI
from .mi_face import N_PIXELS, SIDE, Reconstructions, check_identities, dct_basis

__all__ = ["SphereWorkspace", "blend_candidates", "find_starts", "invert_label_only", "smallest_budget",
           "smooth_candidates"]



class SphereWorkspace:
    """Buffers for one run, allocated once: random low-frequency directions and the sphere points around each image."""

    def __init__(self, n_ids: int, pairs: int, keep: int, falloff: float, generator: torch.Generator):
        self.basis, self.generator, self.pairs, self.keep = dct_basis(keep), generator, pairs, keep
        f = np.hypot(*np.meshgrid(np.arange(keep), np.arange(keep), indexing="ij"))
        self.weight = torch.tensor((1.0 + f) ** -falloff, dtype=torch.float32)  # damp the higher frequencies
        self.coeffs = torch.empty(n_ids * pairs, keep, keep)
        self.half = torch.empty(n_ids * pairs, keep, SIDE)
        self.half_t = torch.empty(n_ids * pairs, SIDE, keep)
        self.directions_buffer = torch.empty(n_ids * pairs * SIDE, SIDE)
        self.points: torch.Tensor | None = None  # allocated on first use

    def directions(self, m: int) -> torch.Tensor:
        """`pairs` random unit image directions for each of m images, shape (m, pairs, 4096): basis.T @ U @ basis."""
        rows, keep = m * self.pairs, self.keep
        coeffs = self.coeffs[:rows]
        torch.randn(coeffs.shape, generator=self.generator, out=coeffs)
        coeffs.mul_(self.weight)
        coeffs.div_(coeffs.flatten(1).norm(dim=1)[:, None, None])  # orthonormal basis rows: unit U, unit image
        torch.mm(coeffs.view(-1, keep), self.basis, out=self.half[:rows].view(-1, SIDE))
        self.half_t[:rows].copy_(self.half[:rows].transpose(1, 2))
        out = self.directions_buffer[:rows * SIDE]
        torch.mm(self.half_t[:rows].view(-1, keep), self.basis, out=out)
        return out.view(m, self.pairs, N_PIXELS)

    def sphere_points(self, x: torch.Tensor, radius: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
        """x ± r·d for every direction (antithetic pairs), clamped to [0, 1], shape (m, 2, pairs, 4096)."""
        m = len(x)
        if self.points is None:
            self.points = torch.empty(len(self.coeffs) // self.pairs, 2, self.pairs, N_PIXELS)
        points = self.points[:m]
        points[:, 0].copy_(directions).mul_(radius[:, None, None])
        torch.neg(points[:, 0], out=points[:, 1])
        points.add_(x[:, None, None]).clamp_(0, 1)
        return points


def smooth_candidates(n: int, generator: torch.Generator, keep: tuple[int, int] = (3, 8),
                      amplitude: tuple[float, float] = (6.0, 30.0)) -> torch.Tensor:
    """n random smooth images around grey (a few low DCT frequencies each, of random strength), in [0, 1]."""
    out = torch.empty(n, N_PIXELS)
    sizes = torch.randint(keep[0], keep[1] + 1, (n,), generator=generator)
    for k in sizes.unique().tolist():
        rows = (sizes == k).nonzero()[:, 0]
        out[rows] = SphereWorkspace(len(rows), 1, k, 0.0, generator).directions(len(rows))[:, 0]
    strength = amplitude[0] + (amplitude[1] - amplitude[0]) * torch.rand(n, 1, generator=generator)
    return (0.5 + strength * out).clamp(0, 1)


def blend_candidates(n: int, found: torch.Tensor, generator: torch.Generator, noise: float = 15.0) -> torch.Tensor:
    """n mixes of two images labelled as other people (reaching past either one), plus smooth noise, in [0, 1]."""
    a = found[torch.randint(len(found), (n,), generator=generator)]
    b = found[torch.randint(len(found), (n,), generator=generator)]
    w = -0.5 + 2.0 * torch.rand(n, 1, generator=generator)
    return (a + w * (b - a) + smooth_candidates(n, generator, amplitude=(0.0, noise)) - 0.5).clamp(0, 1)


def _labels(api: QueryAPI, images: torch.Tensor) -> np.ndarray:
    """The top label of every image, one row each: the only part of the API's answer the attack reads."""
    return np.asarray(api.answer(images.reshape(-1, N_PIXELS).numpy())[0]).reshape(-1)


def find_starts(api: QueryAPI, ids: np.ndarray, cap: int, batch: int, generator: torch.Generator,
                queries: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
    """An image labelled as each person (grey where none was found within `cap` queries), and which were found.

    Each round queries `batch` candidates on behalf of every person still without a start (charged to that
    person in `queries`); a candidate labelled as any of them is a start for that one, the one nearest grey.
    """
    n = len(ids)
    x, found = torch.full((n, N_PIXELS), 0.5), np.zeros(n, dtype=bool)
    first = True
    while (lacking := np.flatnonzero(~found & (queries + batch <= cap))).size:
        cands = smooth_candidates(len(lacking) * batch, generator)
        if found.any():  # half of each round: blends of the starts found for other people
            half = len(cands) // 2
            cands[:half] = blend_candidates(half, x[found], generator)
        if first:  # plain grey, the smoothest candidate of all
            cands[0], first = 0.5, False
        labels = _labels(api, cands)
        queries[lacking] += batch
        distance = (cands - 0.5).norm(dim=1).numpy()
        for p in np.flatnonzero(~found):
            hits = np.flatnonzero(labels == ids[p])
            if hits.size:
                x[p], found[p] = cands[hits[distance[hits].argmin()]], True
    return x, found


def smallest_budget(probes: int, search_share: float, search_batch: int) -> int:
    """The fewest queries per person that leave room for a full start search, one step and the final check."""
    after_search = 2 * probes + 2  # sphere points, the step's check, the final check
    return max(search_batch + after_search, math.ceil(after_search / (1 - search_share)))


def invert_label_only(api: QueryAPI, identities: int | Sequence[int] | np.ndarray | None = None, *,
                      queries_per_person: int = 10_000, seed: int = 0, progress: bool = True,
                      probes: int = 16, radius: float = 1.0, grow: float = 1.3, target_out: float = 0.25,
                      step_size: float = 0.3, low_freq: int = 24, falloff: float = 0.25, search_share: float = 0.5,
                      search_batch: int = 25, checkpoints: Iterable[int] = ()) -> Reconstructions:
    """Label-only model inversion by boundary repulsion (BREP-MI on pixels); every person batched in each query.

    Parameters
    ----------
    api : the model behind its API (`QueryAPI`); the attack reads the top label of each answer and nothing else.
    identities : person numbers to rebuild (default: all 40).
    queries_per_person : the budget; no person gets more (the start search included).
    seed : fixes every random choice of the attack.
    progress : show a progress bar.
    probes : antithetic pairs of sphere points per step (2 x probes labels, then one to check the step).
    radius : the sphere's starting radius; it grows by `grow` while at most `target_out` of its points leave the
        person's label, and shrinks when more do.
    step_size : each step's length, as a share of the radius.
    low_freq, falloff : directions from the first low_freq x low_freq DCT frequencies, higher ones damped by falloff.
    search_share : the most of each person's budget the search for a start may use.
    search_batch : candidates asked per person in each search round.
    checkpoints : budgets at which to keep a snapshot of the images.
    """
    from tqdm.auto import tqdm

    ids = check_identities(identities)
    whole = isinstance(probes, (int, np.integer)) and not isinstance(probes, bool)
    if not whole or probes < 1:
        raise ValueError(f"probes must be a whole number of antithetic pairs, 1 or more; got {probes!r}.")
    if not 0 < search_share < 1 or search_batch < 1:
        raise ValueError(f"search_share must be between 0 and 1 and search_batch 1 or more "
                         f"(got {search_share!r}, {search_batch!r}).")
    if radius <= 0 or grow <= 1 or step_size <= 0 or not 0 <= target_out < 1:
        raise ValueError(f"Need radius > 0, grow > 1, step_size > 0 and 0 <= target_out < 1 "
                         f"(got {radius}, {grow}, {step_size}, {target_out}).")
    if not 1 <= low_freq <= SIDE or falloff < 0:
        raise ValueError(f"low_freq must be 1 to {SIDE} and falloff 0 or more (got {low_freq}, {falloff}).")
    fewest = smallest_budget(probes, search_share, search_batch)
    if queries_per_person < fewest:
        raise ValueError(f"queries_per_person must be at least {fewest} (a start search of {search_batch}, then "
                         f"one step: {2 * probes} sphere points and 1 check, and 1 final check); got "
                         f"{queries_per_person}. Try 2,000 to 10,000.")

    n, pairs, per_step = len(ids), probes, 2 * probes + 1
    generator = torch.Generator().manual_seed(seed)
    began, queries = time.perf_counter(), np.zeros(n, dtype=np.int64)
    cap = max(search_batch, int(search_share * queries_per_person))
    x, found = find_starts(api, ids, cap, search_batch, generator, queries)

    workspace = SphereWorkspace(n, pairs, low_freq, falloff, generator)
    r = torch.full((n,), float(radius))
    average, accepted = x.clone(), torch.zeros(n)
    marks = sorted({int(c) for c in checkpoints if int(c) > 0})
    snapshots = {c: x.clone() for c in marks}
    steps = int(((queries_per_person - 1 - queries[found]) // per_step).max()) if found.any() else 0
    bar = tqdm(total=steps, desc="label-only BREP-MI", disable=not progress, leave=False)
    while (active := np.flatnonzero(found & (queries + per_step + 1 <= queries_per_person))).size:
        a, m = torch.as_tensor(active), len(active)
        d = workspace.directions(m)
        points = workspace.sphere_points(x[a], r[a], d)
        outside = torch.as_tensor(_labels(api, points).reshape(m, 2, pairs) != ids[active, None, None])
        # BREP-MI: away from the points labelled as someone else; a pair with both points out cancels
        estimate = -torch.bmm((outside[:, 0].float() - outside[:, 1].float())[:, None, :], d)[:, 0] / (2 * pairs)
        share_out = outside.flatten(1).float().mean(1)
        size = estimate.norm(dim=1, keepdim=True)
        candidate = (x[a] + (step_size * r[a])[:, None] * estimate / size.clamp_min(1e-12)).clamp(0, 1)
        kept = torch.as_tensor(_labels(api, candidate) == ids[active]) & (size[:, 0] > 0)
        queries[active] += per_step
        x[a[kept]] = candidate[kept]
        accepted[a] += kept.float()
        rate = (2 / (accepted[a] + 2))[:, None]  # weights grow with the step number: the start fades out
        average[a] = torch.where(kept[:, None], (1 - rate) * average[a] + rate * x[a], average[a])
        r[a] *= torch.where(share_out <= target_out, grow, 1 / grow)  # BREP-MI grows r when the sphere is inside
        for c in marks:
            rows = a[torch.as_tensor(queries[active] <= c)]
            snapshots[c][rows] = average[rows]
        bar.update(1)
    bar.close()

    moved = (accepted > 0).numpy()
    if moved.any():  # report the average only where it is still labelled as the person (one query each)
        rows = np.flatnonzero(moved)
        still = _labels(api, average[rows]) == ids[rows]
        queries[rows] += 1
        x[rows[still]] = average[rows[still]]
    images = x.numpy().reshape(-1, SIDE, SIDE)
    snaps = {c: s.numpy().reshape(-1, SIDE, SIDE) for c, s in snapshots.items()}
    return Reconstructions(images, ids, time.perf_counter() - began, queries=queries, signal=found & moved,
                           snapshots=snaps, attack="label-only",
                           strategy="labels only: boundary repulsion (BREP-MI) from a start the model labels as the person")

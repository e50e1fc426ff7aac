"""MI-FACE guided by explanations: an API that explains its answers hands over the white-box attacker's gradient.

A signed explanation of a class's score (a gradient, integrated gradients) is, up to the controls on it, the very
gradient white-box MI-FACE descends: each query that returns one is a white-box step (Zhao et al., "Exploiting
Explanations for Model Inversion Attacks", ICCV 2021; Shokri et al., "On the Privacy Risks of Model Explanations",
2021). Where only the answer's own class is explained, the attack first pushes whichever class is on top down its
own map until the target is on top, then climbs the target's map. A heat map without signs (absolute saliency,
SmoothGrad) gives this attack no direction: it stops after one look, its images flat and labelled "no signal".
"""
from __future__ import annotations

import time

import numpy as np
import torch

from .mi_face import SIDE, Reconstructions, check_identities, prior_gradient, start_images


def invert_with_explanations(api, identities=None, *, queries_per_person: int = 100, step_size: float = 0.1,
                             push: float = 0.5, l2_weight: float = 0.005, tv_weight: float = 0.02,
                             snapshots=(), progress: bool = True) -> Reconstructions:
    """Rebuild each person's face from an explaining API (`ExplainingAPI` or any object with `explain`).

    Parameters
    ----------
    api : answers `explain(images, classes) -> (labels, explained classes, maps)` and counts `queries`.
    identities : person numbers to rebuild (default: all 40).
    queries_per_person : explained queries for each person (one per step).
    step_size : how far each step moves the pixels along the map (the white-box attack's 0.1).
    push : when only the top class is explained: how far (L2) each step pushes the top class down.
    l2_weight, tv_weight : the image prior, as in white-box MI-FACE.
    snapshots : budgets (queries per person) at which to keep the images.
    progress : show a progress bar.
    """
    from tqdm.auto import tqdm

    ids = check_identities(identities)
    if not isinstance(queries_per_person, int) or queries_per_person < 1:
        raise ValueError(f"queries_per_person must be a whole number, 1 or more (got {queries_per_person!r}).")
    target = torch.as_tensor(ids)
    x = start_images(len(ids))
    pending = sorted(b for b in set(snapshots) if 0 < b <= queries_per_person)
    kept, began = {}, time.perf_counter()
    reached = np.full(len(ids), -1)
    stopped, signed = "", True
    for step in tqdm(range(queries_per_person), desc="explanation-guided MI-FACE", disable=not progress, leave=False):
        labels, explained, maps = api.explain(x.numpy(), classes=ids)
        if step == 0 and not (np.asarray(maps) < 0).any():
            signed, stopped = False, ("the explanation is a heat map without signs: it says which pixels matter, not "
                                      "which way to move them, so this attack got no direction")
            break
        g = torch.as_tensor(np.asarray(maps, dtype=np.float32))
        on_target = torch.as_tensor(np.asarray(explained) == ids)
        reached[(reached < 0) & on_target.numpy()] = step + 1
        norm = g.norm(dim=1, keepdim=True).clamp_min(1e-12)
        # climb the target's log-probability where its map came back; elsewhere push the class on top down
        direction = torch.where(on_target[:, None], -g, push / step_size * g / norm)
        x = (x - step_size * (direction + prior_gradient(x, l2_weight, tv_weight))).clamp(0.0, 1.0)
        while pending and pending[0] == step + 1:
            kept[pending.pop(0)] = x.numpy().reshape(-1, SIDE, SIDE).copy()
    spent = np.full(len(ids), 1 if not signed else queries_per_person)
    images = x.numpy().reshape(-1, SIDE, SIDE).copy()
    where = getattr(getattr(api, "explanation", None), "spelling", lambda: "explanations")()
    if not signed:
        strategy = f"{where}: no signed map, no direction"
    elif getattr(getattr(api, "explanation", None), "scope", "any") == "top":
        got = reached[reached > 0]
        strategy = (f"{where}: pushed the top class down until the target was on top ({len(got)} of {len(ids)} people"
                    + (f", after a median of {int(np.median(got))} queries" if len(got) else "") + "), then climbed its map")
    else:
        strategy = f"{where}: each returned map used as the white-box gradient"
    return Reconstructions(images, ids, time.perf_counter() - began, queries=spent, snapshots=kept,
                           signal=None if signed else np.zeros(len(ids), dtype=bool), stopped=stopped,
                           attack="explanation-guided", strategy=strategy)

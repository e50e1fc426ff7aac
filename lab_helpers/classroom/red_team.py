"""The red team's side: look at a door, attack through it with the kit's attacks, submit what they reconstruct.

`attack_door` is what a competent red learner does, and what the service's own attacker ("house") does each round:
read what the door answers, pick the attack that output allows (scores: black-box search in the eigenface prior's
space; labels only: the label-only boundary attack in the same space), wait out rate limits while patience lasts,
and submit each person's reconstruction. It does not evade the detector or spread over several keys: red learners
can, and the house attacker is the floor a blue team's policy is measured against, not the ceiling.
"""
from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field

import numpy as np

from ..attacks.priors import FacePrior, fit_pca_prior
from ..attacks.with_prior import invert_prior_black_box, invert_prior_label_only
from ..service.client import ApiError, HttpModelAPI

SCORED = ("probabilities", "rounded", "top_k", "noisy")  # outputs whose answers carry the person's own score


def door_url(url: str, door: str) -> str:
    """The base URL of one blue team's door on the class target."""
    return f"{url.rstrip('/')}/doors/{door}"


def open_door(url: str, key: str, door: str, patience: float = 0.0, output: str | None = None) -> HttpModelAPI:
    """A client for the shared model behind this door (a `ModelAPI`-like `.query`), as your key sees it."""
    return HttpModelAPI(door_url(url, door), key, "faces", output=output, patience=patience)


def strongest_output(outputs) -> str | None:
    """The most revealing scored output a door allows your key (None: labels only, or the top label's score)."""
    return next((kind for kind in SCORED if kind in outputs), None)


def submit_reconstruction(url: str, key: str, door: str, person: int, image: np.ndarray, timeout: float = 30.0) -> dict:
    """Send one reconstruction of a private person to the class target's referees; returns their verdict."""
    import httpx

    pixels = np.clip(np.asarray(image, dtype="<f4").reshape(-1), 0, 1)
    if pixels.size != 4096:
        raise ValueError(f"A reconstruction is one 64x64 image (4096 values); got {pixels.size} values.")
    body = json.dumps({"door": door, "person": int(person), "image": base64.b64encode(pixels.tobytes()).decode()})
    with httpx.Client(timeout=timeout, trust_env=False) as http:
        response = http.post(f"{url.rstrip('/')}/class/submit", content=body,
                             headers={"X-API-Key": key, "Content-Type": "application/json"})
    payload = response.json()
    if response.status_code != 200:
        raise ApiError(response.status_code, payload.get("error", response.text))
    return payload


@dataclass
class RedRun:
    """One attack through a door: what was chosen, queries answered, seconds, verdicts, and how it ended."""

    door: str
    attack: str
    output: str
    queries: int
    seconds: float
    verdicts: dict = field(default_factory=dict)  # person -> the referees' verdict
    stopped_by: str = "finished"
    images: np.ndarray | None = None

    @property
    def recovered(self) -> int:
        """People the referees counted as recovered."""
        return sum(bool(v.get("recovered")) for v in self.verdicts.values())


def attack_door(url: str, key: str, door: str, people, prior: FacePrior | None = None, public=None,
                queries_per_person: int = 300, patience: float = 60.0, seed: int = 0, submit: bool = True,
                progress: bool = False) -> RedRun:
    """Attack these people through a door with the attack its output allows, then submit each reconstruction.

    prior: the attacker's face prior (default: eigenfaces fitted to `public`, the public photos). The budget is cut
    to what the key's quota still allows. Refusals other than rate limits (a suspension, a quota used up by
    someone else's requests) end the attack: the run says what stopped it and submits nothing.
    """
    if prior is None:
        if public is None:
            raise ValueError("Give the attacker's prior, or the public photos to fit one (public=...).")
        prior = fit_pca_prior(public)
    ids = np.asarray(people, dtype=np.int64)
    began = time.perf_counter()
    probe = open_door(url, key, door)
    outputs, limit, used = probe.you["outputs"], probe.you["rate_limit"], probe.you["used_today"]
    probe.close()
    if limit is not None:  # it knows the quota: it spends what is left of it, rather than be stopped halfway
        queries_per_person = max(1, min(queries_per_person, (int(limit["per_day"]) - int(used)) // len(ids)))
    output = strongest_output(outputs)
    attack = "black-box (prior)" if output else "label-only (prior)"
    api = open_door(url, key, door, patience=patience, output=output or ("label" if "label" in outputs else outputs[0]))
    try:
        if output:
            result = invert_prior_black_box(api, prior, ids, queries_per_person, seed=seed, progress=progress)
        else:
            # the search for a start asks 50 random faces per person at a time: leave room for one round of it
            share = min(0.8, max(0.3, 50 / queries_per_person))
            result = invert_prior_label_only(api, prior, ids, queries_per_person, seed=seed, progress=progress,
                                             search_share=share)
    except ApiError as exc:
        run = RedRun(door, attack, api.output, api.queries, time.perf_counter() - began, stopped_by=f"HTTP {exc.status}")
        api.close()
        return run
    api.close()
    run = RedRun(door, attack, api.output, api.queries, time.perf_counter() - began, images=result.images)
    if submit:
        for person, image in zip(ids, result.images):
            try:
                run.verdicts[int(person)] = submit_reconstruction(url, key, door, int(person), image)
            except ApiError as exc:
                run.verdicts[int(person)] = {"recovered": False, "error": str(exc)}
    return run

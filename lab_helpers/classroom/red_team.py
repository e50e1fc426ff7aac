"""The red team's side: look at a door, attack through it with the kit's attacks, submit what they reconstruct.

`attack_door` is what a competent red learner does, and what the service's own attacker ("house") does each round:
read what the door answers and the detector its blue team published (Kerckhoffs: the control is known, its secret
keys are not), pick the attack that output allows and that detector does not see (scores: black-box search in the
eigenface prior's space; labels only, or a blocking adaptive detector that counts scored answers about one person:
the label-only boundary attack in the same space), randomise every probe when a detector watches (so no two look
alike to a near-duplicate or probe-cloud rule), wait out rate limits while patience lasts, and submit each person's
reconstruction. It holds one key: red learners can also pool keys, so the house attacker is the floor a blue team's
policy is measured against, not the ceiling.
"""
from __future__ import annotations

import base64
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..attacks.evasion import AttackStopped, Pacing, ProbeRouter
from ..attacks.face_priors import FacePrior, fit_pca_prior
from ..attacks.with_prior import invert_prior_black_box, invert_prior_label_only
from ..defences.monitoring import BaselineDetector
from ..defences.output_policies import OUTPUT_KINDS
from ..service.client import ApiError, HttpModelAPI

# outputs whose answers can carry the person's own score, most revealing first (exact scores before noisy ones)
SCORED = tuple(k.name for k in sorted((k for k in OUTPUT_KINDS.values() if k.person_score),
                                      key=lambda k: (-k.detail, not k.exact)))
PROBE_OFFSET = 0.03  # the random offset on every 8x8 block of every probe when a detector watches (lab 06's evader)
MIN_PER_PERSON = 64  # the fewest queries per person worth attacking with (the label-only search asks 50 at a time)


def door_url(url: str, door: str) -> str:
    """The base URL of one blue team's door on the class target."""
    return f"{url.rstrip('/')}/doors/{door}"


def open_door(url: str, key: str, door: str, patience: float = 0.0, output: str | None = None) -> HttpModelAPI:
    """A client for the shared model behind this door (a `ModelAPI`-like `.query`), as your key sees it."""
    return HttpModelAPI(door_url(url, door), key, "faces", output=output, patience=patience)


def strongest_output(outputs) -> str | None:
    """The most revealing scored output a door allows your key (None: labels only, or the top label's score)."""
    return next((kind for kind in SCORED if kind in outputs), None)


def door_rules(url: str, key: str, door: str) -> dict:
    """What a door's blue team published: its policy line, its detector ('none', 'baseline', 'adaptive'), whether it blocks."""
    import httpx

    with httpx.Client(timeout=30.0, trust_env=False) as http:
        response = http.get(f"{url.rstrip('/')}/class/doors", headers={"X-API-Key": key})
    payload = response.json()
    if response.status_code != 200:
        raise ApiError(response.status_code, payload.get("error", response.text))
    if door not in payload["doors"]:
        raise ValueError(f"No door {door!r} on this class target; its doors: {', '.join(payload['doors'])}.")
    return payload["doors"][door]


@dataclass(frozen=True)
class Plan:
    """What an attacker who knows a door's rules does there: the output it asks for, the attack, and why."""

    output: str
    attack: str  # "black-box (prior)" or "label-only (prior)"
    randomise: bool  # random block offsets on every probe (against near-duplicate and probe-cloud rules)
    why: str
    scored_cap: int | None = None  # the most scored answers it lets one key receive (under the detector's default)


def plan_attack(outputs, detector: str = "none", blocks: bool = False) -> Plan:
    """The attack for a door's outputs and its published detector, staying under the detector's default thresholds."""
    scored = strongest_output(outputs)
    plain = "label" if "label" in outputs else outputs[0]
    randomise = detector != "none"
    also = "; probes randomised so none looks like another to the detector" if randomise else ""
    if scored and detector == "adaptive" and blocks and plain == "label":
        return Plan(plain, "label-only (prior)", randomise, "labels, though scores are allowed: the door's adaptive "
                    "detector counts scored answers about one person and blocks" + also)
    if scored and detector == "baseline" and blocks:
        cap = int(0.9 * BaselineDetector().max_scores_per_day)
        return Plan(scored, "black-box (prior)", randomise, f"the door's most revealing scored output ({scored}), at "
                    f"most {cap:,} scored answers: its baseline detector blocks a key with more in a day" + also, cap)
    if scored:
        return Plan(scored, "black-box (prior)", randomise, f"the door's most revealing scored output ({scored})" + also)
    return Plan(plain, "label-only (prior)", randomise, f"the door shows no score to follow ({plain})" + also)


def randomised_probes(api, seed: int = 0, offset: float = PROBE_OFFSET, batch: int = 50) -> ProbeRouter:
    """`api` (or {name: client} for several keys in turn) with a random offset on every 8x8 block of every probe.

    The door's rate limits pace it, not the router; a key refused for good is dropped and the others go on; when
    none is left, or a refusal cannot be waited out, it raises `AttackStopped`.
    """
    apis = dict(api) if isinstance(api, dict) else {"key": api}
    return ProbeRouter(apis, pacing=Pacing(batch=batch, gap_seconds=0.0, per_key_per_day=None), offset=offset,
                       seed=seed, max_refusals=2 * len(apis) - 1)


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
    why: str = ""  # why this attack and output, from what the door shows and its blue team published
    no_signal: list = field(default_factory=list)  # people not submitted: the attack got no signal for them

    @property
    def recovered(self) -> int:
        """People the referees counted as recovered."""
        return sum(bool(v.get("recovered")) for v in self.verdicts.values())


def attack_door(url: str, key: str | Sequence[str], door: str, people, prior: FacePrior | None = None, public=None,
                *, queries_per_person: int = 300, patience: float = 60.0, seed: int = 0, submit: bool = True,
                progress: bool = False, rules: dict | None = None) -> RedRun:
    """Attack these people through a door with the attack its output and detector allow, then submit each reconstruction.

    The budget is cut to what the keys' quotas still allow, and under a blocking detector's default counts per key
    (`plan_attack`). A refusal it cannot wait out (a suspension, a quota used up by someone else's requests, rate
    limits beyond its patience) ends the attack: the run says what stopped it and submits the faces it had, as a
    competent attacker would. Only people it got a signal for are submitted (`RedRun.no_signal` names the others).

    Parameters
    ----------
    url : the class target's address, e.g. http://127.0.0.1:8800.
    key : your key, or several (a red team pooling its keys: the requests go round them, the first one submits).
    door : the blue team's door to attack.
    people : the private person numbers to rebuild.
    prior : the attacker's face prior (default: eigenfaces fitted to `public`).
    public : the public photos the attacker holds (needed when no prior is given).
    queries_per_person : the budget per person, before the keys' quotas cut it.
    patience : seconds the attack may wait out rate limits (429 with Retry-After) before it stops.
    seed : fixes the attack's random choices.
    submit : send each reconstruction to the referees (False: attack only).
    progress : show progress bars.
    rules : the door's published detector (default: read from the class target's /class/doors; {} attacks as if
        nobody watched).
    """
    if prior is None:
        if public is None:
            raise ValueError("Give the attacker's prior, or the public photos to fit one (public=...).")
        prior = fit_pca_prior(public)
    keys = [key] if isinstance(key, str) else list(key)
    if not keys or len(set(keys)) != len(keys):
        raise ValueError("Give one key, or a list of different keys (a red team pooling its members' keys).")
    ids = np.asarray(people, dtype=np.int64)
    began = time.perf_counter()
    rules = door_rules(url, keys[0], door) if rules is None else rules
    left, outputs, max_batch = 0.0, None, 50
    for k in keys:
        probe = open_door(url, k, door)
        outputs, max_batch = outputs or probe.you["outputs"], int(probe.you["max_batch"])
        limit, used = probe.you["rate_limit"], probe.you["used_today"]
        left += np.inf if limit is None else max(0, int(limit["per_day"]) - int(used))
        probe.close()
    plan = plan_attack(outputs, rules.get("detector", "none"), bool(rules.get("blocks")))
    if plan.scored_cap is not None:  # the requests go round the keys evenly: each key stays under the cap
        left = min(left, plan.scored_cap * len(keys))
    # it knows the quotas: it spends what is left of them rather than be stopped halfway, on fewer people if the
    # budget is too small for all of them (an attack needs some queries per person to get anywhere)
    if np.isfinite(left):
        if left < MIN_PER_PERSON:
            return RedRun(door, plan.attack, plan.output, 0, time.perf_counter() - began, why=plan.why,
                          stopped_by=f"quota: {int(left)} queries left, fewer than {MIN_PER_PERSON} for one person")
        ids = ids[:max(1, min(len(ids), int(left) // MIN_PER_PERSON))]
        queries_per_person = min(queries_per_person, int(left) // len(ids))
    apis = {k: open_door(url, k, door, patience=patience, output=plan.output) for k in keys}
    if len(keys) == 1 and not plan.randomise:
        sender = apis[keys[0]]
    else:  # several keys in turn, and random offsets on every probe when a detector watches
        sender = randomised_probes(apis, seed, PROBE_OFFSET if plan.randomise else 0.0, max_batch)
    attack, why = plan.attack, plan.why + (f"; {len(keys)} keys in turn" if len(keys) > 1 else "")
    stop_on = (ApiError, AttackStopped)  # a refusal it could not wait out: it keeps the faces it has
    if attack.startswith("black-box"):
        result = invert_prior_black_box(sender, prior, ids, queries_per_person=queries_per_person, seed=seed, progress=progress,
                                        stop_on=stop_on)
    else:
        # the search for a start asks 50 random faces per person at a time: leave room for one round of it
        share = min(0.8, max(0.3, 50 / queries_per_person))
        result = invert_prior_label_only(sender, prior, ids, queries_per_person=queries_per_person, seed=seed, progress=progress,
                                         search_share=share, stop_on=stop_on)
    for api in apis.values():
        api.close()
    stopped_by = "finished"
    if result.stopped:
        refused = next(iter(sender.refusals), None) if isinstance(sender, ProbeRouter) else None
        stopped_by = f"HTTP {refused}" if refused is not None else " ".join(result.stopped.split()[:2]).rstrip(":")
    run = RedRun(door, attack, plan.output, sum(api.queries for api in apis.values()), time.perf_counter() - began,
                 stopped_by=stopped_by, images=result.images, why=why)
    # it submits only the people it got a signal for (a start the model named or scored as them): for the others
    # it holds the prior's average face, which says nothing about them
    chosen = [i for i in range(len(ids)) if result.signal[i]]
    run.no_signal = [int(ids[i]) for i in range(len(ids)) if not result.signal[i]]
    if submit:
        for i in chosen:
            person = int(ids[i])
            try:
                run.verdicts[person] = submit_reconstruction(url, keys[0], door, person, result.images[i])
            except ApiError as exc:
                run.verdicts[person] = {"recovered": False, "error": str(exc)}
    return run

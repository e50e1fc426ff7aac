"""An attacker who adapts to the output control: it reads what the API's answers look like, then works around it.

A defence is only as good as the strongest attack measured against it. The naive black-box attack (lab 03) was
built for exact scores; this one first looks at a few answers to learn the control, as any attacker can:
- **noise**: the same question asked twice gets two answers, so it probes with steps large enough that the change
  it measures stands above the noise (asking each probe again and averaging also works, at a multiple of the bill);
- **rounding**: every score is a multiple of 10^-d, so it probes with steps large enough to cross the rounding;
- **top-k, label + score**: most people's scores are hidden, so it first searches for an image whose answer shows
  the person (other people's reconstructions, smooth random images), then climbs from there with large probes;
- **label only**: no score at all, so it switches to the boundary attack (`invert_label_only`).
Every answer carries the label, and judged by the strict judges the boundary attack on it beats climbing coarsened
scores under every control measured (rounding, top-k, label + score, noise; docs/performance.md): so unless the
scores are exact, the adaptive attacker takes the boundary attack, and `scores_only=True` shows what the counter-move
on the scores alone gets.
Every query goes through the same query-counting `ModelAPI` (or its HTTP twin) and is counted.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..defences.output_policies import OUTPUT_KINDS
from .mi_face import N_PIXELS, Reconstructions, check_identities, invert_black_box

PROBE_REPEATS = 8  # identical questions asked to learn whether answers are noisy


@dataclass(frozen=True)
class ObservedOutput:
    """What an attacker learns about the output control from a few answers (never from the defender's config)."""

    kind: str  # probabilities, noisy, rounded, top_k, label_score, label
    shown: int  # scores shown per answer (40 = all)
    decimals: int | None = None  # rounded: the number of decimals every score has
    noise: float = 0.0  # noisy: the spread of repeated answers to the same question
    queries: int = 0  # what finding this out cost

    def describe(self) -> str:
        """In words, e.g. 'scores rounded to 2 decimals (seen in 9 answers)'."""
        if self.kind == "noisy":  # the attacker sees how far repeated answers spread, not the defender's setting
            what = f"noisy scores (spread about {self.noise:.3g})"
        else:
            what = OUTPUT_KINDS[self.kind].describe({"rounded": self.decimals, "top_k": self.shown}.get(self.kind))
        return f"{what} (seen in {self.queries} answers)"


def observe_output(api, seed: int = 0) -> ObservedOutput:
    """Ask a few questions and read the answers: are they noisy, rounded, cut to the top k, or labels only?"""
    rng = np.random.default_rng(seed)
    images = np.clip(0.5 + 0.1 * rng.standard_normal((2, N_PIXELS)), 0, 1).astype(np.float32)
    before = api.queries
    repeated = np.asarray(api.query(np.repeat(images[:1], PROBE_REPEATS, axis=0)), dtype=np.float64)
    other = np.asarray(api.query(images[1:]), dtype=np.float64)
    answers = np.vstack([repeated, other])
    spent = api.queries - before
    shown = int(np.median((answers > 0).sum(axis=1)))
    spread = float(np.std(repeated, axis=0).max())
    if spread > 1e-9:  # identical questions, different answers (float round-off aside)
        return ObservedOutput("noisy", shown, noise=spread, queries=spent)
    top = answers.max(axis=1)
    if shown == 1 and np.allclose(top, 1.0):
        return ObservedOutput("label", 1, queries=spent)
    for decimals in range(0, 7):  # every score a multiple of 10^-d: rounded (which also zeroes the small ones)
        if np.allclose(answers, np.round(answers, decimals), atol=1e-12, rtol=0):
            return ObservedOutput("rounded", shown, decimals=decimals, queries=spent)
    if shown == 1:
        return ObservedOutput("label_score", 1, queries=spent)
    if shown < answers.shape[1]:
        return ObservedOutput("top_k", shown, queries=spent)
    return ObservedOutput("probabilities", shown, queries=spent)


# The counter-move for each control: settings of the black-box attack measured on lab 03's targets (probe radius
# in units of a whole-image low-frequency direction; see docs/performance.md for the sweeps behind them). Against a
# control the image would otherwise stay faint: no pull towards grey (l2_weight 0), coarse-to-fine probes (the
# default), which by the strict judges recognise about twice as many people as before at 10,000 queries per person.
# An output kind with no entry gets UNKNOWN_SCORES when its answers carry the person's score, else the label-only attack.
UNKNOWN_SCORES = dict(sigma=32.0, repeats=1, step_size=3.0, l2_weight=0.0)
COUNTER_MOVES = {
    "probabilities": dict(sigma=0.5, repeats=1),
    "noisy": dict(sigma=64.0, repeats=1, step_size=3.0, l2_weight=0.0),  # large probes beat repeated ones (benchmark)
    "rounded": dict(sigma=32.0, repeats=1, step_size=3.0, l2_weight=0.0),
    "top_k": dict(sigma=32.0, repeats=1, step_size=3.0, l2_weight=0.0),
    "label_score": dict(sigma=128.0, repeats=1, step_size=3.0, l2_weight=0.0),
}


@dataclass
class AdaptiveReconstructions(Reconstructions):
    """The adaptive attack's reconstructions, and what it saw of the control (`strategy`: how it answered it).

    `queries` count the attack itself, per person; `shared_queries` (= `observed.queries`) the answers spent learning
    the control, shared by everyone.
    """

    observed: ObservedOutput | None = field(default=None, repr=False)


SCORES_BEAT_LABELS = ("probabilities",)  # the output kinds where climbing the scores beats the boundary attack


def invert_adaptive(api, identities=None, *, queries_per_person: int = 2_000, seed: int = 0, progress: bool = True,
                    checkpoints=(), scores_only: bool = False) -> AdaptiveReconstructions:
    """Black-box MI-FACE by an attacker who first learns the output control from answers, then works around it.

    Parameters
    ----------
    api : the model behind its API (`QueryAPI`).
    identities : person numbers to rebuild (default: all 40).
    queries_per_person : the budget, each person's share of the first look at the control included.
    seed : fixes every random choice of the attack.
    progress : show a progress bar.
    checkpoints : budgets at which to keep a snapshot of the images.
    scores_only : climb whatever scores the control leaves, with the counter-move for it, even where the boundary
        attack on the label is stronger (lab 04 runs both and keeps the stronger).
    """
    ids = check_identities(identities)
    observed = observe_output(api, seed)
    budget = queries_per_person - -(-observed.queries // len(ids))  # each person's share of the observation comes off
    no_scores = not OUTPUT_KINDS[observed.kind].person_score and observed.kind not in COUNTER_MOVES
    if no_scores or (observed.kind not in SCORES_BEAT_LABELS and not scores_only):
        from .label_only import invert_label_only

        rec = invert_label_only(api, ids, queries_per_person=budget, seed=seed, progress=progress,
                                checkpoints=checkpoints)
        strategy = ("labels only" if no_scores else "the label every answer carries (it beats climbing these scores)")
        strategy += ": boundary attack (BREP-MI style) from a start the model labels as the person"
    else:
        move = COUNTER_MOVES.get(observed.kind, UNKNOWN_SCORES)
        rec = invert_black_box(api, ids, queries_per_person=budget, seed=seed, progress=progress,
                               checkpoints=checkpoints, find_signal=True, **move)
        strategy = (f"{observed.kind}: probe radius {move['sigma']:g}"
                    + (f", every probe asked {move['repeats']} times and averaged" if move["repeats"] > 1 else "")
                    + ", search for a start that shows each hidden person")
    return AdaptiveReconstructions(rec.images, rec.identities, rec.seconds, rec.queries, rec.signal, rec.snapshots,
                                   rec.stopped, "adaptive", f"saw {observed.describe()}; {strategy}", observed.queries,
                                   observed=observed)

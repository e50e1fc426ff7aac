"""Output policies: small functions of a probability matrix that decide how much of it a caller sees.

Withheld scores are returned as 0, so every policy's answer has the same shape as the full answer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np



def _as_matrix(p: np.ndarray) -> np.ndarray:
    """Probabilities as a float (n, classes) matrix."""
    p = np.asarray(p, dtype=np.float64)
    return p[None, :] if p.ndim == 1 else p


def round_scores(p: np.ndarray, decimals: int) -> np.ndarray:
    """Every score rounded to a number of decimals (Fredrikson et al. 2015's countermeasure)."""
    if not isinstance(decimals, (int, np.integer)) or decimals < 0:
        raise ValueError(f"The rounding level must be a whole number of decimals, 0 or more (got {decimals!r}). "
                         "Use decimals=2 for scores like 0.37, or the 'label' policy to hide scores entirely.")
    return np.round(_as_matrix(p), int(decimals))


def top_k_scores(p: np.ndarray, k: int) -> np.ndarray:
    """Only the k highest scores of each row; the rest withheld (0). A k above the number of classes shows all."""
    p = _as_matrix(p)
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a whole number of scores to show, 1 or more (got {k!r}); k=1 is label plus score.")
    keep = np.argsort(-p, axis=1, kind="stable")[:, :k]
    out = np.zeros_like(p)
    np.put_along_axis(out, keep, np.take_along_axis(p, keep, axis=1), axis=1)
    return out


def label_and_score(p: np.ndarray) -> np.ndarray:
    """Only the top label and its score."""
    return top_k_scores(p, 1)


def label_only(p: np.ndarray) -> np.ndarray:
    """Only the top label, as a one-hot row (no score at all)."""
    p = _as_matrix(p)
    out = np.zeros_like(p)
    out[np.arange(len(p)), p.argmax(axis=1)] = 1.0
    return out


def add_noise(p: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Scores with Laplace noise added, clipped at 0 and renormalised to sum to 1."""
    if not np.isfinite(scale) or scale < 0:
        raise ValueError(f"The noise scale must be 0 or more (got {scale!r}); try 0.01 to 0.2.")
    noisy = np.clip(_as_matrix(p) + rng.laplace(0.0, scale, size=np.shape(_as_matrix(p))), 0.0, None)
    sums = noisy.sum(axis=1, keepdims=True)
    noisy[sums[:, 0] == 0] = 1.0
    return noisy / noisy.sum(axis=1, keepdims=True)


def _plural(n, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class OutputKind:
    """Everything the kit knows about one kind of output, in one place: the panel, the release gate, the adaptive
    attacker, the red team, the exam and the service all read it. A new kind is one record here plus its function.

    Parameters
    ----------
    name : the kind's spelling everywhere (`OutputPolicy(name)`, `--output name:VALUE`, policy files).
    label : the control panel's button.
    apply : (probabilities, parameter value or None, rng) -> what the caller sees, same shape (withheld scores 0).
    describe : parameter value or None -> a short description, e.g. 'scores rounded to 2 decimals'.
    parameter : the `OutputPolicy` field holding the kind's one setting (None: the kind has none).
    knob : the panel slider's label for that setting.
    example : a value for error messages and the command line's help, e.g. '2' for rounded:2.
    detail : how much an answer tells, from 0 (the label) to 4 (every exact score): the release gate's rank.
    more_when_larger : within the kind, does a larger setting tell more (decimals, k) or less (noise scale)?
    person_score : can an answer carry any person's own score (the score attacks need), not only the top label's?
    every_score : does every answer list every class's score (a zero is a real score, not a withheld one)?
    exact : are the scores shown the model's own (rounded at most), not changed at random?
    scores_shown : parameter value or None -> how many scores one answer shows (None: all of them).
    knob_text : parameter value -> the setting in a few words, as the panel's slider reads it ('4 decimals').
    """

    name: str
    label: str
    apply: Callable
    describe: Callable
    parameter: str | None = None
    knob: str = ""
    example: str = ""
    detail: int = 0
    more_when_larger: bool = True
    person_score: bool = False
    every_score: bool = False
    exact: bool = True
    scores_shown: Callable = lambda value: None
    knob_text: Callable = lambda value: str(value)


# From most to least detail; the order is the panel's and the red team's order of preference.
OUTPUT_KINDS: dict[str, OutputKind] = {kind.name: kind for kind in (
    OutputKind("probabilities", "full probabilities", lambda p, v, rng: _as_matrix(p).copy(),
               lambda v: "full probabilities", detail=4, person_score=True, every_score=True),
    OutputKind("noisy", "noise", lambda p, v, rng: add_noise(p, v, rng),
               lambda v: f"scores with Laplace noise (scale {v})", "noise_scale", "noise scale", "0.01", detail=2,
               more_when_larger=False, person_score=True, every_score=True, exact=False,
               knob_text=lambda v: f"noise scale {v}"),
    OutputKind("rounded", "rounded", lambda p, v, rng: round_scores(p, v),
               lambda v: f"scores rounded to {_plural(v, 'decimal')}", "decimals", "decimals", "2", detail=3,
               person_score=True, every_score=True, knob_text=lambda v: _plural(v, "decimal")),
    OutputKind("top_k", "top-k", lambda p, v, rng: top_k_scores(p, v), lambda v: f"top {v} scores only", "k", "k",
               "3", detail=2, person_score=True, scores_shown=lambda v: v, knob_text=lambda v: f"top {v}"),
    OutputKind("label_score", "label + score", lambda p, v, rng: label_and_score(p),
               lambda v: "top label and its score", detail=1, scores_shown=lambda v: 1),
    OutputKind("label", "label only", lambda p, v, rng: label_only(p), lambda v: "label only",
               scores_shown=lambda v: 0),
)}
POLICIES = tuple(OUTPUT_KINDS)  # every kind's name
POLICY_SPELLINGS = ", ".join(k.name + (f":{k.parameter.split('_')[-1].upper()}" if k.parameter else "")
                             for k in OUTPUT_KINDS.values())


def output_kind(name: str) -> OutputKind:
    """The record of one output kind, or a clear error listing the valid ones."""
    if name not in OUTPUT_KINDS:
        raise ValueError(f"Unknown output policy {name!r}. Valid policies: {', '.join(OUTPUT_KINDS)}.")
    return OUTPUT_KINDS[name]


@dataclass(frozen=True)
class OutputPolicy:
    """How much of the model's answer a caller sees: an output kind (`OUTPUT_KINDS`) and its one parameter."""

    kind: str = "probabilities"
    decimals: int = 2
    k: int = 3
    noise_scale: float = 0.05

    def __post_init__(self):
        record = output_kind(self.kind)
        if record.parameter:  # the kind's own function validates its setting, with a message that says how
            record.apply(np.full((1, 2), 0.5), self.value, np.random.default_rng(0))

    @property
    def record(self) -> OutputKind:
        """This policy's kind: its label, detail rank, what its answers show."""
        return OUTPUT_KINDS[self.kind]

    @property
    def value(self):
        """The kind's one setting (decimals, k or noise scale), or None for a kind without one."""
        return getattr(self, self.record.parameter) if self.record.parameter else None

    @property
    def shows_scores(self) -> bool:
        """Does an answer carry any score at all (not the label alone)?"""
        return self.record.scores_shown(self.value) != 0

    def apply(self, p: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """What a caller under this policy sees of the probability matrix p."""
        return self.record.apply(p, self.value, rng if rng is not None else np.random.default_rng(0))

    def describe(self) -> str:
        """A short human description, e.g. 'scores rounded to 2 decimals'."""
        return self.record.describe(self.value)

    def spelling(self) -> str:
        """The policy as the command line and policy files spell it, e.g. 'rounded:2'."""
        return self.kind + (f":{self.value}" if self.record.parameter else "")

    def tells_more_than(self, other: "OutputPolicy") -> bool:
        """Does this policy tell callers more than `other` (a higher detail rank, or the same kind set looser)?"""
        if self.kind == other.kind and self.record.parameter:
            return self.value > other.value if self.record.more_when_larger else self.value < other.value
        return self.record.detail > other.record.detail


def parse_policy(spec: str) -> OutputPolicy:
    """'rounded:2' -> OutputPolicy('rounded', decimals=2): the policies' own spelling, as the command line takes it."""
    kind, _, value = str(spec).strip().partition(":")
    if kind not in OUTPUT_KINDS:
        raise ValueError(f"Unknown output policy {spec!r}. Valid: {POLICY_SPELLINGS}.")
    record = OUTPUT_KINDS[kind]
    if not record.parameter:
        if value:
            raise ValueError(f"{kind} takes no value (got {spec!r}). Valid: {POLICY_SPELLINGS}.")
        return OutputPolicy(kind)
    if not value:
        raise ValueError(f"{kind} needs a value, e.g. {kind}:{record.example}. Valid: {POLICY_SPELLINGS}.")
    whole = isinstance(OutputPolicy.__dataclass_fields__[record.parameter].default, int)
    try:
        number = int(value) if whole else float(value)
    except ValueError:
        raise ValueError(f"{spec!r}: {value!r} is not a {'whole number' if whole else 'number'}. "
                         f"Valid: {POLICY_SPELLINGS}.") from None
    return OutputPolicy(kind, **{record.parameter: number})


# Per-role output: a trusted internal role may see probabilities; the public sees labels only.
ROLE_POLICIES = {"internal": OutputPolicy("probabilities"), "analyst": OutputPolicy("rounded", decimals=2),
                 "public": OutputPolicy("label")}


def policy_for_role(role: str, policies: dict | None = None) -> OutputPolicy:
    """The output policy a caller with this role gets, or a clear error naming the roles."""
    policies = ROLE_POLICIES if policies is None else policies
    if role not in policies:
        raise ValueError(f"Unknown role {role!r}. Roles: {', '.join(policies)}.")
    return policies[role]

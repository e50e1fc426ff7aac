"""Output policies: small functions of a probability matrix that decide how much of it a caller sees.

Withheld scores are returned as 0, so every policy's answer has the same shape as the full answer.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

POLICIES = ("probabilities", "rounded", "top_k", "label_score", "label", "noisy")


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


@dataclass(frozen=True)
class OutputPolicy:
    """How much of the model's answer a caller sees: a policy name and its one parameter."""

    kind: str = "probabilities"
    decimals: int = 2
    k: int = 3
    noise_scale: float = 0.05

    def __post_init__(self):
        if self.kind not in POLICIES:
            raise ValueError(f"Unknown output policy {self.kind!r}. Valid policies: {', '.join(POLICIES)}.")
        if self.kind == "rounded":
            round_scores(np.zeros((1, 2)), self.decimals)  # validates the level
        if self.kind == "top_k":
            top_k_scores(np.zeros((1, 2)), self.k)  # validates k
        if self.kind == "noisy" and (not np.isfinite(self.noise_scale) or self.noise_scale < 0):
            raise ValueError(f"The noise scale must be 0 or more (got {self.noise_scale!r}).")

    def apply(self, p: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """What a caller under this policy sees of the probability matrix p."""
        if self.kind == "probabilities":
            return _as_matrix(p).copy()
        if self.kind == "rounded":
            return round_scores(p, self.decimals)
        if self.kind == "top_k":
            return top_k_scores(p, self.k)
        if self.kind == "label_score":
            return label_and_score(p)
        if self.kind == "label":
            return label_only(p)
        return add_noise(p, self.noise_scale, rng if rng is not None else np.random.default_rng(0))

    def describe(self) -> str:
        """A short human description, e.g. 'scores rounded to 2 decimals'."""
        return {"probabilities": "full probabilities", "rounded": f"scores rounded to {self.decimals} decimal{'' if self.decimals == 1 else 's'}",
                "top_k": f"top {self.k} scores only", "label_score": "top label and its score",
                "label": "label only", "noisy": f"scores with Laplace noise (scale {self.noise_scale})"}[self.kind]


POLICY_SPELLINGS = "probabilities, noisy:SCALE, rounded:DECIMALS, top_k:K, label_score, label"


def parse_policy(spec: str) -> OutputPolicy:
    """'rounded:2' -> OutputPolicy('rounded', decimals=2): the policies' own spelling, as the command line takes it."""
    kind, _, value = str(spec).strip().partition(":")
    needs = {"noisy": "noise_scale", "rounded": "decimals", "top_k": "k"}
    if kind not in POLICIES:
        raise ValueError(f"Unknown output policy {spec!r}. Valid: {POLICY_SPELLINGS}.")
    if kind not in needs:
        if value:
            raise ValueError(f"{kind} takes no value (got {spec!r}). Valid: {POLICY_SPELLINGS}.")
        return OutputPolicy(kind)
    if not value:
        raise ValueError(f"{kind} needs a value, e.g. {kind}:{ {'noisy': '0.01', 'rounded': '2', 'top_k': '3'}[kind] }. "
                         f"Valid: {POLICY_SPELLINGS}.")
    try:
        number = float(value) if kind == "noisy" else int(value)
    except ValueError:
        raise ValueError(f"{spec!r}: {value!r} is not a {'number' if kind == 'noisy' else 'whole number'}. "
                         f"Valid: {POLICY_SPELLINGS}.") from None
    return OutputPolicy(kind, **{needs[kind]: number})


# Per-role output: a trusted internal role may see probabilities; the public sees labels only.
ROLE_POLICIES = {"internal": OutputPolicy("probabilities"), "analyst": OutputPolicy("rounded", decimals=2),
                 "public": OutputPolicy("label")}


def policy_for_role(role: str, policies: dict | None = None) -> OutputPolicy:
    """The output policy a caller with this role gets, or a clear error naming the roles."""
    policies = ROLE_POLICIES if policies is None else policies
    if role not in policies:
        raise ValueError(f"Unknown role {role!r}. Roles: {', '.join(policies)}.")
    return policies[role]

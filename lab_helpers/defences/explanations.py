"""Explanations as an output: what a service that explains its answers hands a caller, and the controls on it.

An explanation of a face classifier's answer is a map over the pixels: how much each pixel pushed the score of one
class. The kit computes them with Captum (PyTorch's interpretability library), never by hand:

- `gradient`: the signed gradient of the class's log-probability (Captum `Saliency(abs=False)`);
- `saliency`: its absolute value, the usual heat map (Captum `Saliency`);
- `integrated_gradients`: Captum `IntegratedGradients` from a black image, 16 steps (signed);
- `smoothgrad`: Captum `NoiseTunnel` over `Saliency`, 8 noisy copies (absolute values).

An `ExplanationPolicy` says which method, for which class (`top`: the answer's own class only; `any`: the class the
caller names) and which controls apply to the map before it leaves: `coarse:B` (averaged over BxB-pixel blocks),
`top_pixels:K` (only the K largest values, the rest 0), `noisy:S` (Gaussian noise of S times the map's own spread),
`normalised` (every map scaled to the same size, so its size says nothing about how sure the model was).
A signed map of any class is the white-box attacker's gradient: `lab_helpers.attacks.invert_with_explanations`
measures what each setting hands over.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EXPLANATION_METHODS = {  # name -> (what it is, signed?)
    "gradient": ("signed gradient of the class's log-probability (Captum Saliency, abs=False)", True),
    "saliency": ("heat map: absolute gradient (Captum Saliency)", False),
    "integrated_gradients": ("integrated gradients from a black image, 16 steps (Captum IntegratedGradients)", True),
    "smoothgrad": ("SmoothGrad heat map: absolute gradients of 8 noisy copies (Captum NoiseTunnel)", False),
}
SCOPES = ("top", "any")  # explain the answer's own class only, or any class the caller names
CONTROLS = ("coarse", "top_pixels", "noisy")
SPELLING = ("METHOD[:any][+coarse:B][+top_pixels:K][+noisy:S][+normalised], METHOD one of "
            + ", ".join(EXPLANATION_METHODS) + "; e.g. gradient:any, saliency, gradient:any+coarse:8, saliency+normalised")
SIDE = 64


@dataclass(frozen=True)
class ExplanationPolicy:
    """What an explanation shows: a method, a class scope and the controls applied to the map.

    Parameters
    ----------
    method : 'gradient', 'saliency', 'integrated_gradients' or 'smoothgrad' (`EXPLANATION_METHODS`).
    scope : 'top' (only the answer's own class is explained) or 'any' (the class the caller names).
    coarse : average the map over blocks of this many pixels a side (a divisor of 64), or None.
    top_pixels : keep only this many largest values (by size), the rest 0, or None.
    noisy : add Gaussian noise of this many times the map's own standard deviation, or None.
    normalised : scale every map so its largest value is 1 (its size no longer tells how sure the model was).
    """

    method: str = "saliency"
    scope: str = "top"
    coarse: int | None = None
    top_pixels: int | None = None
    noisy: float | None = None
    normalised: bool = False

    def __post_init__(self):
        if self.method not in EXPLANATION_METHODS:
            raise ValueError(f"Unknown explanation method {self.method!r}. Valid: {', '.join(EXPLANATION_METHODS)}.")
        if self.scope not in SCOPES:
            raise ValueError(f"Unknown explanation scope {self.scope!r}: 'top' (the answer's class) or 'any'.")
        if self.coarse is not None and (not isinstance(self.coarse, int) or self.coarse < 1 or SIDE % self.coarse):
            raise ValueError(f"coarse must be a block size that divides 64 (1, 2, 4, 8, 16, 32; got {self.coarse!r}).")
        if self.top_pixels is not None and (not isinstance(self.top_pixels, int) or not 1 <= self.top_pixels <= SIDE ** 2):
            raise ValueError(f"top_pixels must be a whole number from 1 to 4096 (got {self.top_pixels!r}).")
        if self.noisy is not None and (not np.isfinite(self.noisy) or self.noisy < 0):
            raise ValueError(f"noisy must be 0 or more times the map's spread (got {self.noisy!r}); try 1.")

    @property
    def signed(self) -> bool:
        """Does the map say in which direction each pixel pushes (not only how much)?"""
        return EXPLANATION_METHODS[self.method][1]

    def spelling(self) -> str:
        """As the command line spells it, e.g. 'gradient:any+coarse:8'."""
        text = self.method + (":any" if self.scope == "any" else "")
        for name in CONTROLS:
            if getattr(self, name) is not None:
                text += f"+{name}:{getattr(self, name):g}"
        return text + ("+normalised" if self.normalised else "")

    def describe(self) -> str:
        """A short human description."""
        whose = "any class the caller names" if self.scope == "any" else "the answer's own class only"
        controls = [f"averaged over {self.coarse}x{self.coarse}-pixel blocks" if self.coarse else "",
                    f"only the {self.top_pixels:,} largest values" if self.top_pixels else "",
                    f"noise of {self.noisy:g}x the map's spread" if self.noisy is not None else "",
                    "scaled to the same size" if self.normalised else ""]
        extra = "; ".join(c for c in controls if c)
        return f"{EXPLANATION_METHODS[self.method][0]}, for {whose}" + (f"; {extra}" if extra else "")


def parse_explanation(spec: str | ExplanationPolicy) -> ExplanationPolicy:
    """'gradient:any+coarse:8' -> ExplanationPolicy('gradient', 'any', coarse=8); bad values name the valid ones."""
    if isinstance(spec, ExplanationPolicy):
        return spec
    parts = str(spec).strip().split("+")
    method, _, scope = parts[0].partition(":")
    if method not in EXPLANATION_METHODS or scope not in ("", *SCOPES):
        raise ValueError(f"Unknown explanation {spec!r}. Valid: {SPELLING}.")
    settings = {}
    for part in parts[1:]:
        if part == "normalised":
            settings["normalised"] = True
            continue
        name, _, value = part.partition(":")
        if name not in CONTROLS or not value:
            raise ValueError(f"Unknown explanation control {part!r} in {spec!r}. Valid: {SPELLING}.")
        try:
            settings[name] = float(value) if name == "noisy" else int(value)
        except ValueError:
            raise ValueError(f"{part!r}: {value!r} is not a {'number' if name == 'noisy' else 'whole number'}. "
                             f"Valid: {SPELLING}.") from None
    return ExplanationPolicy(method, scope or "top", **settings)


# ---------------------------------------------------------------- the controls on a map

def coarse_map(maps: np.ndarray, block: int) -> np.ndarray:
    """Each map averaged over block x block pixels (the same value across each block)."""
    m = np.asarray(maps, dtype=np.float32).reshape(-1, SIDE // block, block, SIDE // block, block)
    means = m.mean(axis=(2, 4), keepdims=True)
    return np.broadcast_to(means, m.shape).reshape(len(m), SIDE * SIDE).copy()


def top_pixels_map(maps: np.ndarray, k: int) -> np.ndarray:
    """Only the k largest values of each map (by size, sign kept); the rest 0."""
    m = np.asarray(maps, dtype=np.float32).reshape(len(maps), -1)
    keep = np.argpartition(-np.abs(m), k - 1, axis=1)[:, :k]
    out = np.zeros_like(m)
    np.put_along_axis(out, keep, np.take_along_axis(m, keep, axis=1), axis=1)
    return out


def noisy_map(maps: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Each map plus Gaussian noise of `scale` times its own standard deviation."""
    m = np.asarray(maps, dtype=np.float32).reshape(len(maps), -1)
    return m + scale * m.std(axis=1, keepdims=True) * rng.standard_normal(m.shape).astype(np.float32)


def apply_controls(maps: np.ndarray, policy: ExplanationPolicy, rng: np.random.Generator) -> np.ndarray:
    """The policy's controls, in order: blocks, then the largest values, then noise, then one size for every map."""
    out = np.asarray(maps, dtype=np.float32).reshape(len(maps), -1)
    if policy.coarse:
        out = coarse_map(out, policy.coarse)
    if policy.top_pixels:
        out = top_pixels_map(out, policy.top_pixels)
    if policy.noisy:
        out = noisy_map(out, policy.noisy, rng)
    if policy.normalised:
        size = np.abs(out).max(axis=1, keepdims=True)
        out = np.where(size > 0, out / np.where(size > 0, size, 1.0), out)
    return out


# ---------------------------------------------------------------- computing maps with Captum

def raw_maps(net, images: np.ndarray, classes: np.ndarray, method: str) -> np.ndarray:
    """Captum's explanation of each image's score for one class each: (n, 4096) float32, before any control."""
    import torch
    import torch.nn.functional as F
    from captum.attr import IntegratedGradients, NoiseTunnel, Saliency

    def log_probabilities(x):
        return F.log_softmax(net(x), dim=1)

    x = torch.as_tensor(np.asarray(images, dtype=np.float32).reshape(-1, SIDE * SIDE)).requires_grad_(True)
    target = torch.as_tensor(np.asarray(classes, dtype=np.int64).reshape(-1))
    frozen = [p for p in net.parameters() if p.requires_grad]
    for p in frozen:  # gradients for the image only
        p.requires_grad_(False)
    try:
        if method == "gradient":
            maps = Saliency(log_probabilities).attribute(x, target=target, abs=False)
        elif method == "saliency":
            maps = Saliency(log_probabilities).attribute(x, target=target, abs=True)
        elif method == "integrated_gradients":
            maps = IntegratedGradients(log_probabilities).attribute(x, baselines=torch.zeros_like(x), target=target,
                                                                     n_steps=16)
        elif method == "smoothgrad":
            maps = NoiseTunnel(Saliency(log_probabilities)).attribute(x, target=target, nt_type="smoothgrad",
                                                                      nt_samples=8, stdevs=0.1, abs=True)
        else:
            raise ValueError(f"Unknown explanation method {method!r}. Valid: {', '.join(EXPLANATION_METHODS)}.")
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return maps.detach().numpy().astype(np.float32)


def explanation_utility(net, images: np.ndarray, policy: ExplanationPolicy | str, seed: int = 0) -> float:
    """How well a controlled map still explains: mean Spearman rank correlation with the uncontrolled map (1 = same).

    Each image's answer (its top class) is explained, as a user asking "why this answer?" would see it.
    """
    import torch
    from scipy.stats import spearmanr

    policy = parse_explanation(policy)
    with torch.no_grad():
        top = net(torch.as_tensor(np.asarray(images, dtype=np.float32).reshape(-1, SIDE * SIDE))).argmax(1).numpy()
    full = raw_maps(net, images, top, policy.method)
    shown = apply_controls(full, policy, np.random.default_rng(seed))
    return float(np.mean([spearmanr(a, b).statistic if np.ptp(a) > 0 else 0.0 for a, b in zip(shown, full)]))

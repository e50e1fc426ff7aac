"""Figures with titles and axis labels a learner can read on a projector."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def show_face_grid(images: np.ndarray, titles: list[str] | None = None, ncols: int = 10,
                   title: str = "", size: float = 1.3) -> plt.Figure:
    """A grid of grey-scale faces, one optional caption under each."""
    images = np.asarray(images)
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise ValueError(f"Rows of {images.shape[1]} pixels are not square images: pass images shaped (n, 64, 64).")
        images = images.reshape(len(images), side, side)
    if images.ndim != 3:
        raise ValueError(f"Expected images shaped (n, height, width), got {images.shape}.")
    nrows = int(np.ceil(len(images) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * 1.2), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, (ax, img) in enumerate(zip(axes.ravel(), images)):
        ax.imshow(img, cmap="gray", vmin=0, vmax=1)
        if titles is not None:
            ax.set_title(titles[i], fontsize=10)
    if title:
        fig.suptitle(title, fontsize=14)
    fig.tight_layout()
    return fig


def plot_scores(probabilities: np.ndarray, title: str, highlight: int | None = None) -> plt.Figure:
    """Bar chart of one answer's confidence score for every identity."""
    p = np.asarray(probabilities, dtype=float).ravel()
    fig, ax = plt.subplots(figsize=(10, 3.2))
    colours = ["#b3261e" if i == highlight else "#4a6fa5" for i in range(len(p))]
    ax.bar(np.arange(len(p)), p, color=colours)
    ax.set_xlabel("identity (person number)", fontsize=12)
    ax.set_ylabel("confidence score", fontsize=12)
    ax.set_title(title, fontsize=13)
    ax.set_xlim(-1, len(p))
    fig.tight_layout()
    return fig

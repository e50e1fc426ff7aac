"""Figures with titles and axis labels a learner can read on a projector."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..data.face_photos import FLAT

NO_SIGNAL = "no signal"
FAINT_COLOUR = "#8a4b00"  # the caption of an image under a few grey levels (6.5:1 on white; the word says it too)
PROJECTOR_WIDTH_PX = 1240  # a 1280 x 720 projector, less the page's margins: a dashboard figure fits in this
PROJECTOR_MIN_PT = 12  # no title, label or caption on a dashboard smaller than this


# Alt text. JupyterLab draws a figure's PNG as an <img> with no alt attribute, so a screen reader says "image". Each
# figure function below describes its figure in words (the data it shows, not only its title) with `describe`; in a
# notebook the figure is then also sent as HTML, an <img> carrying that text as its alt attribute, which JupyterLab
# prefers to the bare PNG (other front ends still get the PNG). Nothing is registered until a kit figure is drawn.
_ALT_INSTALLED = False


def describe(fig: plt.Figure, text: str) -> plt.Figure:
    """Give a kit figure its alt text (what it shows, in words) and return it."""
    fig._lab_alt = " ".join(str(text).split())
    _install_alt_html()
    return fig


def alt_text(fig: plt.Figure) -> str | None:
    """A figure's alt text (None: not one of the kit's figures)."""
    return getattr(fig, "_lab_alt", None)


def figure_html(fig: plt.Figure) -> str | None:
    """The figure as an HTML <img> with its alt text (None for a figure without one: it stays a plain PNG)."""
    import base64
    import html

    alt = alt_text(fig)
    if alt is None:
        return None
    png = base64.b64encode(_png_once(fig)).decode("ascii")
    return (f'<img src="data:image/png;base64,{png}" alt="{html.escape(alt, quote=True)}" '
            f'title="{html.escape(alt[:200], quote=True)}" style="max-width:100%;height:auto" class="lab-figure">')


def _png_once(fig: plt.Figure) -> bytes:
    """The figure's PNG, drawn once for both forms a notebook gets (the HTML <img> and the plain PNG): the first
    caller draws it and leaves it on the figure, the second takes it."""
    from IPython.core.pylabtools import print_figure

    if "_lab_png" in fig.__dict__:
        return fig.__dict__.pop("_lab_png")
    fig._lab_png = print_figure(fig, "png", bbox_inches="tight")
    return fig._lab_png


def _figure_png(fig: plt.Figure) -> bytes | None:
    """The PNG form of a kit figure (drawn once with its HTML form); None hands any other figure to IPython's own."""
    return _png_once(fig) if alt_text(fig) is not None else None


def _install_alt_html() -> None:
    """Register figure_html as the HTML form of matplotlib figures in a running IPython kernel (once)."""
    global _ALT_INSTALLED
    if _ALT_INSTALLED:
        return
    try:
        from IPython import get_ipython
    except ImportError:  # no IPython: the figure is only saved or shown by matplotlib
        return
    shell = get_ipython()
    if shell is None:
        return
    formatters = shell.display_formatter.formatters
    formatters["text/html"].for_type(plt.Figure, figure_html)
    inline_png = formatters["image/png"].lookup_by_type(plt.Figure) if plt.Figure in formatters["image/png"] else None
    if inline_png is not None:  # the inline backend's PNG: kept for other figures, drawn once for the kit's

        def png(fig):
            return _figure_png(fig) if alt_text(fig) is not None else inline_png(fig)

        formatters["image/png"].for_type(plt.Figure, png)
    _ALT_INSTALLED = True


def _pct(x: float) -> str:
    return f"{100 * float(x):.0f} %"


def flat_images(images: np.ndarray) -> np.ndarray:
    """One bool per image: True where the image is flat (its pixels span less than FLAT), i.e. it never moved."""
    flat = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    return np.ptp(flat, axis=1) < FLAT


def amplification_captions(images: np.ndarray) -> list[str]:
    """What each image's caption must say when it is drawn contrast-stretched: 'no signal' for an image that never
    moved, else the stretch, e.g. '×3.7' — and 'faint, ×260' for one under a few grey levels as the attack returned it,
    which looks uniform grey until it is stretched that much."""
    from ..data.face_photos import FAINT_GREY_LEVELS, contrast_grey_levels

    x = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    flat, levels = flat_images(x), contrast_grey_levels(x)
    span = np.maximum(np.ptp(x, axis=1), FLAT)
    captions = []
    for is_flat, grey, stretch in zip(flat, levels, 1.0 / span):
        if is_flat:
            captions.append(NO_SIGNAL)
        else:
            factor = f"×{stretch:,.0f}" if stretch >= 10 else f"×{stretch:.1f}"
            captions.append(f"faint, {factor}" if grey < FAINT_GREY_LEVELS else factor)
    return captions


def caption_colour(caption: str) -> str:
    """Black for an ordinary stretch, red for no signal, brown for a faint image (the words say it too)."""
    return "#b3261e" if caption == NO_SIGNAL else FAINT_COLOUR if caption.startswith("faint") else "black"


STRETCH_NOTE = "contrast stretched for display by the factor under each image; faint: under 4 grey levels as returned"


def stretch_for_display(images: np.ndarray) -> np.ndarray:
    """Stretch each image's contrast to [0, 1] for the eye; a flat image keeps the grey it is (no invented contrast)."""
    x = np.asarray(images, dtype=np.float32)
    flat = x.reshape(len(x), -1)
    lo, span = flat.min(axis=1, keepdims=True), np.ptp(flat, axis=1, keepdims=True)
    stretched = np.where(span < FLAT, np.clip(flat, 0, 1), (flat - lo) / np.maximum(span, FLAT))
    return stretched.reshape(x.shape)


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
    named = f", captioned {titles[0]} to {titles[len(images) - 1]}" if titles is not None and len(images) else ""
    return describe(fig, f"{title + ': ' if title else ''}a grid of {len(images)} grey-scale face photos{named}.")


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
    top = int(np.argmax(p))
    marked = f" Person {highlight} (the photo's, marked) scores {_pct(p[highlight])}." if highlight is not None else ""
    return describe(fig, f"Bar chart, {title}: one bar per person, {len(p)} bars. The tallest is person {top} at "
                         f"{_pct(p[top])}; {int((p > 0.01).sum())} people score above 1 %.{marked}")


# ---------------------------------------------------------------- labs 01-02: tabular data

MEMBER_COLOUR, NONMEMBER_COLOUR = "#b3261e", "#4a6fa5"


def plot_confidence_histograms(confidences: dict[str, tuple[np.ndarray, np.ndarray]]) -> plt.Figure:
    """One panel per model: how sure it is of the true class, for training members vs non-members."""
    fig, axes = plt.subplots(1, len(confidences), figsize=(6 * len(confidences), 4), squeeze=False, sharey=True)
    bins = np.linspace(0, 1, 21)
    for ax, (name, (members, nonmembers)) in zip(axes[0], confidences.items()):
        ax.hist(members, bins=bins, alpha=0.6, color=MEMBER_COLOUR, label=f"training members ({len(members)})")
        ax.hist(nonmembers, bins=bins, alpha=0.6, color=NONMEMBER_COLOUR, label=f"non-members ({len(nonmembers)})")
        ax.set_title(f"{name} model", fontsize=14)
        ax.set_xlabel("confidence in the true class", fontsize=12)
        ax.legend(fontsize=11, loc="upper left")
    axes[0][0].set_ylabel("number of people", fontsize=12)
    fig.suptitle("Members vs non-members: how sure is the model?", fontsize=15)
    fig.tight_layout()
    parts = [f"{name} model: members' mean confidence {np.mean(m):.2f}, {np.mean(np.asarray(m) >= 0.9):.0%} of them at "
             f"0.9 or more; non-members' mean {np.mean(n):.2f}, {np.mean(np.asarray(n) >= 0.9):.0%} at 0.9 or more"
             for name, (m, n) in confidences.items()]
    return describe(fig, "Histograms of the model's confidence in the true class, training members against "
                         "non-members. " + "; ".join(parts) + ".")


def plot_leaf_size_sweep(sweep, chosen: int | None = None) -> plt.Figure:
    """Generalisation gap and membership advantage against leaf size (regularisation strength)."""
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.plot(sweep["min_samples_leaf"], sweep["gap"], "o-", lw=2, color=NONMEMBER_COLOUR,
            label="generalisation gap (train − test accuracy)")
    ax.plot(sweep["min_samples_leaf"], sweep["advantage"], "s-", lw=2, color=MEMBER_COLOUR,
            label="membership advantage (TPR − FPR)")
    if chosen is not None:
        ax.axvline(chosen, color="grey", ls="--", label=f"leaf size {chosen}")
    ax.set_xscale("log")
    ax.set_xticks(list(sweep["min_samples_leaf"]), [str(v) for v in sweep["min_samples_leaf"]])
    ax.set_ylim(0, max(0.05, float(np.nanmax([sweep["gap"].max(), sweep["advantage"].max()]))) * 1.1)
    ax.set_xlabel("min_samples_leaf (larger = more regularised)", fontsize=12)
    ax.set_ylabel("gap / advantage (0 to 1)", fontsize=12)
    ax.set_title("Regularisation shrinks the gap and the membership leak together", fontsize=14)
    ax.legend(fontsize=11)
    fig.tight_layout()
    leaf, gap, adv = list(sweep["min_samples_leaf"]), list(sweep["gap"]), list(sweep["advantage"])
    return describe(fig, f"Line chart against leaf size, {leaf[0]} to {leaf[-1]}: the generalisation gap goes from "
                         f"{gap[0]:.2f} to {gap[-1]:.2f} and the membership advantage from {adv[0]:.2f} to {adv[-1]:.2f}."
                         + (f" A dashed line marks leaf size {chosen}." if chosen is not None else ""))


def plot_sensitivity(table, highlight: str | None = None) -> plt.Figure:
    """Horizontal bars: the mean probability shift that changing each attribute causes."""
    table = table.sort_values("mean_shift")
    fig, ax = plt.subplots(figsize=(9, 0.38 * len(table) + 1.4))
    colours = [MEMBER_COLOUR if a == highlight else NONMEMBER_COLOUR for a in table["attribute"]]
    ax.barh(table["attribute"], table["mean_shift"], color=colours)
    ax.set_xlabel("mean probability shift when the attribute is changed (0 to 1)", fontsize=12)
    ax.set_ylabel("attribute changed", fontsize=12)
    ax.set_title("Which attribute moves the model's answer most?", fontsize=14)
    ax.tick_params(labelsize=11)
    fig.tight_layout()
    ranked = table.iloc[::-1]
    listed = ", ".join(f"{a} {s:.2f}" for a, s in zip(ranked["attribute"], ranked["mean_shift"]))
    return describe(fig, f"Horizontal bars: the mean probability shift when each attribute is changed, largest "
                         f"first: {listed}.")


def plot_attack_results(table) -> plt.Figure:
    """One panel per model: attack accuracy per output granularity, members vs non-members, vs the prior."""
    models = list(dict.fromkeys(table["model"]))
    outputs = list(dict.fromkeys(table["output"]))
    fig, axes = plt.subplots(1, len(models), figsize=(6.5 * len(models), 4.8), squeeze=False, sharey=True)
    x = np.arange(len(outputs))
    for ax, name in zip(axes[0], models):
        part = table[table["model"] == name]
        for shift, group, colour in ((-0.2, "members", MEMBER_COLOUR), (0.2, "non-members", NONMEMBER_COLOUR)):
            rows = part[part["people"] == group].set_index("output").loc[outputs]
            bars = ax.bar(x + shift, rows["accuracy"], width=0.4, color=colour, label=f"attack on {group}")
            ax.bar_label(bars, labels=[f"{v:.0%}" for v in rows["accuracy"]], fontsize=9, padding=2)
            ax.hlines(rows["prior_only"], x + shift - 0.2, x + shift + 0.2, color="black", lw=2.5,
                      label="prior only (no model)" if group == "members" else None)
        ax.set_xticks(x, [o.replace("scores ", "").replace(" and its score", " + score") for o in outputs],
                      rotation=25, ha="right", fontsize=11)
        ax.set_ylim(0, 1)
        ax.set_title(f"{name} model", fontsize=14)
        ax.set_xlabel("what the API returns", fontsize=12)
    axes[0][0].set_ylabel("share of sensitive values guessed right", fontsize=12)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=11, frameon=False)
    fig.suptitle("Attribute inference: accuracy as output detail shrinks", fontsize=15)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    parts = []
    for name in models:
        part = table[table["model"] == name]
        rows = [f"{o}: members {_pct(part[(part['output'] == o) & (part['people'] == 'members')]['accuracy'].iloc[0])}, "
                f"non-members {_pct(part[(part['output'] == o) & (part['people'] == 'non-members')]['accuracy'].iloc[0])}"
                for o in outputs]
        parts.append(f"{name} model — " + "; ".join(rows))
    prior = _pct(table["prior_only"].iloc[0])
    return describe(fig, f"Bar charts of attribute inference accuracy for each output setting (prior-only guess about "
                         f"{prior}). " + ". ".join(parts) + ".")


# ---------------------------------------------------------------- lab 03: face reconstructions


def show_reconstructions(real: np.ndarray, reconstructed: np.ndarray, identities, title: str,
                         ncols: int = 10, size: float = 1.2, font: int = PROJECTOR_MIN_PT) -> plt.Figure:
    """Pairs of rows: a real training photo above the attack's reconstruction of the same person."""
    real, reconstructed = np.asarray(real).reshape(-1, 64, 64), np.asarray(reconstructed).reshape(-1, 64, 64)
    n = len(reconstructed)
    nrows = 2 * int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size + 0.4, nrows * size * 1.45), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, person in enumerate(identities):
        r, c = 2 * (i // ncols), i % ncols
        axes[r, c].imshow(real[i], cmap="gray", vmin=0, vmax=1)
        axes[r, c].set_title(f"person {person}", fontsize=font)
    shown, captions = stretch_for_display(reconstructed), amplification_captions(reconstructed)
    for i in range(n):
        r, c = 2 * (i // ncols), i % ncols
        axes[r + 1, c].imshow(shown[i], cmap="gray", vmin=0, vmax=1)
        axes[r + 1, c].set_title(captions[i], fontsize=font, color=caption_colour(captions[i]))
    for r in range(0, nrows, 2):
        axes[r, 0].text(-8, 32, "real", rotation=90, va="center", ha="right", fontsize=font)
        axes[r + 1, 0].text(-8, 32, "attack", rotation=90, va="center", ha="right", fontsize=font)
    fig.suptitle(f"{title}\n({STRETCH_NOTE})", fontsize=font + 2)
    fig.tight_layout()
    silent = sum(c == NO_SIGNAL for c in captions)
    faint = sum(c.startswith("faint") for c in captions)
    return describe(fig, f"{title}: {n} pairs, a real training photo above the attack's reconstruction of the same "
                         f"person. The reconstructions are contrast-stretched for display, the factor under each; "
                         f"{silent} got no signal and {faint} are faint (under 4 grey levels as returned).")


def plot_attack_vs_budget(budgets: list[int], verdicts: list, title: str) -> plt.Figure:
    """Attack success by each judge (recognised first, then the template leak) against the queries per person."""
    fig, ax = plt.subplots(figsize=(8, 4))
    for key, label, colour, marker in [("recognised_top1", "recognised: evaluator top-1", "#b3261e", "o-"),
                                       ("recognised_nearest", "recognised: nearest photo", "#e66101", "s-"),
                                       ("template_lineup", "template: lineup (pick of 5)", "#1b7f3b", "^--"),
                                       ("template_correlation", "template: correlation top-1", "#4a6fa5", "v--")]:
        ax.plot(budgets, [getattr(v, key) for v in verdicts], marker, color=colour, label=label)
    ax.axhline(1 / 5, color="#1b7f3b", ls=":", label="chance, lineup (20 %)")
    ax.axhline(1 / 40, color="grey", ls=":", label="chance, top-1 (2.5 %)")
    ax.set_xscale("log")
    ax.set_xlabel("queries per identity (log scale)", fontsize=12)
    ax.set_ylabel("attack accuracy", fontsize=12)
    ax.set_ylim(0, 1.05)
    ax.set_title(title, fontsize=13)
    ax.legend(fontsize=9, loc="center right")
    fig.tight_layout()
    ends = [(b, v) for b, v in ((budgets[0], verdicts[0]), (budgets[-1], verdicts[-1]))]
    said = "; ".join(f"at {b:,} queries per person the evaluator recognises {_pct(v.recognised_top1)} and the lineup "
                     f"picks {_pct(v.template_lineup)}" for b, v in ends)
    return describe(fig, f"Line chart, {title}: attack accuracy by each judge against queries per person; {said} "
                         "(chance 2.5 % and 20 %).")


# ---------------------------------------------------------------- lab 04: output minimisation


def plot_granularity_summary(data) -> plt.Figure:
    """Attack accuracy against output detail (most to least): naive and adaptive face attackers, attribute inference."""
    results = list(data.results.values())
    names = [r.policy.describe().replace("scores ", "").replace(" only", "") for r in results]
    x = np.arange(len(results))
    fig, ax = plt.subplots(figsize=(10, 8))
    ax.plot(x, [r.adaptive.recognised_top1 for r in results], "D-", color="#b3261e", lw=2.5,
            label="adaptive attacker (knows the control): recognised (evaluator top-1)")
    ax.plot(x, [r.face.recognised_top1 for r in results], "o-", color="#1b7f3b",
            label="naive attacker (lab 03's attack): recognised")
    ax.plot(x, [r.adaptive.template_lineup for r in results], "s--", color="#4a6fa5", lw=1,
            label="adaptive attacker: template leak (lineup, chance 20 %)")
    ax.plot(x, [r.attribute["accuracy"] for r in results], "^-", color="#8a4fa5", label="attribute inference (lab 02): accuracy")
    ax.axhline(data.white_box.recognised_top1, color="#b3261e", ls="--", lw=1,
               label="white-box MI-FACE: recognised (any setting)")
    ax.axhline(0.025, color="#1b7f3b", ls=":", label="chance, recognised (2.5 %)")
    ax.axhline(results[0].attribute["baseline"], color="#8a4fa5", ls=":", label="prior-only guess, attribute")
    ax.set_xticks(x, names, rotation=35, ha="right", fontsize=PROJECTOR_MIN_PT)
    ax.tick_params(axis="y", labelsize=PROJECTOR_MIN_PT)
    ax.set_xlabel("output setting, from most detail (left) to least (right)", fontsize=PROJECTOR_MIN_PT + 1)
    ax.set_ylabel("attack accuracy", fontsize=PROJECTOR_MIN_PT + 1)
    ax.set_ylim(0, 1.05)
    ax.set_title(f"What each output setting leaves the attacker ({data.budget:,} queries per person)",
                 fontsize=PROJECTOR_MIN_PT + 2)
    # the legend in the figure's own band under the axes, so it never lies over the tick labels or the axis title
    fig.legend(*ax.get_legend_handles_labels(), fontsize=PROJECTOR_MIN_PT, loc="lower center", ncol=1, frameon=False)
    fig.tight_layout(rect=(0, 0.3, 1, 1))
    listed = "; ".join(f"{n}: adaptive {_pct(r.adaptive.recognised_top1)}, naive {_pct(r.face.recognised_top1)}, "
                       f"attribute {_pct(r.attribute['accuracy'])}" for n, r in zip(names, results))
    return describe(fig, f"Line chart of what each output setting leaves the attacker at {data.budget:,} queries per "
                         f"person, most detail first, faces recognised by the evaluator: {listed}. White-box: "
                         f"{_pct(data.white_box.recognised_top1)}; chance 2.5 %.")


# ---------------------------------------------------------------- lab 06: access control and monitoring


def plot_detection(summary, title: str = "Who gets flagged, and after how many queries") -> plt.Figure:
    """One bar per API key: queries answered; an X where the detector raised its first alert."""
    table = summary.sort_values(["attacker", "queries"], ascending=[False, True]).reset_index(drop=True)
    y = np.arange(len(table))[::-1]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(table) + 1.6))
    colours = [MEMBER_COLOUR if a else NONMEMBER_COLOUR for a in table["attacker"]]
    ax.barh(y, table["queries"], color=colours, alpha=0.75)
    flagged = table["queries until alert"].notna()
    ax.plot(table.loc[flagged, "queries until alert"], y[flagged.to_numpy()], "X", ms=12, color="black",
            label="first alert")
    ax.set_yticks(y, [f"{k} ({'attacker' if a else 'ordinary'})" for k, a in zip(table["key"], table["attacker"])],
                  fontsize=10)
    ax.set_xscale("log")
    ax.set_xlim(10, float(table["queries"].max()) * 3)
    ax.set_xlabel("queries answered (log scale)", fontsize=12)
    ax.set_title(title, fontsize=13)
    from matplotlib.patches import Patch

    handles = ax.get_legend_handles_labels()[0] + [Patch(color=MEMBER_COLOUR, alpha=0.75, label="attacker's key"),
                                                   Patch(color=NONMEMBER_COLOUR, alpha=0.75, label="ordinary user's key")]
    ax.legend(handles=handles, fontsize=10, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    listed = "; ".join(f"{k} ({'attacker' if a else 'ordinary'}): {int(q):,} queries, "
                       + (f"first alert after {int(u):,}" if u == u and u is not None else "no alert")
                       for k, a, q, u in zip(table["key"], table["attacker"], table["queries"], table["queries until alert"]))
    return describe(fig, f"Horizontal bars, {title}: {listed}.")


def show_attack_rows(rows: dict, identities, title: str, size: float = 1.3) -> plt.Figure:
    """One row of faces per setting (e.g. real photos, attack with scores, attack with labels only), labelled on the left."""
    n = len(identities)
    fig, axes = plt.subplots(len(rows), n, figsize=(n * size + 1.6, len(rows) * size * 1.15), squeeze=False)
    for r, (label, images) in enumerate(rows.items()):
        images = np.asarray(images).reshape(-1, 64, 64)
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(images[c], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"person {identities[c]}", fontsize=10)
        axes[r, 0].set_ylabel(label, fontsize=10, rotation=0, ha="right", va="center")
    fig.suptitle(title, fontsize=13)
    fig.tight_layout()
    return describe(fig, f"{title}: faces of {n} people (" + ", ".join(f"person {p}" for p in identities)
                         + "), one row per setting: " + "; ".join(rows) + ".")


def for_display(images: np.ndarray) -> np.ndarray:
    """Reconstructions lightly smoothed and contrast-stretched, for the eye only (judges see the raw images)."""
    import torch

    from ..attacks.mi_face import blur
    from ..judges.reconstructions import normalise_contrast

    raw = np.asarray(images, dtype=np.float32).reshape(-1, 64, 64)
    x = torch.as_tensor(raw.reshape(-1, 64 * 64))
    shown = normalise_contrast(blur(blur(x)).numpy().reshape(-1, 64, 64))
    flat = flat_images(raw)
    shown[flat] = np.clip(raw[flat], 0, 1)  # an image that never moved is drawn as the grey it is
    return shown


# ---------------------------------------------------------------- lab 05: training-side defences

JUDGE_LINES = (("lineup", "MI-FACE: lineup (pick of 5)", "#1b7f3b"),
               ("correlation top-1", "MI-FACE: correlation judge top-1", "#4a6fa5"),
               ("evaluator top-1", "MI-FACE: evaluator CNN top-1", "#b3261e"))


def _defence_panel(ax, rows, labels: list[str], xlabel: str, title: str) -> None:
    """Test accuracy, the three judges and the membership advantage against one defence's settings."""
    x = np.arange(len(rows))
    ax.plot(x, rows["test accuracy"], "o-", color="black", lw=2.5, label="test accuracy (utility)")
    for key, label, colour in JUDGE_LINES:
        ax.plot(x, rows[key], "o-", color=colour, label=label)
    ax.plot(x, rows["membership advantage"], "s--", color="#7b3294", label="membership advantage (TPR − FPR)")
    ax.axhline(1 / 5, color="#1b7f3b", ls=":", lw=1)
    ax.axhline(1 / 40, color="grey", ls=":", lw=1)
    ax.set_xticks(x, labels, fontsize=11)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel(xlabel, fontsize=12)
    ax.set_title(title, fontsize=13)


def plot_regularisation_defences(sweep) -> plt.Figure:
    """Two panels (weight decay, early stopping): utility, MI-FACE by each judge and membership advantage."""
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.8), sharey=True)
    decay = sweep[sweep["defence"] == "weight decay"]
    early = sweep[sweep["defence"] == "early stopping"].iloc[::-1]  # fewer epochs = stronger, to the right
    _defence_panel(axes[0], decay, [f"{v:g}" for v in decay["weight decay"]],
                   "weight decay (stronger →)", "Weight decay")
    _defence_panel(axes[1], early, [str(int(v)) for v in early["epochs"]],
                   "training epochs (earlier stop →)", "Early stopping")
    axes[0].set_ylabel("accuracy / advantage (0 to 1)", fontsize=12)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=10, frameon=False)
    fig.suptitle("Regularising the face model: utility falls, the MI-FACE attack hardly does "
                 "(dotted: chance for lineup 20 %, top-1 2.5 %)", fontsize=13)
    fig.tight_layout(rect=(0, 0.1, 1, 1))

    def ends(rows, what):
        a, b = rows.iloc[0], rows.iloc[-1]
        return (f"{what}: test accuracy {_pct(a['test accuracy'])} to {_pct(b['test accuracy'])}, evaluator top-1 "
                f"{_pct(a['evaluator top-1'])} to {_pct(b['evaluator top-1'])}, lineup {_pct(a['lineup'])} to "
                f"{_pct(b['lineup'])}, membership advantage {a['membership advantage']:.2f} to {b['membership advantage']:.2f}")
    return describe(fig, "Two line charts, from the weakest setting to the strongest. " + ends(decay, "weight decay")
                         + "; " + ends(early, "early stopping") + ".")


def epsilon_label(epsilon: float) -> str:
    """'∞' for no DP, else the number."""
    return "∞" if np.isinf(epsilon) else f"{epsilon:g}"


def plot_epsilon_sweep(sweep, floor: float | None = None) -> plt.Figure:
    """Left: utility and MI-FACE against ε. Right: the membership test's advantage, its noise level and DP's bound."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 4.8))
    labels = [epsilon_label(e) for e in sweep.index]
    _defence_panel(left, sweep, labels, "target ε (smaller = more private →)", "Utility and MI-FACE against ε")
    if floor is not None:
        left.axhline(floor, color="black", ls="--", lw=1, label=f"accuracy floor ({floor:.0%})")
    left.set_ylabel("accuracy (0 to 1)", fontsize=12)
    handles, names = left.get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=3, fontsize=10, frameon=False)
    x = np.arange(len(sweep))
    right.plot(x, sweep["membership advantage"], "s-", color="#7b3294", lw=2, label="measured advantage")
    right.plot(x, sweep["membership noise level"], ":", color="grey", lw=2, label="found by luck alone (95th percentile)")
    right.plot(x, sweep["DP bound on advantage"], "^--", color="#e08214", label="DP's guarantee: the most any test can get")
    right.set_xticks(x, labels, fontsize=11)
    right.set_ylim(0, 1.05)
    right.set_xlabel("target ε (smaller = more private →)", fontsize=12)
    right.set_ylabel("membership advantage (TPR − FPR)", fontsize=12)
    right.set_title("Membership inference against ε", fontsize=13)
    right.legend(fontsize=10, loc="center left")
    fig.suptitle("DP-SGD on the face classifier (dotted: chance for lineup 20 %, top-1 2.5 %)", fontsize=14)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    listed = "; ".join(f"ε {epsilon_label(e)}: test accuracy {_pct(r['test accuracy'])}, evaluator top-1 "
                       f"{_pct(r['evaluator top-1'])}, membership advantage {r['membership advantage']:.2f} (DP's bound "
                       f"{r['DP bound on advantage']:.2f})" for e, r in sweep.iterrows())
    return describe(fig, f"Two line charts against the target ε, least private first: {listed}."
                         + (f" Accuracy floor {floor:.0%}." if floor is not None else ""))


def plot_defence_tradeoff(curves: dict, judge: str = "correlation top-1") -> plt.Figure:
    """Attack success against test accuracy, one line per defence: at equal utility, which defence leaks less?"""
    fig, ax = plt.subplots(figsize=(8.5, 5))
    colours = ["#b3261e", "#4a6fa5", "#1b7f3b", "#7b3294"]
    for (name, rows), colour in zip(curves.items(), colours):
        ordered = rows.sort_values("test accuracy")
        ax.plot(ordered["test accuracy"], ordered[judge], "o-", color=colour, lw=2, label=name)
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="attack = utility")
    ax.axhline(1 / 40, color="grey", ls=":", label="chance (2.5 %)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("test accuracy of the defended model (utility)", fontsize=12)
    ax.set_ylabel(f"MI-FACE success ({judge})", fontsize=12)
    ax.set_title("Price of a lower attack: utility given up, per defence", fontsize=13)
    ax.legend(fontsize=10, loc="lower right")
    fig.tight_layout()
    listed = "; ".join(f"{name}: from test accuracy {_pct(r['test accuracy'].max())} with {judge} "
                       f"{_pct(r.loc[r['test accuracy'].idxmax(), judge])} down to {_pct(r['test accuracy'].min())} with "
                       f"{_pct(r.loc[r['test accuracy'].idxmin(), judge])}" for name, r in curves.items())
    return describe(fig, f"Line chart of attack success ({judge}) against the defended model's test accuracy, one "
                         f"line per defence: {listed}.")


def plot_prior_budgets(table, judges=("evaluator top-1", "closer than any public face", "lineup"),
                       chance: dict | None = None) -> plt.Figure:
    """Lab 08: each attack's score against queries per person (log scale), one panel per judge, chance dashed."""
    # one panel per row at 8.5 inches: drawn about 850 px wide, as JupyterLab shows it at 1280 x 720, the text stays
    # at 12 pt or more (three panels side by side were shrunk to about 7 px)
    fig, axes = plt.subplots(len(judges), 1, figsize=(8.5, 2.9 * len(judges) + 1.6), squeeze=False, sharex=True)
    attacks = [a for a in dict.fromkeys(table["attack"]) if not a.startswith("public lookup")]
    lookup = table[table["attack"].str.startswith("public lookup")]
    for ax, judge in zip(axes[:, 0], judges):
        for attack, marker in zip(attacks, "osd^v"):
            rows = table[table["attack"] == attack].sort_values("queries per person")
            ax.plot(rows["queries per person"], 100 * rows[judge], marker=marker, label=attack, linewidth=2)
        if len(lookup):
            ax.scatter(lookup["queries per person"], 100 * lookup[judge], marker="x", s=80, color="black",
                       label="public lookup (no inversion)", zorder=5)
        if chance and judge in chance:
            ax.axhline(100 * chance[judge], color="grey", linestyle="--", linewidth=1, label="chance")
        ax.set_xscale("log")
        ax.set_ylim(-3, 103)
        ax.set_ylabel("%", fontsize=PROJECTOR_MIN_PT)
        ax.set_title(judge, fontsize=PROJECTOR_MIN_PT + 1)
        ax.tick_params(labelsize=PROJECTOR_MIN_PT)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("queries per person (log scale)", fontsize=PROJECTOR_MIN_PT)
    fig.legend(*axes[0, 0].get_legend_handles_labels(), fontsize=PROJECTOR_MIN_PT, loc="lower center", ncol=2,
               frameon=False)
    fig.suptitle("Black-box attacks on the private people: what each budget buys", fontsize=PROJECTOR_MIN_PT + 2)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    parts = []
    for judge in judges:
        best = [f"{a} {_pct(table[table['attack'] == a].sort_values('queries per person')[judge].iloc[-1])}"
                for a in attacks]
        parts.append(f"{judge} at each attack's largest budget: " + ", ".join(best)
                     + (f", public lookup {_pct(lookup[judge].iloc[0])}" if len(lookup) else ""))
    return describe(fig, "Line charts of each black-box attack's score against queries per person (log scale), one "
                         "panel per judge. " + "; ".join(parts) + ".")

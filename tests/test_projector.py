"""Dashboards legible on a projector (issue 18): at 1280 x 720 every figure fits the width, no text under 12 pt."""
from __future__ import annotations

import struct
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from lab_helpers.ui.control_panel import row_picture  # noqa: E402
from lab_helpers.ui.plots import (  # noqa: E402
    PROJECTOR_MIN_PT,
    PROJECTOR_WIDTH_PX,
    plot_granularity_summary,
    show_reconstructions,
)

INLINE_DPI = 100  # what JupyterLab and Voilà render inline figures at


def small_texts(fig) -> list[tuple[str, float]]:
    """Every text a viewer sees that is smaller than 12 pt (tick labels of axes switched off are never drawn)."""
    hidden = {id(t) for ax in fig.axes if not ax.axison
              for t in [*ax.xaxis.get_ticklabels(which="both"), *ax.yaxis.get_ticklabels(which="both"),
                        ax.xaxis.label, ax.yaxis.label, ax.xaxis.get_offset_text(), ax.yaxis.get_offset_text()]}
    return [(t.get_text(), t.get_fontsize()) for t in fig.findobj(Text)
            if t.get_text().strip() and t.get_visible() and id(t) not in hidden and t.get_fontsize() < PROJECTOR_MIN_PT]


def fake_panel():
    def result(name, adaptive, naive):
        return SimpleNamespace(policy=SimpleNamespace(describe=lambda n=name: n),
                               adaptive=SimpleNamespace(template_lineup=adaptive, recognised_top1=adaptive / 5),
                               face=SimpleNamespace(template_lineup=naive, template_correlation=naive / 2,
                                                    recognised_top1=naive / 5),
                               attribute={"accuracy": 0.6, "baseline": 0.4})
    names = ["full probabilities", "scores with Laplace noise (scale 0.001)", "scores rounded to 2 decimals",
             "top 3 scores only", "top label and its score", "label only"]
    return SimpleNamespace(results={n: result(n, 1.0, 0.9 - 0.1 * i) for i, n in enumerate(names)},
                           white_box=SimpleNamespace(template_lineup=1.0, recognised_top1=0.4), budget=2_000)


@pytest.mark.parametrize("make", ["reconstruction grid (lab 03 dashboard)", "output settings (lab 04 dashboard)"])
def test_dashboard_figures_fit_1280_and_use_12_pt_or_more(make):
    if make.startswith("reconstruction"):
        images = np.random.default_rng(0).random((40, 64, 64))
        fig = show_reconstructions(images, images, np.arange(40), title="Real training photo (above) vs reconstruction")
    else:
        fig = plot_granularity_summary(fake_panel())
    try:
        width = fig.get_size_inches()[0] * INLINE_DPI
        assert width <= PROJECTOR_WIDTH_PX, f"{width:.0f} px wide: it would be shrunk on a 1280 px projector"
        assert small_texts(fig) == []
    finally:
        plt.close(fig)


def test_the_control_panel_rows_fit_and_read_at_12_pt():
    png = row_picture(np.random.default_rng(1).random((8, 64, 64)), "adaptive attacker: scores rounded to 2 decimals")
    width = struct.unpack(">I", png[16:20])[0]  # the PNG header's width
    assert width <= PROJECTOR_WIDTH_PX


def test_the_check_can_fail():
    fig, ax = plt.subplots(figsize=(15, 3))
    ax.set_title("tiny", fontsize=8)
    try:
        assert fig.get_size_inches()[0] * INLINE_DPI > PROJECTOR_WIDTH_PX and small_texts(fig) == [("tiny", 8.0)]
    finally:
        plt.close(fig)

"""Every attack `invert` offers, judged three ways side by side: recognised (strict judges independent of the target),
template leak (pixel lineup and correlation), and visible (the images' contrast as returned, in 8-bit grey levels).

    taskset -c 0 python benchmarks/judges_side_by_side.py     # about 3 minutes on one CPU

Rewrites the section "## Recognised, template leak, visible" of docs/performance.md.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(KIT))

SECTION = "## Recognised, template leak, visible: every attack `invert` offers"
RUNS = [  # (what, target, attack, output, queries per person)
    ("white-box", "softmax", "white-box", "probabilities", 0),
    ("black-box, probabilities", "softmax", "black-box", "probabilities", 2_000),
    ("black-box, probabilities", "softmax", "black-box", "probabilities", 5_000),
    ("black-box, probabilities", "softmax", "black-box", "probabilities", 10_000),
    ("adaptive, rounded:2", "softmax", "adaptive", "rounded:2", 2_000),
    ("adaptive, rounded:2", "softmax", "adaptive", "rounded:2", 10_000),
    ("adaptive, top_k:3", "softmax", "adaptive", "top_k:3", 10_000),
    ("label-only", "softmax", "label-only", "label", 2_000),
    ("label-only", "softmax", "label-only", "label", 5_000),
    ("label-only", "softmax", "label-only", "label", 10_000),
    ("private target, black-box", "private", "black-box", "probabilities", 1_000),
    ("private target, eigenface prior", "private", "prior-black-box", "probabilities", 1_000),
]


def measure() -> list[dict]:
    """One row per run: run_inversion's summary, with the seconds the attack took."""
    from lab_helpers.evaluation import run_inversion

    rows = []
    for what, target, attack, output, queries in RUNS:
        began = time.perf_counter()
        run = run_inversion(target, attack=attack, output=output, queries_per_person=max(queries, 1), progress=False)
        row = run.summary() | {"what": what, "budget": queries, "wall": time.perf_counter() - began}
        rows.append(row)
        print(f"{what} {queries}: recognised {row['recognised_top1']:.3f} / nearest {row['recognised_nearest']:.3f}, "
              f"template lineup {row['template_lineup']:.3f}, contrast {row['contrast_grey_levels']:.2f}", flush=True)
    return rows


def report(rows: list[dict], cpus: int) -> str:
    """The docs/performance.md section."""
    import datetime as dt

    def pct(x: float) -> str:
        return f"{100 * x:.1f} %".replace(".0 %", " %")

    lines = [SECTION, "",
             f"Measured by `benchmarks/judges_side_by_side.py` on {dt.date.today().isoformat()}, {cpus} usable CPU core(s), "
             "with `run_inversion` (what `python -m lab_helpers invert` runs; seed 0). **Recognised** (the headline): "
             "the evaluator CNN's top-1 and top-5, and the nearest held-out photo (one the target never trained on) in "
             "the evaluator's feature space. **Template leak**: the pixel lineup (1 of 5) and correlation top-1. "
             "**Visible**: the median image's contrast as the attack returned it, in 8-bit grey levels, and how many "
             "images are under 4 grey levels (they look uniform grey until a display stretches them). Chance: top-1 "
             "2.5 % (5 % for the private target's 20 people), top-5 12.5 % (25 %), lineup 20 %.", "",
             "| attack | queries per person | recognised: evaluator top-1 | top-5 | nearest photo | template: lineup | "
             "correlation top-1 | contrast, median (grey levels) | images under 4 levels | seconds |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['what']} | {r['budget']:,} | {pct(r['recognised_top1'])} | {pct(r['recognised_top5'])} | "
                     f"{pct(r['recognised_nearest'])} | {pct(r['template_lineup'])} | {pct(r['template_correlation'])} | "
                     f"{r['contrast_grey_levels']:.2f} | {int(r['faint'])} of {len(r['people'])} | {r['seconds']:.1f} |")
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    from lab_starts import section_command

    section_command(__doc__, SECTION, lambda cpus, args: report(measure(), cpus))


if __name__ == "__main__":
    main()

"""What each output control costs the attacker, by the strict judges: the strongest adaptive attacker's recognised
rate at 200, 1,000, 2,000, 5,000 and 10,000 queries per person, for every output setting of lab 04's panel and every
lab 03 target, and each control's query multiplier (the queries it needs to reach what exact scores give at 2,000).

    taskset -c 0 python benchmarks/cost_curves.py     # about 8 minutes on one CPU (4 targets x 13 settings)

Rewrites the section "## What each output control costs the attacker" of docs/performance.md.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(KIT))

SECTION = "## What each output control costs the attacker, by the strict judges"
TARGETS = (("softmax", False), ("softmax", True), ("mlp", False), ("mlp", True))


def measure(targets=TARGETS, budget: int | None = None) -> list[dict]:
    """One row per (target, setting): the strongest adaptive attacker's curve by both strict judges and the lineup."""
    from lab_helpers.data import load_faces
    from lab_helpers.evaluation.output_controls import COST_BUDGETS, adaptive_attacks, label_attack
    from lab_helpers.judges import train_evaluator
    from lab_helpers.targets import train_face_model
    from lab_helpers.ui.control_panel import SETTINGS

    budget = budget or max(COST_BUDGETS)
    faces = load_faces(seed=0)
    evaluator = train_evaluator(faces, progress=False)
    rows = []
    for kind, regularised in targets:
        model = train_face_model(faces, kind, regularised=regularised, progress=False)
        name = f"{kind}{', regularised' if regularised else ''} (test accuracy {model.test_accuracy:.0%})"
        began = time.perf_counter()
        labels = label_attack(model, faces, evaluator, budget)
        label_seconds = time.perf_counter() - began
        for policy in SETTINGS:
            began = time.perf_counter()
            best = adaptive_attacks(model, policy, faces, evaluator, budget, labels=labels)["strongest"]
            rows.append({"target": name, "setting": policy.describe(), "spelling": policy.spelling(),
                         "recognised": best.curve("recognised_top1"), "nearest": best.curve("recognised_nearest"),
                         "lineup": best.curve("template_lineup"), "contrast": best.curve("contrast_grey_levels"),
                         "attack": best.name, "seconds": time.perf_counter() - began + label_seconds})
            r = rows[-1]
            print(f"{name} | {r['spelling']}: recognised {r['recognised']} nearest {r['nearest'][budget]:.3f} "
                  f"({r['attack']}, {r['seconds']:.0f} s)", flush=True)
    return rows


def multipliers(rows: list[dict]) -> dict[tuple[str, str], float | None]:
    """{(target, setting): query multiplier against exact scores on the same target}."""
    from lab_helpers.evaluation.output_controls import query_multiplier

    exact = {r["target"]: r["recognised"] for r in rows if r["spelling"] == "probabilities"}
    return {(r["target"], r["setting"]): query_multiplier(r["recognised"], exact[r["target"]]) for r in rows}


def report(rows: list[dict], cpus: int) -> str:
    """The docs/performance.md section."""
    import datetime as dt

    from lab_helpers.evaluation.output_controls import REFERENCE_BUDGET

    def pct(x: float) -> str:
        return f"{100 * x:.1f} %".replace(".0 %", " %")

    budgets = sorted(rows[0]["recognised"])
    top = budgets[-1]
    price = multipliers(rows)
    lines = [SECTION, "",
             f"Measured by `benchmarks/cost_curves.py` on {dt.date.today().isoformat()}, {cpus} usable CPU core(s), seed 0. "
             "At every output setting of lab 04's panel, the strongest adaptive attacker (the better, by the evaluator, "
             "of MI-FACE adapted to the control and the label-only boundary attack, budget by budget) on each lab 03 "
             "target. **Recognised** is the headline: the evaluator's top-1 (chance 2.5 %), and at the largest budget "
             "the nearest held-out photo in the evaluator's features (chance 2.5 %). The **template leak** (pixel lineup, "
             "chance 20 %) is given beside it at 2,000. The **multiplier** is the honest price a control imposes: the "
             f"queries per person it needs to reach what exact scores give at {REFERENCE_BUDGET:,} (by the evaluator), "
             f"divided by {REFERENCE_BUDGET:,}, interpolated on a log scale between the measured budgets; "
             f"\"> {top // REFERENCE_BUDGET}x\" when not reached within {top:,}. With 40 people one person is 2.5 "
             "points, so read small differences as noise (a multiplier under 1x is noise: no control helps the attacker). A rate limit is worth its limit divided by the multiplier "
             "in exact-score queries (lab 06).", ""]
    for target in dict.fromkeys(r["target"] for r in rows):
        lines += [f"**{target}**", "",
                  "| output setting | " + " | ".join(f"recognised at {b:,}" for b in budgets)
                  + f" | nearest photo at {top:,} | template lineup at 2,000 | contrast at {top:,} (grey levels) "
                  "| multiplier | strongest attack | seconds |",
                  "|---" * (len(budgets) + 7) + "|"]
        for r in rows:
            if r["target"] != target:
                continue
            m = price[(target, r["setting"])]
            words = f"> {top // REFERENCE_BUDGET}x" if m is None else f"{m:.1f}x"
            lines.append(f"| {r['setting']} | " + " | ".join(pct(r["recognised"][b]) for b in budgets)
                         + f" | {pct(r['nearest'][top])} | {pct(r['lineup'][2_000])} | {r['contrast'][top]:.1f} | {words} "
                         f"| {r['attack']} | {r['seconds']:.0f} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    from lab_starts import section_command

    def options(parser) -> None:
        parser.add_argument("--targets", type=int, default=len(TARGETS), help="measure only the first N targets")

    section_command(__doc__, SECTION, lambda cpus, args: report(measure(TARGETS[: args.targets]), cpus), options)


if __name__ == "__main__":
    main()

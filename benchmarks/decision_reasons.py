"""Decisions that explain themselves (issue 27 part 2): what reasons and counterfactuals hand three attackers.

    taskset -c 0 python benchmarks/decision_reasons.py     # about 15 minutes on one CPU

Rewrites the section "## Decisions that explain themselves" of docs/performance.md. Both synthetic tables (credit:
health condition; hiring: disability), lab 01's two forests (overfit: leaves of one record; regularised: 20), seed 0.
Attribute inference from a decision letter and membership inference on 200 training members and 200 non-members;
model extraction from 500 made-up applications (non-members), judged on 1,000 others, mean of 5 draws per budget.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(KIT))

SECTION = "## Decisions that explain themselves: reasons and counterfactuals"
FRAMINGS = ("credit", "hiring")


def measure() -> dict:
    """{framing: (letter table, extraction table, seconds)}."""
    from lab_helpers.data import load_people
    from lab_helpers.evaluation import extraction_table, letter_table
    from lab_helpers.targets import train_overfit_and_regularised

    out = {}
    for key in FRAMINGS:
        start = time.perf_counter()
        data = load_people(key)
        models = train_overfit_and_regularised(data)
        letters = letter_table(models, data, n_people=200)
        copies = extraction_table(models["regularised"], data, quotas=(10,))
        out[key] = (data, letters, copies, time.perf_counter() - start)
    return out


def report(results: dict, cpus: int) -> str:
    """The docs/performance.md section."""
    import datetime as dt

    import numpy as np

    def pct(x: float) -> str:
        return "—" if x != x else f"{100 * x:.0f} %"

    lines = [SECTION, "",
             f"Measured by `benchmarks/decision_reasons.py` on {dt.date.today().isoformat()}, {cpus} usable CPU core(s). "
             "`DecisionAPI` answers with the decision (the band) only, plus the explanation of the setting: **reasons** "
             "are Shapley values of the adverse score (Captum `ShapleyValueSampling`, 25 orderings, against the "
             "training members' typical applicant); a **counterfactual** is the cheapest single-input change that "
             "flips the decision. **Letter attack**: the attacker holds a person's decision letter and the rest of "
             "their record, and asks the service once per candidate value of the sensitive input (the same queries "
             "with and without the explanation); share guessed right, members / non-members, against guessing the "
             "commonest value for all. **Membership advantage** (TPR − FPR, best threshold): from the adverse score "
             "the reasons add up to (without numbers: whether the decision is right); *spread* is Shokri et al.'s "
             "signal (variance of the explanation). **Utility**: reasons — share of applicants in the adverse band "
             "whose strongest reason the letter names first; counterfactuals — share of them given a change they can "
             "make.", ""]
    for key, (data, letters, copies, seconds) in results.items():
        lines += [f"**{key}** (sensitive input `{data.sensitive}`, {seconds:.0f} s):", "",
                  "| model | explanation | letter attack: members / non-members | prior only | membership advantage | "
                  "spread | utility |", "|---|---|---|---|---|---|---|"]
        for _, r in letters.iterrows():
            lines.append(f"| {r['model']} | `{r['setting']}` | {pct(r['attribute, members'])} / "
                         f"{pct(r['attribute, non-members'])} | {pct(r['prior only, members'])} / "
                         f"{pct(r['prior only, non-members'])} | {r['membership advantage']:.2f} | "
                         + ("—" if np.isnan(r["membership advantage, spread"]) else f"{r['membership advantage, spread']:.2f}")
                         + f" | {pct(r['utility'])} |")
        lines += ["", "Copying the regularised model's decision (balanced agreement on 1,000 other applicants; 50 % is "
                  "a coin):", "", "| explanation | " + " | ".join(c.replace("agreement at ", "") + " queries"
                                                             for c in copies.columns) + " |",
                  "|---|" + "---|" * len(copies.columns)]
        for setting, r in copies.iterrows():
            lines.append(f"| `{setting}` | " + " | ".join(pct(v) for v in r) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    from lab_starts import section_command

    section_command(__doc__, SECTION, lambda cpus, args: report(measure(), cpus))


if __name__ == "__main__":
    main()

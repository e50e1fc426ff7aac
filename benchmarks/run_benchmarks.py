"""Benchmarks, run on one CPU: the kit's MI-FACE against IBM ART's MIFace, the black-box attack against its compute
floor, and every lab's run time and peak memory (its first run from an empty cache, and warm: lab_starts.py).
Writes docs/performance.md.

    pip install -r benchmarks/requirements.txt
    taskset -c 0 python benchmarks/run_benchmarks.py            # everything (about 45 minutes)
    taskset -c 0 python benchmarks/run_benchmarks.py --no-labs  # attacks only (about 25 minutes)
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

KIT = Path(__file__).resolve().parent.parent
PEOPLE = np.arange(40)
# A lab's budgets on one CPU (Binder: 1 CPU, 2 GB) live in lab_starts.py; tests never assert on time, reports do.


def matmul_rate(repeats: int = 30) -> float:
    """Measured float32 GFLOP/s of the forward pass's own shape: (4000 x 4096) @ (4096 x 40)."""
    x, w = torch.rand(4000, 4096), torch.rand(4096, 40)
    for _ in range(3):
        x @ w
    start = time.perf_counter()
    for _ in range(repeats):
        x @ w
    return 2 * 4000 * 4096 * 40 * repeats / (time.perf_counter() - start) / 1e9


def art_miface(model, iterations: int, start: float) -> tuple[np.ndarray, float]:
    """IBM ART 1.20's MIFace on the same model (threshold=1.0 so it runs every iteration, as ART's notebook does)."""
    from art.attacks.inference.model_inversion import MIFace
    from art.estimators.classification import PyTorchClassifier

    classifier = PyTorchClassifier(model.net, loss=torch.nn.CrossEntropyLoss(), input_shape=(4096,), nb_classes=40,
                                   clip_values=(0.0, 1.0))
    attack = MIFace(classifier, max_iter=iterations, window_length=iterations, threshold=1.0, learning_rate=0.1,
                    batch_size=40, verbose=False)
    began = time.perf_counter()
    images = attack.infer(np.full((40, 4096), start, dtype=np.float32), PEOPLE)
    return images.reshape(-1, 64, 64), time.perf_counter() - began


def best_of(runs: int, attack) -> tuple:
    """Run an attack several times; keep the fastest wall time (the images are the same every run)."""
    results = [attack() for _ in range(runs)]
    return results[0][0], min(r[1] for r in results)


def white_box_rows(faces, model, evaluator, iterations: int, runs: int = 2) -> list[tuple]:
    """(name, seconds, verdict) for ART and the kit on the same model and number of iterations (best of `runs`)."""
    from lab_helpers.judges import judge
    from lab_helpers.attacks import invert_white_box

    def kit(**kw):
        return lambda: (lambda r: (r.images, r.seconds))(invert_white_box(model, PEOPLE, iterations=iterations, progress=False, **kw))

    rows = []
    for start, start_name in ((0.0, "black"), (0.5, "grey")):
        images, seconds = best_of(runs, lambda: art_miface(model, iterations, start))
        rows.append((f"ART MIFace (logit ascent, {start_name} start)", seconds, judge(images, PEOPLE, faces, evaluator)))
        images, seconds = best_of(runs, kit(start=start_name, objective="logit", l2_weight=0, tv_weight=0))
        rows.append((f"kit, ART's algorithm (logit ascent, {start_name} start)", seconds, judge(images, PEOPLE, faces, evaluator)))
    images, seconds = best_of(runs, kit())
    rows.append(("kit default (grey, log p, L2 + TV)", seconds, judge(images, PEOPLE, faces, evaluator)))
    return rows


def black_box_row(faces, model, evaluator, queries: int = 10_000) -> tuple:
    """Wall time of 40 identities x `queries` through ModelAPI, its verdict, and the forward passes' compute floor."""
    from lab_helpers.service import ModelAPI
    from lab_helpers.judges import judge
    from lab_helpers.attacks import invert_black_box

    api = ModelAPI(model.predict_proba, "probabilities", input_size=4096)
    rec = invert_black_box(api, PEOPLE, queries_per_person=queries, progress=False)
    gflop = 2 * api.queries * 4096 * 40 / 1e9
    return rec.seconds, judge(rec.images, PEOPLE, faces, evaluator), api.queries, gflop


def lab_rows() -> list[tuple]:
    """(notebook, cold seconds, cold peak MB, warm seconds, warm peak MB) for every solution notebook (lab_starts.py)."""
    from lab_starts import lab_row

    return [lab_row(path) for path in sorted((KIT / "solutions").glob("*.ipynb"))]


def slider_row(faces, model, evaluator, moves: int = 3) -> tuple[float, float, float]:
    """Lab 04's control panel: median and slowest seconds of one slider move over every setting (the cache is warm;
    the first pass draws each setting's two picture rows, the later ones reuse them), and the first pass's median."""
    import statistics

    from lab_helpers.data import load_people
    from lab_helpers.targets import train_overfit_and_regularised
    from lab_helpers.ui import SETTINGS, prepare_panel, show_control_panel
    from lab_helpers.ui.control_panel import setting_key

    people = load_people("healthcare")
    panel = prepare_panel(model, faces, evaluator, train_overfit_and_regularised(people)["overfit"], people, progress=False)
    cp, times = show_control_panel(panel), []
    for policy in SETTINGS * moves:
        kind, value = setting_key(policy)
        began = time.perf_counter()
        cp.policy.value = kind
        if value is not None:
            cp.knob.value = value
        times.append(time.perf_counter() - began)
    return statistics.median(times), max(times), statistics.median(times[:len(SETTINGS)])


def prior_rows() -> dict:
    """Lab 08: every attack at 1,000 queries per person on the private people, the cost curve to 10,000 (the generator
    too), and the queries the pixel attack needs to match what each prior attack reaches at 1,000, by judge."""
    from lab_helpers.evaluation.prior_attacks import budget_table, chance_levels, judge_prior, prior_lab, queries_without_prior, run_prior_attack

    began = time.perf_counter()
    lab = prior_lab(progress=False)
    setup = time.perf_counter() - began
    runs = {"white-box, no prior": ("white-box", None), "white-box, eigenfaces": ("white-box", "pca"),
            "white-box, generator": ("white-box", "generator"),
            "black-box, no prior": ("black-box", None), "black-box, eigenfaces": ("black-box", "pca"),
            "black-box, generator": ("black-box", "generator"), "label-only, no prior": ("label-only", None),
            "label-only, eigenfaces": ("label-only", "pca"), "label-only, generator": ("label-only", "generator"),
            "public lookup (no inversion)": ("public lookup", None)}
    at_1000 = {}
    for name, (attack, prior) in runs.items():
        began = time.perf_counter()
        rec = run_prior_attack(lab, attack, prior, budget=1_000)
        at_1000[name] = (judge_prior(rec.images, lab), int(rec.queries.max()), time.perf_counter() - began)
    began = time.perf_counter()
    curve = budget_table(lab, progress=False, prior_max={"pca": 10_000, "generator": 10_000})
    curve_seconds = time.perf_counter() - began
    judges = ("evaluator top-1", "closer than any public face", "lineup", "correlation top-1")
    match = {(j, a): queries_without_prior(curve, j, prior=a) for j in judges for a in ("eigenfaces prior", "generator prior")}
    return {"setup": setup, "at_1000": at_1000, "curve": curve, "curve_seconds": curve_seconds, "match": match,
            "chance": chance_levels(lab), "evaluator": lab.evaluator.test_accuracy, "target": lab.target.name,
            "target_accuracy": lab.target.test_accuracy, "explained": lab.pca.explained}


def prior_report(result: dict) -> list[str]:
    """The performance.md section for lab 08."""
    judges = ("evaluator top-1", "evaluator top-5", "correlation top-1", "lineup", "closer than any public face")
    lines = ["## The attacker with public faces (lab 08)", "",
             f"Target: {result['target']} enrolling the 20 private people (test accuracy {result['target_accuracy']:.0%}); "
             f"judges: an evaluator trained on the private people's photos (accuracy {result['evaluator']:.0%}), the "
             "correlation judge, the lineup, and the closer-than-any-public-face check. Priors learned from the 20 "
             f"public people's photos: eigenfaces (60 directions, {result['explained']:.0%} of the variance) and a small "
             f"VAE. Set-up (models from the cache or trained): {result['setup']:.0f} s.", "",
             "Each attack at 1,000 queries per person (white-box: no queries), scores in %, chance in the last row:", "",
             "| attack | " + " | ".join(judges) + " | queries per person | seconds |",
             "|---|" + "---|" * (len(judges) + 2)]
    for name, (scores, queries, seconds) in result["at_1000"].items():
        lines.append(f"| {name} | " + " | ".join(f"{100 * scores[j]:.0f}" for j in judges) + f" | {queries:,} | {seconds:.1f} |")
    lines.append("| chance | " + " | ".join(f"{100 * result['chance'][j]:.0f}" for j in judges) + " | | |")
    lines += ["", f"The cost curve (black-box, one run per attack to 10,000 queries per person; {result['curve_seconds']:.0f} s):", "",
              "| attack | queries per person | " + " | ".join(judges) + " |", "|---|---|" + "---|" * len(judges)]
    for _, row in result["curve"].iterrows():
        lines.append(f"| {row['attack']} | {int(row['queries per person']):,} | "
                     + " | ".join(f"{100 * row[j]:.0f}" for j in judges) + " |")
    lines += ["", "Queries per person pixel MI-FACE (no prior) needs to reach what each prior attack reaches at 1,000 "
              "(log-interpolated between the measured budgets; divided by 1,000, how many times cheaper the prior makes "
              "that result):", "", "| judge | eigenfaces | generator |", "|---|---|---|"]
    for judge in ("evaluator top-1", "closer than any public face", "lineup", "correlation top-1"):
        cells = [result["match"][(judge, a)] for a in ("eigenfaces prior", "generator prior")]
        lines.append(f"| {judge} | " + " | ".join(f"{c:,.0f}" if c else "not within 10,000" for c in cells) + " |")
    lines.append("")
    return lines


def repeat_rows(faces, model, evaluator, steps_budget: int = 2_000, scales=(0.001, 0.01, 0.05),
                repeats=(1, 4, 16)) -> list[tuple]:
    """Noise averaged away: lineup when every probe is asked r times (the bill x r), small and large probes."""
    from lab_helpers.attacks import invert_black_box
    from lab_helpers.judges import judge
    from lab_helpers.service import ModelAPI

    rows = []
    for scale in scales:
        for sigma in (0.5, 32.0):
            for r in repeats:
                api = ModelAPI(model.predict_proba, "noisy", input_size=4096, noise_scale=scale)
                rec = invert_black_box(api, PEOPLE, queries_per_person=steps_budget * r, repeats=r, sigma=sigma,
                                       progress=False)
                rows.append((scale, sigma, r, api.queries // 40, judge(rec.images, PEOPLE, faces, evaluator).template_lineup))
    return rows


def pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def report(cpus: int, rate: float, iterations: int, white, black, labs, slider=None, costs=None, repeats=None,
           judges=None, gateway=None, prior=None, class_rows=None) -> str:
    """docs/performance.md."""
    lines = [
        "# Performance", "",
        f"Measured by `benchmarks/run_benchmarks.py` on {dt.date.today().isoformat()}: {platform.processor() or platform.machine()}, "
        f"{cpus} usable CPU core(s), torch {torch.__version__} with {torch.get_num_threads()} thread(s). "
        f"Measured float32 matrix-multiply rate for the forward pass's shape: **{rate:.1f} GFLOP/s**.", "",
        f"## White-box MI-FACE, 40 identities, {iterations} iterations, same softmax model (best of 2 runs)", "",
        "| attack | seconds | lineup | correlation top-1 | evaluator top-1 | evaluator top-5 |", "|---|---|---|---|---|---|",
    ]
    for name, seconds, v in white:
        lines.append(f"| {name} | {seconds:.2f} | {pct(v.template_lineup)} | {pct(v.template_correlation)} | {pct(v.recognised_top1)} | {pct(v.recognised_top5)} |")
    art = {n.split("(")[1]: s for n, s, _ in white if n.startswith("ART")}
    kit = {n.split("(")[1]: s for n, s, _ in white if n.startswith("kit, ART")}
    default = next(s for n, s, _ in white if n.startswith("kit default"))
    lines += ["", "ART's MIFace follows the gradient of the target class's logit (its `class_gradient`), one backward pass per "
              "distinct label per step; the kit runs one batched pass for all 40. Speed-up, same algorithm and start: "
              + ", ".join(f"**{art[k] / kit[k]:.0f}x** ({k[:-1]})" for k in sorted(art))
              + f"; the kit's default attack against ART as ART starts by default (zeros, i.e. black): "
              f"**{art['logit ascent, black start)'] / default:.0f}x**, and against ART from a grey start: "
              f"**{art['logit ascent, grey start)'] / default:.0f}x**.", ""]
    seconds, v, queries, gflop = black
    lines += [f"## Black-box MI-FACE, 40 identities x {queries // 40:,} queries (full probabilities)", "",
              "| wall time | compute floor (forward passes at the measured rate) | ratio | recognised: evaluator top-1 | "
              "nearest photo | template: lineup | correlation top-1 |", "|---|---|---|---|---|---|---|",
              f"| {seconds:.1f} s | {gflop:.0f} GFLOP = {gflop / rate:.1f} s | {seconds / (gflop / rate):.1f}x | "
              f"{pct(v.recognised_top1)} | {pct(v.recognised_nearest)} | {pct(v.template_lineup)} | "
              f"{pct(v.template_correlation)} |", ""]
    if judges:
        from judges_side_by_side import report as judges_report

        lines += [judges_report(judges, cpus)]
    if costs:
        from cost_curves import report as cost_report

        lines += [cost_report(costs, cpus)]
    if repeats:
        lines += ["## Noise averaged away: every probe asked r times", "",
                  "The same number of gradient steps (2,000 queries per person at r = 1), so the bill is r times larger. "
                  "Small probes (σ = 0.5, lab 03's) and large ones (σ = 32, the adaptive attacker's).", "",
                  "| noise scale | probe size σ | repeats r | queries per person | lineup |", "|---|---|---|---|---|"]
        lines += [f"| {s} | {sigma:g} | {r} | {q:,} | {pct(v)} |" for s, sigma, r, q, v in repeats]
        lines.append("")
    if prior:
        lines += prior_report(prior)
    if gateway:
        from gateway_load import report as gateway_report

        lines += [gateway_report(gateway)]
    if class_rows:
        from class_round import report as class_report

        lines += [class_report(class_rows)]
    if slider:
        lines += ["## Lab 04 control panel", "",
                  f"One slider move (every setting, three times, cache warm): median **{1000 * slider[0]:.1f} ms**, "
                  f"slowest {1000 * slider[1]:.1f} ms; the first move to each setting draws its two picture rows "
                  f"(median {1000 * slider[2]:.0f} ms), later ones reuse them (budget: well under 300 ms for a move "
                  "to a setting already seen, about a quarter of a second for a first visit; the tests check only "
                  "that a move runs no attack).", ""]
    if labs:
        from lab_starts import report as lab_report

        lines += [lab_report(labs, None, cpus)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--no-labs", action="store_true", help="skip the per-lab runs")
    parser.add_argument("--output", default=str(KIT / "docs" / "performance.md"))
    args = parser.parse_args()
    cpus = len(os.sched_getaffinity(0))
    if cpus != 1:
        print(f"warning: {cpus} cores usable; run under `taskset -c 0` to measure on one CPU")
    torch.set_num_threads(cpus)

    from lab_helpers.data import load_faces
    from lab_helpers.targets import train_face_model
    from lab_helpers.judges import train_evaluator

    faces = load_faces()
    model, evaluator = train_face_model(faces, "softmax", progress=False), train_evaluator(faces, progress=False)
    rate = matmul_rate()
    white = white_box_rows(faces, model, evaluator, args.iterations)
    black = black_box_row(faces, model, evaluator)
    slider = slider_row(faces, model, evaluator)
    from cost_curves import measure as cost_curves
    from judges_side_by_side import measure as judges_side_by_side

    costs = cost_curves()
    repeats = repeat_rows(faces, model, evaluator)
    judges = judges_side_by_side()
    from gateway_load import gateway_load

    gateway = gateway_load()
    from class_round import class_round

    class_rows = class_round()
    prior = prior_rows()
    labs = [] if args.no_labs else lab_rows()
    text = report(cpus, rate, args.iterations, white, black, labs, slider, costs, repeats, judges, gateway, prior,
                  class_rows)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    from service_review import report as review_report, review

    text += "\n\n" + review_report(review())
    Path(args.output).write_text(text + "\n")
    print(text)
    from lab_starts import over_budget

    for line in over_budget(labs):
        print(f"OVER BUDGET: {line}", file=sys.stderr)
    if over_budget(labs):
        raise SystemExit(1)


if __name__ == "__main__":
    main()

"""Watching by network segment (issue 26): does counting every address of a /24 as one source catch lab 06's
twelve-address attacker, and what does it cost ordinary clients who share a network?

    taskset -c 0 python benchmarks/network_segments.py     # about 3 minutes on one CPU

Rewrites the section "## Watching by network segment" of docs/performance.md. The adaptive detector of lab 06 (its
thresholds unchanged), per address (the service's default) and per /24 segment (`segment_prefix=24`). The attacker:
the kit's slow evader, twelve keys at 200 queries an hour and 400 a day each, random block offsets, lab 06's eight
people at 2,000 queries per person (the kit's test of "what no detector catches"), on a simulated clock, the flagged
keys suspended. Ordinary clients: whole sites of lab 06's ordinary users (three door cameras, two clinicians, a ward
dashboard and the four benign patterns: 10 keys, about 3,000 requests a day), each key at its own address.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(KIT))

SECTION = "## Watching by network segment"
TARGETS = tuple(range(2, 40, 5))  # lab 06's eight people
SITES = (1, 3, 10)


def attacker_run(faces, model, evaluator, prefix: int | None, spread: bool) -> dict:
    """The twelve-key evader; spread=True puts each key in its own /24, else all in 192.0.2.0/24."""
    import numpy as np

    from lab_helpers.attacks.evasion import Pacing, evade_black_box
    from lab_helpers.defences import AdaptiveDetector, SimulatedClock, time_to_detection
    from lab_helpers.judges import judge
    from lab_helpers.service import Gateway, ModelAPI

    keys = tuple(f"slow-{i}" for i in range(12))
    clock = SimulatedClock()
    gateway = Gateway(AdaptiveDetector(segment_prefix=prefix), clock, block_on_alert=True)
    sources = {k: (f"198.51.{100 + i}.7" if spread else f"192.0.2.{i}") for i, k in enumerate(keys)}
    apis = {k: gateway.key(k, ModelAPI(model.predict_proba, "probabilities", input_size=4096), source=sources[k])
            for k in keys}
    pacing = Pacing(batch=100, gap_seconds=150, per_key_per_day=400, max_days=10)
    start = time.perf_counter()
    run = evade_black_box(apis, np.array(TARGETS), queries_per_person=2_000, offset=0.03, pacing=pacing, clock=clock)
    first = time_to_detection(gateway.requests(), gateway.alert_frame(), keys)
    verdict = judge(run.images, np.array(TARGETS), faces, evaluator)
    return {"alerts": len(gateway.alerts), "first": first, "finished": run.finished, "answered": run.answered,
            "days": run.days, "stopped": run.stopped_by, "lineup": verdict.template_lineup,
            "recognised": verdict.recognised_top1, "seconds": time.perf_counter() - start}


def ordinary_run(faces, people, model, sites: int, prefix: int | None) -> dict:
    """`sites` whole sites of ordinary users, each key at its own address of 203.0.113.0/24."""
    import dataclasses

    from lab_helpers.defences import AdaptiveDetector
    from lab_helpers.service import ordinary_traffic, watch_traffic

    events = []
    for s in range(sites):
        events += [dataclasses.replace(e, user=f"{e.user}-site{s}")
                   for e in ordinary_traffic(faces, people, start=0.0, seed=s, patterns=True)]
    users = sorted({e.user for e in events})
    sources = {u: f"203.0.113.{i + 1}" for i, u in enumerate(users)}
    gateway = watch_traffic(events, AdaptiveDetector(segment_prefix=prefix), face_model=model, data=people, source=sources)
    flagged = sorted({a["key_id"] for a in gateway.alerts})
    return {"keys": len(users), "requests": len(events), "flagged": len(flagged),
            "rules": sorted({a["rule"] for a in gateway.alerts}), "who": sorted({k.split("-site")[0] for k in flagged})}


def measure() -> dict:
    from lab_helpers.data import load_faces, load_people
    from lab_helpers.judges import train_evaluator
    from lab_helpers.targets import train_face_model

    faces, people = load_faces(seed=0), load_people()
    model = train_face_model(faces, "softmax", progress=False)
    evaluator = train_evaluator(faces, progress=False)
    attacks = {(prefix, spread): attacker_run(faces, model, evaluator, prefix, spread)
               for prefix, spread in ((None, False), (24, False), (24, True))}
    ordinary = {(sites, prefix): ordinary_run(faces, people, model, sites, prefix) for sites in SITES for prefix in (None, 24)}
    return {"attacks": attacks, "ordinary": ordinary}


def report(results: dict, cpus: int) -> str:
    import datetime as dt

    def pct(x: float) -> str:
        return f"{100 * x:.0f} %"

    lines = [SECTION, "",
             f"Measured by `benchmarks/network_segments.py` on {dt.date.today().isoformat()}, {cpus} usable CPU core(s). "
             "The adaptive detector of lab 06 with its thresholds unchanged, counting sources per address (the "
             "service's default) or per /24 segment (`AdaptiveDetector(segment_prefix=24)`). **The attacker**: twelve "
             "keys at 200 queries an hour and 400 a day each, random block offsets, lab 06's eight people at 2,000 "
             "queries per person, flagged keys suspended; judged by the template lineup (chance 20 %) and the strict "
             "evaluator (chance 2.5 %).", "",
             "| twelve keys from | counted per | alerts | first alert | attack | lineup | recognised |",
             "|---|---|---|---|---|---|---|"]
    names = {(None, False): ("one /24 (192.0.2.0-11)", "address"), (24, False): ("one /24 (192.0.2.0-11)", "/24"),
             (24, True): ("twelve /24s", "/24")}
    for key, r in results["attacks"].items():
        where, per = names[key]
        first = r["first"]
        when = "none" if not first else f"after {first['queries']:,} queries"
        attack = f"finished in {r['days']:.1f} days" if r["finished"] else f"stopped: {r['stopped']} ({r['answered']:,} answered)"
        lines.append(f"| {where} | {per} | {r['alerts']} | {when} | {attack} | {pct(r['lineup'])} | {pct(r['recognised'])} |")
    lines += ["", "**Ordinary clients who share a network** (each key at its own address of 203.0.113.0/24; one "
              "site is lab 06's ordinary day: 10 keys, about 3,000 requests): keys flagged in 24 hours. Per address, "
              "the same users behind one NAT address are counted exactly as per /24 here.", "",
              "| sites in the /24 | keys | requests | flagged, per address | flagged, per /24 | rule, who |",
              "|---|---|---|---|---|---|"]
    for sites in SITES:
        a, s = results["ordinary"][(sites, None)], results["ordinary"][(sites, 24)]
        lines.append(f"| {sites} | {a['keys']} | {a['requests']:,} | {a['flagged']} | {s['flagged']} | "
                     f"{', '.join(s['rules']) or '—'}; {', '.join(s['who']) or '—'} |")
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    from lab_starts import section_command

    section_command(__doc__, SECTION, lambda cpus, args: report(measure(), cpus))


if __name__ == "__main__":
    main()

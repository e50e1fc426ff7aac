"""A class's red-team/blue-team round under load: the class target run as an instructor runs it, many red learners at once.

    python benchmarks/class_round.py            # prints the table; run_benchmarks.py puts it in docs/performance.md

The class target runs in its own process (`python -m lab_helpers class-target start`), with ordinary traffic at
two doors ("open": the template; "guarded": the top label and its score only, a quota of 1,000 per key, the
adaptive detector suspending what it flags). The red learners run in this process, one thread each, every one
the kit's adaptive attacker on 4 people at 300 queries per person through one of the two doors; each size is a
new round. Bounded: every learner has a 120 s patience for rate limits and the whole round a 600 s limit.
"""
from __future__ import annotations

import csv
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(KIT))

SIZES = (10, 20, 30)
PEOPLE_EACH, BUDGET = 4, 300


def peak_mb(pid: int) -> float:
    """A process's peak resident memory so far (MB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def class_round(sizes=SIZES) -> list[dict]:
    """One round per class size: seconds, answers per second, refusals by status, server memory, utility, recovered."""
    import sqlite3

    import httpx

    from lab_helpers.attacks import fit_pca_prior
    from lab_helpers.classroom import POLICY_TEMPLATE, attack_door, class_setup, wait_for

    guarded = (POLICY_TEMPLATE.replace('outputs = ["probabilities", "label_score", "label"]',
                                       'outputs = ["label_score", "label"]')
               .replace("burst = 500 ", "burst = 100 ").replace("per_day = 100000", "per_day = 1000", 1)
               .replace("block_on_alert = false", "block_on_alert = true"))
    folder = Path(tempfile.mkdtemp(prefix="class-round-"))
    (folder / "open.toml").write_text(POLICY_TEMPLATE)
    (folder / "guarded.toml").write_text(guarded)
    most = max(sizes)
    (folder / "roster.csv").write_text("learner,team\n" + "".join(f"learner {i:02d},red\n" for i in range(most)))
    command = [sys.executable, "-m", "lab_helpers", "class-target", "start", "--folder", str(folder), "--port", "0",
               "--sources", "key", "--ordinary-every", "1", "--keys-out", str(folder / "keys.csv"),
               "--blue", f"open={folder / 'open.toml'}", "--blue", f"guarded={folder / 'guarded.toml'}",
               "--roster", str(folder / "roster.csv")]
    log = open(folder / "server.log", "w")  # noqa: SIM115 - written by the server until it stops
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_for(lambda: "Class target on http" in (folder / "server.log").read_text() or server.poll() is not None,
                        300), "the class target did not start"
        url = (folder / "server.log").read_text().split("Class target on ", 1)[1].split()[0]
        with open(folder / "keys.csv", newline="") as f:
            keys = {row["learner"]: row["key"] for row in csv.DictReader(f)}
        setup = class_setup()
        prior = fit_pca_prior(setup.public)
        rows = []
        for n_round, size in enumerate(sizes, start=1):
            if n_round > 1:
                started = httpx.post(f"{url}/class/next-round", headers={"X-API-Key": keys["instructor"]}, timeout=60,
                                     trust_env=False)
                assert started.status_code == 200, started.text
            runs, errors = {}, []

            def learner(i: int) -> None:
                name = f"learner {i:02d}"
                people = setup.people[[(PEOPLE_EACH * i + j) % len(setup.people) for j in range(PEOPLE_EACH)]]
                try:
                    runs[name] = attack_door(url, keys[name], ("open", "guarded")[i % 2], people, prior,
                                             queries_per_person=BUDGET, patience=120, seed=i)
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    errors.append(repr(exc))

            threads = [threading.Thread(target=learner, args=(i,), daemon=True) for i in range(size)]
            began = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join(max(1.0, 600 - (time.perf_counter() - began)))
            seconds = time.perf_counter() - began
            statuses: dict[int, int] = {}
            for door in ("open", "guarded"):
                with sqlite3.connect(folder / f"round-{n_round}" / f"{door}.sqlite") as db:
                    for status, count in db.execute("SELECT status, COUNT(*) FROM requests WHERE endpoint = 'predict' "
                                                    "GROUP BY status"):
                        statuses[status] = statuses.get(status, 0) + count
            board = httpx.get(f"{url}/class/scoreboard.json", timeout=30, trust_env=False).json()
            blue = {b["team"]: b for b in board["blue"]}
            answered = sum(r.queries for r in runs.values())
            rows.append({"learners": size, "finished": sum(r.stopped_by == "finished" for r in runs.values()),
                         "stopped": {s: sum(r.stopped_by == s for r in runs.values())
                                     for s in {r.stopped_by for r in runs.values()} if s != "finished"},
                         "errors": len(errors) + sum(t.is_alive() for t in threads), "seconds": seconds,
                         "answers": answered, "per_second": answered / seconds, "statuses": statuses,
                         "server_peak_mb": peak_mb(server.pid),
                         "utility": {d: blue[d]["utility"] for d in blue},
                         "recovered": {d: blue[d]["people_recovered"] for d in blue},
                         "alerts": {d: blue[d]["alerts_on_red"] for d in blue}})
            print(rows[-1], flush=True)
        return rows
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def report(rows: list[dict]) -> str:
    """The markdown section for docs/performance.md."""
    pct = lambda v: "—" if v is None else f"{100 * v:.0f} %"  # noqa: E731
    lines = ["## A class round: the class target under many red learners", "",
             f"`class-target start` in its own process with two doors (open: the template; guarded: top label and "
             f"score only, 1,000 queries per key, the adaptive detector suspending what it flags) and ordinary traffic "
             f"(4 clients per door, one request a second each). Each learner: the kit's adaptive attacker on "
             f"{PEOPLE_EACH} people at {BUDGET} queries per person (planned for the door's published detector: "
             "randomised probes at both doors), half at each door, all at once; one round per class "
             "size. The learners share this process (one machine for the whole class), so the rates are a floor.", "",
             "| learners | finished / stopped by | seconds | answers | answers per second | 503s | server peak MB | "
             "utility open / guarded | recovered open / guarded | alerts guarded |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        stopped = ", ".join(f"{n} by {s}" for s, n in sorted(r["stopped"].items())) or "none"
        lines.append(f"| {r['learners']} | {r['finished']} finished; {stopped}; {r['errors']} errors | {r['seconds']:.0f} | "
                     f"{r['answers']:,} | {r['per_second']:.0f} | {r['statuses'].get(503, 0)} | {r['server_peak_mb']:.0f} | "
                     f"{pct(r['utility'].get('open'))} / {pct(r['utility'].get('guarded'))} | "
                     f"{r['recovered'].get('open')} / {r['recovered'].get('guarded')} of 20 | {r['alerts'].get('guarded')} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(class_round()))

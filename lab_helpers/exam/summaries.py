"""One page per lab for revision (`python -m lab_helpers summary NN` or `summary all`): the threat, the control, what
the control bought and an exam tip.

The threat, control and tip are written in data/summaries.json. What the control bought is the lab's own
measurement on this machine: each guided-path prediction keeps its measured result, in one or two sentences, in
data/cache/summaries/NN.json when it is measured (a learner locking in a prediction, `prepare`, or the test suite).
A lab not yet run says so instead of showing numbers from somewhere else.
"""
from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path

from ..paths import cache_dir, cache_lock, save_atomically
from .bank import _read_json

KEY = re.compile(r"^lab(\d\d)-")  # a prediction's key names its lab: 'lab03-white-box'


def summary_labs() -> list[str]:
    """Every lab with a summary page (00 to 10), in order."""
    return sorted(_read_json("summaries.json")["labs"])


def _path(lab: str) -> Path:
    return cache_dir() / "summaries" / f"{lab}.json"


def record_measurement(key: str, question: str, measured: str, why: str) -> None:
    """Keep a guided-path prediction's measured result for its lab's summary (a key not of the form 'labNN-...' is
    not a lab's and is not kept)."""
    found = KEY.match(key)
    if not found or found.group(1) not in summary_labs():
        return
    path = _path(found.group(1))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with cache_lock(path):
            kept = lab_measurements(found.group(1))
            kept[key] = {"question": question, "measured": measured, "why": why,
                         "when": time.strftime("%Y-%m-%d %H:%M", time.localtime())}
            save_atomically(path, lambda p: p.write_text(json.dumps(kept, indent=1), encoding="utf-8"))
    except OSError:  # a class hub's shared cache is read-only for learners: the summary keeps what `prepare` measured
        return


def lab_measurements(lab: str) -> dict[str, dict]:
    """The lab's kept measurements: prediction key -> question, measured, why, when (empty: not run here yet)."""
    path = _path(lab)
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except ValueError:
        return {}


def lab_title(lab: str) -> str:
    """The notebook's title without 'Lab NN — '."""
    from ..paths import solutions_dir

    notebook = next(solutions_dir().glob(f"{lab}_*.ipynb"))
    first = json.loads(notebook.read_text(encoding="utf-8"))["cells"][0]["source"]
    line = ("".join(first) if isinstance(first, list) else first).splitlines()[0]
    return line.lstrip("# ").split("—", 1)[-1].strip()


def lab_choice(lab: str) -> list[str]:
    """Lab numbers for 'NN', 'N' or 'all'; ValueError naming the labs otherwise."""
    labs = summary_labs()
    if str(lab).lower() == "all":
        return labs
    number = str(lab).zfill(2)
    if number not in labs:
        raise ValueError(f"There is no lab {lab}: choose one of {', '.join(labs)}, or all.")
    return [number]


PRINT_CSS = """
body { font: 12pt/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #111; max-width: 46rem; margin: 2rem auto;
       padding: 0 1rem; }
h1 { font-size: 20pt; margin: 0 0 .2rem; } h2 { font-size: 13pt; margin: 1rem 0 .3rem; color: #1f4e79; }
.lab { border-top: 3px solid #1f4e79; padding-top: .6rem; margin-bottom: 2.5rem; }
.exam { font-size: 10.5pt; color: #333; margin: 0; } .note { font-style: italic; color: #444; }
ul { margin: .2rem 0 .2rem 1.2rem; padding: 0; } li { margin-bottom: .35rem; } .when { font-size: 10pt; color: #444; }
@media print {
  @page { size: A4; margin: 15mm; }
  body { margin: 0; max-width: none; font-size: 11pt; }
  .lab { break-after: page; page-break-after: always; border-top-color: #000; margin: 0; }
  .lab:last-of-type { break-after: auto; page-break-after: auto; }
  h2 { color: #000; } a { color: #000; text-decoration: none; }
}
"""


def lab_summary_html(lab: str) -> str:
    """One lab's page: a <section> with the threat, the control, what it bought (its measurements here) and a tip."""
    text = _read_json("summaries.json")["labs"][lab]
    kept = lab_measurements(lab)
    e = html.escape
    if kept:
        bought = "".join(f"<li><b>{e(m['question'])}</b> {e(m['measured'][:1].upper() + m['measured'][1:])}"
                         f"<br><span class='why'>Why: {e(m['why'])}</span></li>" for m in kept.values())
        latest = max(m["when"] for m in kept.values())
        bought = f"<ul>{bought}</ul><p class='when'>Measured on this machine by lab {lab}, last on {e(latest)}.</p>"
    else:
        bought = (f"<p class='note'>Not measured on this machine yet: open lab {lab} and lock in its predictions "
                  "(or run <code>python -m lab_helpers prepare</code>), then write the summary again.</p>")
    return (f"<section class='lab' id='lab-{lab}'><h1>Lab {lab}: {e(lab_title(lab))}</h1>"
            f"<p class='exam'>CompTIA SecurityX (CAS-005), objective 1.5</p>"
            f"<h2>Threat</h2><p>{e(text['threat'])}</p><h2>Control</h2><p>{e(text['control'])}</p>"
            f"<h2>What it bought (this lab's measurements)</h2>{bought}<h2>Exam tip</h2><p>{e(text['tip'])}</p></section>")


def summary_html(labs: list[str]) -> str:
    """A printable HTML page: one section per lab, each on its own printed page."""
    title = f"Model Inversion Lab: lab {labs[0]} on one page" if len(labs) == 1 else "Model Inversion Lab: every lab on one page each"
    body = "\n".join(lab_summary_html(lab) for lab in labs)
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{PRINT_CSS}</style></head><body>\n{body}\n</body></html>\n")


def write_summary(lab: str, out: Path | str | None = None) -> Path:
    """Write the summary of lab NN (or 'all') to `out` (default: lab-NN-summary.html, or all-labs-summary.html)."""
    labs = lab_choice(lab)
    target = Path(out) if out else Path(f"lab-{labs[0]}-summary.html" if len(labs) == 1 else "all-labs-summary.html")
    if target.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"--out must name an .html file (got {target.name}).")
    target.write_text(summary_html(labs), encoding="utf-8")
    return target

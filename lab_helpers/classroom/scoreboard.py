"""The live scoreboard: one plain HTML page, legible on a projector, that reloads itself every few seconds."""
from __future__ import annotations

import base64
import io
import time
from html import escape

import numpy as np

REFRESH_SECONDS = 5

STYLE = """
body { font-family: system-ui, sans-serif; font-size: 18px; margin: 16px 24px; color: #111; background: #fff; }
h1 { font-size: 28px; margin: 0 0 4px; } h2 { font-size: 22px; margin: 18px 0 6px; }
p.note { font-size: 15px; color: #333; margin: 2px 0 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #bbb; padding: 4px 8px; text-align: right; }
td { white-space: nowrap; } td.text { white-space: normal; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
th { background: #e8eef7; font-size: 16px; }
tr.suspended td { background: #fde8e8; }
td.good { color: #075e07; font-weight: 600; } td.bad { color: #a40000; font-weight: 600; }
nav a { margin-right: 10px; }
"""


def _percent(share) -> str:
    return "no traffic yet" if share is None else f"{100 * share:.0f}&nbsp;%"


def render_scoreboard(board: dict, refresh: int = REFRESH_SECONDS) -> str:
    """The scoreboard as a complete HTML page (every name escaped; the current round reloads itself)."""
    n, people = board["round"], board["people"]
    head = (f'<meta http-equiv="refresh" content="{int(refresh)}">' if board["current"] else "")
    rounds = " ".join(f'<a href="?round={r}">round {r}</a>' for r in board["rounds"])
    if len(board["rounds"]) > 1:
        rounds += " &middot; galleries: " + " ".join(f'<a href="gallery?round={r}">round {r}</a>'
                                                      for r in board["rounds"][:-1])
    minutes = (time.time() - board["started"]) / 60
    red_rows = []
    for r in board["red"]:
        cls = ' class="suspended"' if r["suspended_at"] else ""
        red_rows.append(
            f"<tr{cls}><td>{escape(r['learner'])}</td><td class=\"text\">{escape(r['team'])}</td>"
            f"<td class=\"{'good' if r['recovered'] else ''}\">{r['recovered']} of {people}</td>"
            f"<td>{r['evaluator']}</td><td>{r['closer than public']}</td><td>{r['correlation']}</td>"
            f"<td>{r.get('template_only', 0)}</td>"
            f"<td>{r['submissions']}</td><td>{r['queries']:,}</td><td>{r['alerts']}</td>"
            f"<td class=\"text\">{escape(', '.join(r['suspended_at'])) or 'no'}</td></tr>")
    blue_rows = []
    for b in board["blue"]:
        house = "not run" if b["house_recovered"] is None else f"{b['house_recovered']} of {people}"
        blue_rows.append(
            f"<tr><td>{escape(b['team'])}</td><td class=\"text\">{escape(', '.join(b['members']))}</td>"
            f"<td>{_percent(b['utility'])}</td><td>{_percent(b['utility_by_kind']['camera'])}</td>"
            f"<td>{_percent(b['utility_by_kind']['app'])}</td>"
            f"<td class=\"{'bad' if b['people_recovered'] else 'good'}\">{b['people_recovered']} of {people}</td>"
            f"<td>{house}</td><td>{b['red_queries']:,}</td><td>{b['alerts_on_red']}</td><td>{b['false_alarms']}</td></tr>"
            f"<tr><td></td><td class=\"text\" colspan=\"9\"><small>{escape(b['policy'])}</small></td></tr>")
    empty = '<tr><td colspan="11" class="text">no one yet</td></tr>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">{head}
<title>Round {n} - red team vs blue team</title><style>{STYLE}</style></head>
<body>
<h1>Round {n}: red team versus blue team</h1>
<p class="note">{'Live: this page reloads every ' + str(int(refresh)) + ' s' if board['current'] else 'A finished round'}
 &middot; {minutes:.0f} min since the round started &middot; {people} private people to recover &middot; <nav>{rounds}</nav></p>
<h2>Red learners</h2>
<p class="note">Recovered means recognised: the evaluator names the person <em>and</em> the face is closer to their
private photos than to any public one (both referees are independent of the target). Template only: people whose
face matched their photos pixel by pixel (correlation) but was not recognised — a template that confirms a guess, not
a face anyone would put a name to; it scores nothing. Queries and alerts are summed over every door.</p>
<table><thead><tr><th>Learner</th><th class="text">Team</th><th>People recovered</th><th>Evaluator</th>
<th>Closer than public</th><th>Correlation</th><th>Template only</th><th>Submissions</th><th>Queries</th><th>Alerts</th>
<th class="text">Suspended at</th></tr></thead><tbody>{''.join(red_rows) or empty}</tbody></table>
<h2>Blue teams</h2>
<p class="note">Utility: the share of ordinary requests that the door answered with what they need (door cameras a
name, apps a name and its score); the model's own mistakes are not counted against the door. Recovered through the door: people any red learner recovered there. The house attacker
is the kit's own attack, adapted to the door's output, run with the same key rights as a learner.</p>
<table><thead><tr><th>Door</th><th class="text">Members</th><th>Utility</th><th>Cameras</th><th>Apps</th>
<th>Recovered through the door</th><th>House attacker</th><th>Red queries answered</th><th>Alerts on red</th>
<th>False alarms</th></tr></thead><tbody>{''.join(blue_rows) or empty}</tbody></table>
</body></html>
"""


def png_data_uri(image: np.ndarray, scale: int = 2) -> str:
    """A 64x64 grey image (0-255) as an inline PNG, enlarged by `scale` without smoothing."""
    from PIL import Image

    picture = Image.fromarray(np.asarray(image, dtype=np.uint8)).resize((64 * scale, 64 * scale), Image.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def render_gallery(n_round: int, items: list[dict], people: int) -> str:
    """A finished round's best reconstruction of each person (its image a PNG data URI), who made it, the verdicts."""
    cards = []
    for item in items:
        said = ", ".join(f"{j} {'yes' if v else 'no'}" for j, v in item["judges"].items())
        verdict = "recovered" if item["recovered"] else "not recovered"
        cards.append(f'<figure><img src="{item["image"]}" alt="reconstruction of person {item["person"]}" '
                     f'width="128" height="128"><figcaption><b>person {item["person"]}</b>: {verdict}<br>'
                     f'{escape(item["learner"])} at {escape(item["door"])}<br><small>{escape(said)}</small>'
                     "</figcaption></figure>")
    missing = people - len(items)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Round {n_round} - the best reconstructions</title>
<style>{STYLE} figure {{ display: inline-block; width: 200px; margin: 6px 10px; vertical-align: top; }}
figcaption {{ font-size: 15px; }} img {{ image-rendering: pixelated; border: 1px solid #999; }}</style></head>
<body><h1>Round {n_round}: the best reconstruction of each person</h1>
<p class="note">Best first by the referees' verdicts (recovered, then how many referees agreed). These are what the
red team rebuilt from the model's answers; the private photos stay on the service. {len(items)} of {people} people
have a submission{f"; {missing} have none" if missing else ""}. <a href="scoreboard?round={n_round}">back to the
scoreboard</a></p>
{''.join(cards) or '<p>No submissions in this round.</p>'}
</body></html>
"""

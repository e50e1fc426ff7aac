"""Exercise self-checks, and the placeholder that keeps a notebook running when an exercise is skipped."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..formatting import percent


class _PlaceholderInt(int):
    """An int handed out by `placeholder`: it behaves as the int, and a self-check can tell it is not an answer."""


class _PlaceholderFloat(float):
    """A float handed out by `placeholder` (see _PlaceholderInt)."""


_HANDED_OUT: list = []  # every object placeholder() returned, kept alive so that `is` identifies it


def placeholder(value: Any, what: str) -> Any:
    """Stand-in for an unfinished exercise: prints a visible note and returns value, marked as a placeholder."""
    print(f"✎ Exercise not done yet: {what}. A placeholder is used so the rest of the notebook runs; "
          "replace it with your code and re-run.")
    if isinstance(value, int) and not isinstance(value, bool):
        value = _PlaceholderInt(value)
    elif isinstance(value, float):
        value = _PlaceholderFloat(value)
    if isinstance(value, tuple):
        value = tuple(_PlaceholderInt(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value)
        _HANDED_OUT.extend(v for v in value if v is not None)
    if value is not None:
        _HANDED_OUT.append(value)
    return value


def is_placeholder(value: Any) -> bool:
    """True when value is (or holds) what `placeholder` handed out: the exercise has not been done yet."""
    if value is None or isinstance(value, (_PlaceholderInt, _PlaceholderFloat)):
        return value is not None
    return any(value is handed for handed in _HANDED_OUT)


def nothing_to_check(what: str) -> bool:
    """The one message every self-check gives for an untouched exercise (returns False: not passed)."""
    print(f"Nothing to check yet: {what}, then run this cell again.")
    return False


def check_score_reading(answers: dict, scores: np.ndarray) -> bool:
    """Self-check for lab 00: label, runner-up and how many identities score above 1 %."""
    scores = np.asarray(scores).ravel()
    order = np.argsort(scores)[::-1]
    truth = {"label": int(order[0]), "runner_up": int(order[1]), "above_1_percent": int((scores > 0.01).sum())}
    if not answers:
        print("Nothing to check yet: fill in the dictionary in the exercise cell.")
        return False
    ok = True
    for key, expected in truth.items():
        got = answers.get(key)
        if got is None:
            print(f"  · {key}: not answered yet")
            ok = False
        elif int(got) == expected:
            print(f"  ✔ {key} = {got}")
        else:
            print(f"  ✘ {key} = {got}; look again at the scores (hint: np.argsort, or (scores > 0.01).sum())")
            ok = False
    print("All correct." if ok else "Not all correct yet.")
    return ok


# ---------------------------------------------------------------- labs 01-02

def check_regularisation_choice(choice, sweep, tolerance: float = 0.02) -> bool:
    """Self-check for lab 01: a leaf size within tolerance of the best test accuracy that halves the advantage."""
    if choice is None or is_placeholder(choice):
        return nothing_to_check("set my_leaf_size to one of the leaf sizes in the sweep")
    sizes = [int(v) for v in sweep["min_samples_leaf"]]
    if not isinstance(choice, (int, np.integer)) or int(choice) not in sizes:
        print(f"  ✘ {choice!r} is not a leaf size in the sweep; pick one of {sizes}.")
        return False
    row = sweep.set_index("min_samples_leaf").loc[int(choice)]
    weakest = sweep.loc[sweep["min_samples_leaf"].idxmin()]
    best = float(sweep["test_accuracy"].max())
    accurate = row["test_accuracy"] >= best - tolerance - 1e-12
    halved = row["advantage"] <= weakest["advantage"] / 2 + 1e-12
    print(f"  {'✔' if accurate else '✘'} test accuracy {row['test_accuracy']:.1%}: best is {best:.1%}, "
          f"so it must be at least {best - tolerance:.1%}")
    print(f"  {'✔' if halved else '✘'} membership advantage {row['advantage']:.2f}: the overfit model's is "
          f"{weakest['advantage']:.2f}, so it must be at most {weakest['advantage'] / 2:.2f}")
    ok = bool(accurate and halved)
    print(f"All correct: leaf size {int(choice)} keeps accuracy and halves the leak." if ok else
          "Not yet: look for rows of the sweep table that pass both tests.")
    return ok


def scoring_cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The lab 02 self-check's test cases: name -> (label_scores, prior)."""
    rng = np.random.default_rng(7)
    prior3 = np.array([0.38, 0.44, 0.18])
    return {
        "the answer decides when it clearly favours one value": (np.array([[0.9, 0.1, 0.0]]), prior3),
        "the prior decides between two equally good answers": (np.array([[0.5, 0.5, 0.1]]), prior3),
        "the prior outweighs a slightly better answer": (np.array([[0.5, 0.4, 0.1]]), np.array([0.2, 0.7, 0.1])),
        "a rare value wins when the answer strongly backs it": (np.array([[0.05, 0.1, 0.95]]), prior3),
        "200 random people": (rng.dirichlet(np.ones(3), size=200), rng.dirichlet(np.ones(3) * 2, size=1)[0]),
    }


def check_candidate_scoring(score_fn) -> bool:
    """Self-check for lab 02: the scoring step picks the value the answer and the prior together favour."""
    import contextlib
    import io

    from ..attacks.probing import pick_best, score_candidates

    ok, notes = True, set()
    for name, (label_scores, prior) in scoring_cases().items():
        try:
            with contextlib.redirect_stdout(io.StringIO()) as said:  # say the placeholder's note once, not per case
                raw = score_fn(label_scores.copy(), prior.copy())
                got = np.asarray(raw, dtype=float)
        except Exception as exc:  # the learner's code: report, do not crash the notebook
            print(f"  ✘ {name}: your function raised {type(exc).__name__}: {exc}")
            ok = False
            continue
        finally:
            if said.getvalue().strip() and said.getvalue() not in notes:
                notes.add(said.getvalue())
                print(said.getvalue().rstrip())
        if is_placeholder(raw):
            return nothing_to_check("write my_score_candidates in the exercise cell")
        if got.shape != label_scores.shape:
            print(f"  ✘ {name}: expected one score per person and value, shape {label_scores.shape}; got {got.shape}")
            ok = False
        elif np.array_equal(pick_best(got, prior), pick_best(score_candidates(label_scores, prior), prior)):
            print(f"  ✔ {name}")
        else:
            same = np.allclose(got, got.ravel()[0])
            print(f"  ✘ {name}" + (": every candidate gets the same score (still the placeholder?)" if same else
                                   ": combine the answer's score for the label with the prior"))
            ok = False
    print("All correct." if ok else "Not all correct yet.")
    return ok


def update_step_problem(update) -> str | None:
    """Try a learner's update step on a tiny example: None when it steps down the gradient and keeps pixels in [0, 1]."""
    import torch

    x = torch.tensor([[0.5, 0.5, 0.98, 0.02]])
    gradient = torch.tensor([[1.0, -1.0, -1.0, 1.0]])  # the last two would push pixels out of [0, 1]
    try:
        out = torch.as_tensor(update(x.clone(), gradient.clone(), 0.1), dtype=torch.float32)
    except Exception as exc:  # the learner's code: report, do not crash the notebook
        return f"my_update_step raised {type(exc).__name__}: {exc}"
    if out.shape != x.shape:
        return f"my_update_step must return images shaped like x {tuple(x.shape)}; it returned {tuple(out.shape)}"
    if not (out[0, 0] < 0.5 < out[0, 1]):
        return ("my_update_step moves x up the gradient or not at all: step *down* it, "
                "x - step_size * gradient, so the cost falls")
    if float(out.min()) < 0 or float(out.max()) > 1:
        return "my_update_step lets pixels leave [0, 1]: a photo has no such pixels, so keep them in range with .clamp(0, 1)"
    return None


def check_reconstructions(verdict, images=None, update=None) -> bool:
    """Self-check for lab 03: a correct update step, and reconstructions recognisable far above chance."""
    if is_placeholder(update):
        return nothing_to_check("write my_update_step in the exercise cell")
    lineup, corr = verdict.template_lineup, verdict.template_correlation
    print(f"  lineup: {percent(lineup)} (chance {percent(verdict.chance_lineup)}); correlation judge top-1: "
          f"{percent(corr)} (chance {percent(verdict.chance_top1)}); evaluator top-1: {percent(verdict.recognised_top1)}")
    problem = update_step_problem(update) if update is not None else None
    if problem:
        print(f"✘ {problem}.")
        return False
    if images is not None and (float(np.min(images)) < 0 or float(np.max(images)) > 1):
        print("✘ Some pixels are outside [0, 1]: keep them in range with .clamp(0, 1).")
        return False
    ok = lineup >= 0.5 and corr >= 0.25
    if ok:
        print("✔ Your reconstructions are valid images, recognisable far above chance.")
    elif lineup < verdict.chance_lineup - 0.05:
        print("✘ Below chance: the images moved away from each person. Step *down* the gradient of the cost "
              "(x - step_size * gradient), not up.")
    elif lineup <= verdict.chance_lineup + 0.05:
        print("✘ At chance: the images hardly changed. Does my_update_step return the new images, "
              "x - step_size * gradient, kept in [0, 1]?")
    else:
        print("✘ Better than chance but weak: raise my_iterations.")
    return ok


# ---------------------------------------------------------------- lab 04


def check_output_choice(choice, data, **requirements) -> bool:
    """Self-check for lab 04: the setting that keeps the users' requirements and holds the adaptive attacker, or None."""
    from .control_panel import acceptable_settings

    if is_placeholder(choice):
        return nothing_to_check("set my_choice to the setting you chose, e.g. ('rounded', 2), or None if none qualifies")
    good = acceptable_settings(data, **requirements)
    naive_only = [s for s in acceptable_settings(data, attacker="naive", **requirements) if s not in good]
    if choice is None:
        if good:
            print(f"✘ Some settings do meet all three requirements: {good}. Pick the one with the least detail.")
            return False
        print("✔ Right: no output setting alone meets all three. Against the adaptive attacker every setting that keeps "
              "the users' requirements still lets the strict evaluator recognise more than 5 % of the faces (chance "
              "2.5 %)" + (f"; {naive_only} would have passed against "
              "the naive attacker only" if naive_only else "") + ". Output minimisation has to be paired with controls "
              "on who may ask how often (lab 06).")
        return True
    if choice not in data.results:
        print(f"✘ {choice!r} is not one of the panel's settings; use a key such as ('rounded', 2), ('label', None), or None.")
        return False
    r = data.results[choice]
    print(f"  {r.policy.describe()}: top-5 from what is shown {percent(r.utility['top5'])}, score error "
          f"{r.utility['score_error']:.3f}, recognised in the adaptive attacker's images {percent(r.adaptive.recognised_top1)} "
          f"(in the naive attacker's {percent(r.face.recognised_top1)}; chance 2.5 %)")
    if choice in good:
        print(f"✔ Meets all three requirements. All settings that do: {good}")
        return True
    if choice in naive_only:
        print("✘ It holds the naive attacker, but not the adaptive one: that is the attacker the requirement is about.")
    else:
        print("✘ Not yet: either the users lose too much (top-5 below 98 % or score error above 0.02) or the strict "
              "evaluator recognises more than 5 % of the adaptive attacker's faces.")
    return False


# ---------------------------------------------------------------- lab 06


def check_detection_rule(rule, attack_log, ordinary_log, attackers) -> bool:
    """Self-check for lab 06: your rule flags every attacker's key and no ordinary user's key."""
    from ..defences.monitoring import first_flag

    if is_placeholder(rule):
        return nothing_to_check("write my_rule(history) in the exercise cell")
    ok, answered = True, ordinary_log[(ordinary_log["status"] == 200) & (ordinary_log["endpoint"] == "predict")]
    try:
        for key in attackers:
            at = first_flag(rule, attack_log, key)
            print(f"  {'✔' if at else '✘'} attacker {key}: " + (f"flagged after {at:,} queries" if at else "never flagged"))
            ok &= at is not None
        false_alarms = [key for key in answered["key_id"].unique() if first_flag(rule, ordinary_log, key) is not None]
    except Exception as exc:  # the learner's code: report, do not crash the notebook
        print(f"  ✘ your rule raised {type(exc).__name__}: {exc}")
        return False
    users = answered["key_id"].nunique()
    print(f"  {'✔' if not false_alarms else '✘'} ordinary users flagged: {len(false_alarms)} of {users}"
          + (f" ({', '.join(false_alarms)})" if false_alarms else ""))
    ok &= not false_alarms
    print("All correct: your rule catches the attacks and leaves ordinary users alone." if ok else
          "Not yet: an attacker's key must make the rule return True; no ordinary key may.")
    return bool(ok)


def check_rate_limit(limit, attack_queries: int, dashboard=None) -> bool:
    """Self-check for lab 06: the dashboard never hears 429 or 413, and the attack needs more than a day."""
    from ..defences.access import RateLimit
    from ..service.traffic import Dashboard, simulate_dashboard

    dashboard = dashboard or Dashboard()
    if is_placeholder(limit) or not isinstance(limit, RateLimit):
        return nothing_to_check("set my_limit = RateLimit(burst=..., per_minute=..., per_day=...)")
    run = simulate_dashboard(limit, dashboard)
    works = run["refused"] == 0
    print(f"  {'✔' if works else '✘'} dashboard ({dashboard.batch} queries every {dashboard.every_minutes:g} min, "
          f"{dashboard.queries_per_day:,} a day): {run['refused']} of {run['refreshes']} refreshes refused"
          + ("" if works else f" {run['statuses']}: the burst must hold one refresh, the rate and the daily quota a day of them"))
    days = limit.days_needed(attack_queries)
    slow = days > 1
    print(f"  {'✔' if slow else '✘'} attack of {attack_queries:,} queries under {limit.describe()}: {days:,.1f} days"
          + ("" if slow else " (it finishes within a day: lower the sustained rate or the daily quota)"))
    ok = works and slow
    print("All correct." if ok else "Not yet.")
    return ok


# ---------------------------------------------------------------- lab 07

def check_privacy_review(answers: dict) -> bool:
    """Self-check for lab 07: every review item answered as the release's facts say, with evidence for each 'yes'."""
    from ..governance.review import PRIVACY_REVIEW, REVIEW_FACTS, review_privacy

    if not answers:
        print("Nothing to check yet: fill in my_review with ('yes' or 'no', evidence) for every item.")
        return False
    outcome = review_privacy(answers)
    ok = True
    for item in PRIVACY_REVIEW:
        raw = answers.get(item.key)
        status = str(raw[0]).strip().lower() if isinstance(raw, (tuple, list)) and raw else None
        fact, expected = REVIEW_FACTS[item.key]
        if status is None:
            print(f"  · {item.key}: not answered yet")
            ok = False
        elif status != expected:
            print(f"  ✘ {item.key}: you said {status!r}; re-read the fact: {fact}")
            ok = False
        else:
            print(f"  ✔ {item.key}: {status}")
    for problem in outcome.problems:
        print(f"  ✘ {problem}")
    ok = ok and not outcome.problems
    print("All correct: the review is filled in as the facts say." if ok else "Not all correct yet.")
    return ok


def check_release_fix(gates: dict, *answers) -> bool:
    """Self-check for lab 07: both fixed releases pass the release gate (leakage held and accuracy kept)."""
    if any(is_placeholder(answer) for answer in answers):
        return nothing_to_check("choose my_leaf_size and my_kiosk_policy in the exercise cell")
    ok = True
    for name, gate in gates.items():
        if gate.passed:
            print(f"  ✔ {name}: the release gate passes")
        else:
            failed = ", ".join(c.title for c in gate.failed)
            print(f"  ✘ {name}: blocked by {failed}. Read what to change in the gate's message above.")
            ok = False
    print("All correct: both releases pass the gate." if ok else "Not yet: change your settings and run the cell again.")
    return ok


# ---------------------------------------------------------------- lab 05

def check_smallest_epsilon(choice, attack, sweep, floor: float, judge: str = "correlation top-1") -> bool:
    """Self-check for lab 05: the smallest ε whose test accuracy meets the floor, and the attack's success there."""
    if choice is None or is_placeholder(choice):
        return nothing_to_check("set my_epsilon to one of the ε values in the sweep")
    levels = [float(e) for e in sweep.index]
    if not isinstance(choice, (int, float, np.integer, np.floating)) or float(choice) not in levels:
        print(f"  ✘ {choice!r} is not a target ε of the sweep; pick one of {levels}.")
        return False
    meets = [e for e in levels if sweep.loc[e, "test accuracy"] >= floor - 1e-12]
    best = min(meets) if meets else None
    accuracy = float(sweep.loc[float(choice), "test accuracy"])
    if accuracy < floor - 1e-12:
        print(f"  ✘ at ε = {choice:g} test accuracy is {accuracy:.1%}, below the floor of {floor:.0%}: go less private.")
        return False
    if best is not None and float(choice) != best:
        print(f"  ✘ ε = {choice:g} meets the floor ({accuracy:.1%}), but a smaller ε does too: go more private.")
        return False
    print(f"  ✔ ε = {choice:g} is the smallest ε in the sweep with test accuracy ≥ {floor:.0%} ({accuracy:.1%})")
    truth = float(sweep.loc[float(choice), judge])
    if attack is None or not isinstance(attack, (int, float, np.integer, np.floating)):
        print(f"  · attack: not answered yet (read the {judge!r} column at your ε)")
        return False
    if abs(float(attack) - truth) > 1e-9:
        print(f"  ✘ attack = {attack}; read the {judge!r} column of the sweep at ε = {choice:g}")
        return False
    print(f"  ✔ MI-FACE still succeeds for {percent(truth)} of the 40 people there ({judge}, chance 2.5 %)")
    print("All correct.")
    return True


# ---------------------------------------------------------------- lab 08

def check_prior_defence(choice, table, floor: float, judge: str = "black-box: closer than any public face") -> bool:
    """Self-check for lab 08: the defence that keeps test accuracy at the floor and leaves the prior attacker least."""
    if choice is None or is_placeholder(choice):
        return nothing_to_check("set my_defence to one of the defences in the table")
    if choice not in table.index:
        print(f"  ✘ {choice!r} is not a row of the table; pick one of: {', '.join(table.index)}.")
        return False
    usable = table[table["test accuracy"] >= floor - 1e-12]
    if table.loc[choice, "test accuracy"] < floor - 1e-12:
        print(f"  ✘ {choice} keeps only {table.loc[choice, 'test accuracy']:.1%} test accuracy, below the floor of "
              f"{floor:.0%}: the product cannot ship it.")
        return False
    best = usable[judge].min()
    if table.loc[choice, judge] > best + 1e-12:
        print(f"  ✘ {choice} leaves the attacker {table.loc[choice, judge]:.0%} ({judge}); another usable defence "
              f"leaves {best:.0%}.")
        return False
    print(f"  ✔ {choice}: test accuracy {table.loc[choice, 'test accuracy']:.1%}, {judge} {table.loc[choice, judge]:.0%} "
          f"— the least any defence above the floor leaves.")
    print("All correct.")
    return True


def _ordinary_requests_now(practice, enough, seed: int, most_ticks: int = 12) -> None:
    """The practice door's ordinary clients send their next requests now (a tick at a time, until `enough()`), rather
    than the check waiting on their one-a-second clock: the same clients, requests and counting, in seconds less."""
    from ..classroom.session import OrdinaryTraffic

    if getattr(practice, "traffic", None) is None or not hasattr(practice, "target"):
        return  # no ordinary clients in this class: the wait that follows says so
    import httpx

    clients = OrdinaryTraffic(practice.target, practice.url, seed=seed)  # its own random draws, never started
    with httpx.Client(timeout=10.0, trust_env=False) as http:
        for _ in range(most_ticks):
            if enough():
                return
            clients.tick(http)


def check_blue_policy(practice, policy_text, prior, people, budget: int = 300, max_queries: int = 1_000) -> bool:
    """Self-check for lab 09: a new practice round with this policy, the adaptive attacker and the ordinary clients.

    Passes when every ordinary client still gets what it needs (at least 90 % of camera and app requests),
    the adaptive attacker finds no scored output to follow (its strongest attack left is the label-only one),
    and one key can get at most `max_queries` answers in the round.
    """
    from ..classroom import PolicyFileError, attack_door, new_practice_round, parse_blue_policy, wait_for

    if policy_text is None or is_placeholder(policy_text):
        return nothing_to_check("set my_policy to the text of your policy file")
    if not getattr(practice, "running", True):
        print("  ✘ The practice class is stopped (the notebook's last cell stops it). Run the cell that starts it "
              "(`practice = practice_class()`, near the top) again, then this check.")
        return False
    try:
        policy = parse_blue_policy("practice", policy_text, "my_policy")
    except PolicyFileError as exc:
        print(f"  ✘ {exc}")
        return False
    started = new_practice_round(practice, policy_text)
    n = started["round"]
    run = attack_door(practice.url, practice.keys["you"], "practice", people, prior, queries_per_person=budget,
                      patience=30)
    url = f"{practice.url}/class/scoreboard.json"

    def board() -> dict:
        import httpx

        return httpx.get(url, params={"round": n}, timeout=30, trust_env=False).json()

    _ordinary_requests_now(practice, lambda: board()["blue"][0]["ordinary_sent"] >= 24, seed=n)
    wait_for(lambda: board()["blue"][0]["ordinary_sent"] >= 24, 90, every=1.0)
    door = board()["blue"][0]
    camera, app = door["utility_by_kind"]["camera"] or 0.0, door["utility_by_kind"]["app"] or 0.0
    print(f"Round {n}: {policy.summary()}")
    print(f"  the adaptive attacker chose {run.attack} on '{run.output}', got {run.queries:,} answers "
          f"({run.stopped_by}), recovered {run.recovered} of {len(people)}")
    print(f"  ordinary traffic: cameras served {camera:.0%}, apps served {app:.0%} ({door['ordinary_sent']} requests)")
    ok = True
    if min(camera, app) < 0.9:
        who = "apps (they need a name and its score)" if app < 0.9 else "cameras"
        print(f"  ✘ the {who} lost service: the policy refuses or throttles ordinary requests.")
        ok = False
    if run.attack != "label-only (prior)":
        print(f"  ✘ app keys can still ask for '{run.output}', which shows the score of the person being attacked: "
              "the attacker follows it.")
        ok = False
    quota = policy.roles["app"].limit.per_day
    if quota > max_queries:
        print(f"  ✘ one app key may get {quota:,} answers in a round; cap it at {max_queries:,} (per_day).")
        ok = False
    if ok:
        print("  ✔ ordinary clients keep their service; the attacker is left with labels and a capped budget.")
        print("All correct.")
    return ok

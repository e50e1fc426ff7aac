"""`python -m lab_helpers class-target ...`: the instructor's commands for the red-team/blue-team round."""
from __future__ import annotations

import argparse
import os
import sys


def _blue_teams(specs: list[str]) -> dict[str, str]:
    teams = {}
    for spec in specs or []:
        team, sep, path = spec.partition("=")
        if not sep or not team or not path:
            raise ValueError(f"--blue takes TEAM=POLICY-FILE, e.g. --blue blue-1=blue-1.toml (got {spec!r})")
        teams[team.strip().lower()] = path.strip()
    return teams


def cmd_start(args: argparse.Namespace) -> int:
    """Start (or resume) a class target: doors per blue team, keys for the roster, scoreboard, ordinary traffic."""
    from ..classroom.policy import PolicyFileError
    from ..classroom.session import serve_class
    from ..classroom.shared_target import ClassSetupError, ClassTarget
    from ..data.face_photos import FaceDataMissing

    try:
        teams = _blue_teams(args.blue)
        target = ClassTarget(args.folder, teams, roster=args.roster, sources=args.sources)
    except (ClassSetupError, PolicyFileError, FaceDataMissing, ValueError) as exc:
        print(f"class-target: {exc}", file=sys.stderr)
        return 2
    if target.new_keys:
        path = target.write_keys(args.keys_out or os.path.join(args.folder, f"keys-round-{target.round}.csv"))
        print(f"{len(target.new_keys)} new key(s) written to {path} (hand each learner their own line; the instructor "
              "key is the line 'instructor')")
    else:
        print(f"Resuming the class in {args.folder}: round {target.round}; keys were handed out when it was created.")

    def announce(url: str) -> None:
        print(f"Class target on {url}  (Ctrl-C to stop; scores are kept in {target.db.path})")
        print(f"  scoreboard: {url}/class/scoreboard")
        for team in target.teams:
            print(f"  door {team}: {url}/doors/{team}  -- {target.doors[team].policy.summary()}")
        print(f"  next round (re-reads the policy files): python -m lab_helpers class-target next-round --url {url} "
              "--key INSTRUCTOR-KEY", flush=True)
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            print(f"  Note: learners on your network can reach {args.host}; there is no TLS: use it on a class "
                  "network only.", flush=True)

    try:
        serve_class(target, args.host, args.port, None if args.no_ordinary else args.ordinary_every,
                    args.house or None, args.house_seconds, announce)
    except OSError as exc:
        print(f"class-target: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    print("Stopped. The scores and audit logs are kept; start again with the same --folder to resume.")
    return 0


def cmd_next_round(args: argparse.Namespace) -> int:
    """Ask a running class target to re-read the blue teams' policy files and start the next round."""
    import httpx

    key = args.key or os.environ.get("LAB_CLASS_INSTRUCTOR_KEY")
    if not key:
        print("class-target: give the instructor key (--key, or LAB_CLASS_INSTRUCTOR_KEY)", file=sys.stderr)
        return 2
    try:
        with httpx.Client(timeout=60, trust_env=False) as http:
            response = http.post(f"{args.url.rstrip('/')}/class/next-round", headers={"X-API-Key": key})
    except httpx.HTTPError as exc:
        print(f"class-target: cannot reach {args.url} ({exc})", file=sys.stderr)
        return 2
    payload = response.json()
    if response.status_code != 200:
        print(f"class-target: HTTP {response.status_code}: {payload.get('error')}", file=sys.stderr)
        return 1
    print(f"Round {payload['round']} started.")
    for team, summary in payload["doors"].items():
        print(f"  {team}: {summary}")
    return 0


def cmd_policy_template(args: argparse.Namespace) -> int:
    """Print a blue team's policy file to start from."""
    from ..classroom.policy import POLICY_TEMPLATE

    print(POLICY_TEMPLATE, end="")
    return 0


def add_class_target(sub) -> None:
    """The class-target command and its three sub-commands."""
    parser = sub.add_parser("class-target", help="instructors: one shared, defended model for a red-team/blue-team "
                                                 "round, with keys, doors per blue team, judged submissions, a scoreboard")
    commands = parser.add_subparsers(dest="class_command", required=True, metavar="start|next-round|policy-template")
    start = commands.add_parser("start", help="start (or resume) the class target")
    start.add_argument("--folder", required=True, help="the class's folder: scores, audit logs, keys (resumes if it exists)")
    start.add_argument("--blue", action="append", metavar="TEAM=FILE", required=True,
                       help="a blue team and its policy file (repeat for each blue team)")
    start.add_argument("--roster", help="CSV with columns learner,team (needed for a new class; new names get keys)")
    start.add_argument("--keys-out", help="where to write the new keys (default FOLDER/keys-round-N.csv)")
    start.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; the class "
                                                            "network's address to reach learners' machines)")
    start.add_argument("--port", type=int, default=8800, help="port (default 8800; 0 = any free port)")
    start.add_argument("--sources", choices=("address", "key"), default="address",
                       help="count the detector's sources and refusals per network address, or per key when every "
                            "learner reaches the service from one address (a one-server hub) (default address)")
    start.add_argument("--ordinary-every", type=float, default=2.0,
                       help="seconds between ordinary requests per client per door (default 2)")
    start.add_argument("--no-ordinary", action="store_true", help="no ordinary traffic (utility is not measured)")
    start.add_argument("--house", type=int, default=0, metavar="QUERIES",
                       help="run the kit's own attacker at every door each round, QUERIES per person (e.g. 500)")
    start.add_argument("--house-seconds", type=float, default=300.0,
                       help="how long the house attacker waits out rate limits at one door (default 300)")
    start.set_defaults(func=cmd_start)
    nxt = commands.add_parser("next-round", help="re-read the policy files and start the next round (no restart)")
    nxt.add_argument("--url", required=True, help="the class target's URL, e.g. http://10.0.0.5:8800")
    nxt.add_argument("--key", help="the instructor key (or set LAB_CLASS_INSTRUCTOR_KEY)")
    nxt.set_defaults(func=cmd_next_round)
    template = commands.add_parser("policy-template", help="print a blue team's policy file to start from")
    template.set_defaults(func=cmd_policy_template)

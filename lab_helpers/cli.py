"""`python -m lab_helpers ...`: what learners and instructors do outside a notebook."""
from __future__ import annotations

import argparse
import sys


def cmd_doctor(args: argparse.Namespace) -> int:
    """Report versions, face data, CPU and memory; exit 1 when something needs fixing."""
    from .doctor import run_doctor

    return 0 if run_doctor() else 1


def cmd_fetch_data(args: argparse.Namespace) -> int:
    """Download the face photos now, ahead of an offline class."""
    from .data import FaceDataMissing, fetch_faces_bunch

    try:
        bunch = fetch_faces_bunch(download=True)
    except FaceDataMissing as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"Face data ready: {len(bunch.images)} photos of {len(set(bunch.target))} people in {bunch.data_home}")
    return 0


def cmd_build_labs(args: argparse.Namespace) -> int:
    """Write labs/ from solutions/; with --check, exit 1 if labs/ is stale."""
    from .notebooks import LabBuildError, build_labs

    try:
        stale = build_labs(check=args.check)
    except LabBuildError as exc:
        print(f"build-labs: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if stale:
            print("labs/ is out of date with solutions/ for: " + ", ".join(stale), file=sys.stderr)
            print("Run: python -m lab_helpers build-labs", file=sys.stderr)
            return 1
        print("labs/ is up to date with solutions/.")
        return 0
    print(("Rebuilt: " + ", ".join(stale)) if stale else "labs/ was already up to date.")
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    """A fresh learner copy of lab NN, keeping the learner's current file under a new name."""
    from .notebooks import reset_lab

    try:
        target, kept = reset_lab(args.lab)
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return 2
    if kept:
        print(f"Your previous notebook is kept as {kept}")
    print(f"Fresh copy of lab {args.lab}: {target}")
    return 0


def cmd_make_tabular_data(args: argparse.Namespace) -> int:
    """Write the synthetic tabular data set(s) and their data cards into data/."""
    from .synthetic import FRAMINGS, write_dataset

    for key in (list(FRAMINGS) if args.framing == "all" else [args.framing]):
        csv, card = write_dataset(key, n=args.rows, seed=args.seed)
        print(f"{key}: wrote {csv} and its data card {card.name}")
    return 0


def make_parser() -> argparse.ArgumentParser:
    """The command line's sub-commands and options."""
    parser = argparse.ArgumentParser(prog="python -m lab_helpers", description="Model Inversion Lab: set-up and classroom tools.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="check versions, face data, CPU and memory, and say what to fix").set_defaults(func=cmd_doctor)
    sub.add_parser("fetch-data", help="download the face photos ahead of an offline class").set_defaults(func=cmd_fetch_data)
    build = sub.add_parser("build-labs", help="write learner notebooks (labs/) from solutions/")
    build.add_argument("--check", action="store_true", help="only check; exit 1 when labs/ is out of date")
    build.set_defaults(func=cmd_build_labs)
    reset = sub.add_parser("reset", help="a fresh copy of lab NN; your current file is kept under a new name")
    reset.add_argument("lab", help="lab number, e.g. 00 or 3")
    reset.set_defaults(func=cmd_reset)
    tabular = sub.add_parser("make-tabular-data", help="write the synthetic tabular data set(s) and data cards into data/")
    tabular.add_argument("--framing", choices=["healthcare", "credit", "all"], default="all",
                         help="which framing to write (default: all)")
    tabular.add_argument("--rows", type=int, default=3000, help="number of people (default 3000)")
    tabular.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    tabular.set_defaults(func=cmd_make_tabular_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one sub-command and return its exit code."""
    args = make_parser().parse_args(argv)
    return args.func(args)

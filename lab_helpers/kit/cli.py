"""`python -m lab_helpers ...`: what learners and instructors do outside a notebook."""
from __future__ import annotations

import argparse
import signal
import sys


def cmd_doctor(args: argparse.Namespace) -> int:
    """Report versions, face data, CPU and memory; exit 1 when something needs fixing."""
    from .doctor import run_doctor

    return 0 if run_doctor() else 1


def cmd_fetch_data(args: argparse.Namespace) -> int:
    """Download the face photos now, ahead of an offline class."""
    from ..data.face_photos import FaceDataMissing, fetch_faces_bunch

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
    from .notebooks import list_labs, open_in_jupyter, reset_lab
    from ..paths import labs_dir, solutions_dir

    name = list_labs(solutions_dir()).get(str(args.lab).zfill(2))
    servers = open_in_jupyter(labs_dir() / name) if name else []
    try:
        target, kept = reset_lab(args.lab)
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return 2
    if kept:
        print(f"Your previous notebook is kept as {kept}")
    print(f"Fresh copy of lab {args.lab}: {target}")
    if servers:
        print(f"Warning: {target.name} is open in JupyterLab ({', '.join(servers)}). Close its tab without saving "
              "(File > Close and Shut Down Notebook, then 'Discard'), or its autosave will offer to overwrite this "
              "fresh copy with your old one. Then reopen it.", file=sys.stderr)
    return 0


def cmd_make_tabular_data(args: argparse.Namespace) -> int:
    """Write the synthetic tabular data set(s) and their data cards into data/."""
    from ..data.synthetic_people import FRAMINGS, write_dataset

    for key in (list(FRAMINGS) if args.framing == "all" else [args.framing]):
        csv, card = write_dataset(key, n=args.rows, seed=args.seed)
        print(f"{key}: wrote {csv} and its data card {card.name}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the lab models on 127.0.0.1 with API keys, limits, an audit log and the probing detector (lab 06)."""
    from ..data.face_photos import FaceDataMissing
    from ..defences.access import AccessPolicy
    from ..defences.audit import AuditLog, default_audit_path, delete_log
    from ..defences.monitoring import AdaptiveDetector, BaselineDetector
    from ..service.server import LAB_KEYS, ModelService, lab_models, serve_forever

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    policy = AccessPolicy(rate_limits=not args.no_rate_limits, granularity=not args.no_granularity,
                          block_on_alert=args.block_on_alert)
    keys = {key_id: policy.issue_key(key_id, role) for key_id, role in LAB_KEYS.items()}
    if args.segment is not None and args.detector != "adaptive":
        print("--segment needs the adaptive detector (the baseline one counts per key only).", file=sys.stderr)
        return 2
    try:
        detector = AdaptiveDetector(segment_prefix=args.segment) if args.detector == "adaptive" else BaselineDetector()
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:  # the audit log first: a bad --audit fails at once, before any model is trained
        path = args.audit or default_audit_path("serve")
        if args.fresh:
            delete_log(path, args.audit_keys)
        echo = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731 - the head, in the service's own log
        service = ModelService([], policy, AuditLog(path, keys=args.audit_keys, echo=echo), detector=detector)
        service.models = {m.name: m for m in lab_models(names)}
    except (ValueError, FaceDataMissing) as exc:  # AuditLogError is a ValueError
        print(f"serve: {exc}", file=sys.stderr)
        return 2

    def announce(url: str) -> None:
        print(f"Serving {', '.join(service.models)} on {url} (Ctrl-C to stop)")
        print(f"Audit log: {service.audit_path}; its keys and checkpoints: {service.audit.keys}; detector: "
              f"{args.detector}{'' if args.segment is None else f' (sources counted per /{args.segment})'}; check it with `python -m lab_helpers audit verify {service.audit_path}`")
        for key_id, secret in keys.items():
            print(f"  key {key_id:<10} role {LAB_KEYS[key_id]:<8} X-API-Key: {secret}")
        print(f"Try: curl -s {url}/v1/models -H 'X-API-Key: {keys['public-1']}'", flush=True)

    try:
        serve_forever(service, args.port, announce, trusted_proxy=args.trusted_proxy)
    except OSError as exc:
        service.close()
        print(f"serve: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    print("Stopped. The audit log is kept.")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """Check an audit log's tamper-evident chain: exit 0 when intact, 1 with the first broken link."""
    from ..defences.audit import verify_log

    try:
        result = verify_log(args.file, keys=args.keys, checkpoint=args.checkpoint)
    except (FileNotFoundError, OSError) as exc:
        print(f"audit: {exc}", file=sys.stderr)
        return 2
    print(result.text())
    return 0 if result.intact else 1


def cmd_quiz(args: argparse.Namespace) -> int:
    """Exam-style questions in the terminal, with explanations, a score by topic and labs to review."""
    from ..exam.bank import topic_titles
    from ..exam.terminal import terminal_quiz

    if args.list_topics:
        for key, title in topic_titles().items():
            print(f"{key:<11} {title}")
        return 0
    if args.export_anki:
        from ..exam.anki import export_anki

        try:
            done = export_anki(args.export_anki, args.lab, args.topic)
        except (ValueError, KeyError) as exc:
            print(f"quiz: {exc}", file=sys.stderr)
            return 2
        print(f"Wrote {done['cards']} cards to {done['path']} (import it in Anki: File > Import). Left out "
              f"{len(done['left_out'])} performance-based tasks that need the kit: {', '.join(done['left_out']) or 'none'}.")
        return 0
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")  # a console that cannot print ✔ shows ? instead of crashing
    exam = args.exam or args.form is not None
    n = args.questions if args.questions is not None else (None if exam else 10)
    try:
        if args.check:
            if exam or args.review or args.lab or args.topic:
                raise ValueError("--check asks one fixed form of the pre/post check: leave out --exam, --review, "
                                 "--lab and --topic.")
            from ..exam.terminal import terminal_check

            terminal_check(args.check, record=not args.no_save)
            return 0
        if args.review and exam:
            raise ValueError("--review asks the questions due again; --exam is a mock exam: choose one.")
        terminal_quiz(args.topic, args.lab, n, args.minutes, args.seed, record=not args.no_save, exam=exam,
                      review=args.review, form=args.form or "short")
    except ValueError as exc:
        print(f"quiz: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    """One printable page per lab: threat, control, what it bought (this machine's measurements), exam tip."""
    from ..exam.summaries import write_summary

    try:
        written = write_summary(args.lab, args.out)
    except (ValueError, OSError) as exc:
        print(f"summary: {exc}", file=sys.stderr)
        return 2
    print(f"Wrote {written} (open it in a browser; print it, one lab a page).")
    return 0


def cmd_scores(args: argparse.Namespace) -> int:
    """Learners' progress files (a folder of them, as on a class hub) in one table; --export writes it as CSV."""
    from ..exam.progress import progress_path
    from ..exam.scores import run_scores

    return run_scores(args.paths or [str(progress_path())], args.export)


def cmd_present(args: argparse.Namespace) -> int:
    """Serve lab NN's dashboard with Voilà for a projector, until Ctrl-C."""
    from .present import start_presentation

    def stop_on(signum, frame):  # a closed terminal (SIGHUP) or a kill (SIGTERM) stops Voilà and its kernels too
        raise KeyboardInterrupt

    for signum in (signal.SIGTERM, signal.SIGHUP):  # before Voilà starts: a signal at any moment stops it
        signal.signal(signum, stop_on)
    shows: list = []  # filled by start_presentation before it returns: no moment where Voilà runs unrecorded
    try:
        show = start_presentation(args.lab, port=args.port, started=shows.append)
        print(f"Presenting lab {args.lab} at {show.url}  (open it in a browser; Ctrl-C stops the server)", flush=True)
        show.process.wait()
    except (KeyError, RuntimeError) as exc:
        print(exc.args[0], file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    finally:
        for show in shows:
            show.stop()
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    """Fetch the data and run every lab once, so every cache exists for an offline room."""
    from .prepare import prepare_classroom

    return 0 if prepare_classroom() else 1


def cmd_invert(args: argparse.Namespace) -> int:
    """Run one face inversion (target, output control, attacker, budget) and print the judges' verdict as JSON."""
    import json

    from ..evaluation.inversion import run_inversion, save_reconstructions

    try:
        run = run_inversion(args.target, args.regularised, args.attack, args.output, queries_per_person=args.queries,
                            people=args.people, seed=args.seed, progress=not args.quiet, prior=args.prior)
    except ValueError as exc:
        print(f"invert: {exc}", file=sys.stderr)
        return 2
    if args.out:
        save_reconstructions(run, args.out)
    print(json.dumps(run.summary() | ({"saved": args.out} if args.out else {})))
    return 0


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag gives one line saying what is wrong and where the help is (exit 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def make_parser() -> argparse.ArgumentParser:
    """The command line's sub-commands and options."""
    parser = OneLineParser(prog="python -m lab_helpers", description="Model Inversion Lab: set-up and classroom tools.")
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
    tabular.add_argument("--framing", choices=["healthcare", "credit", "hiring", "all"], default="all",
                         help="which framing to write (default: all)")
    tabular.add_argument("--rows", type=int, default=3000, help="number of people (default 3000)")
    tabular.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    tabular.set_defaults(func=cmd_make_tabular_data)
    serve = sub.add_parser("serve", help="serve the lab models on 127.0.0.1 with keys, rate limits, an audit log and alerts (lab 06)")
    serve.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000; 0 = any free port)")
    serve.add_argument("--models", default="faces,patients", help="comma-separated: faces, patients (default: both)")
    serve.add_argument("--audit", default=None, help="audit log file (default: data/cache/lab06/serve.sqlite)")
    serve.add_argument("--no-rate-limits", action="store_true", help="switch rate limits and daily quotas off")
    serve.add_argument("--no-granularity", action="store_true", help="give every role full probabilities")
    serve.add_argument("--block-on-alert", action="store_true", help="suspend a key when the detector flags it")
    serve.add_argument("--segment", type=int, default=None, metavar="BITS",
                       help="count every address of a network segment as one source, e.g. 24 for a /24 (adaptive "
                            "detector only); ordinary clients who share the network then share its thresholds")
    serve.add_argument("--detector", choices=("baseline", "adaptive"), default="adaptive",
                       help="adaptive: per key and per source, identity focus, probe clouds (default); baseline: lab "
                            "06's first detector (per key), which an attacker who adapts slips past")
    serve.add_argument("--trusted-proxy", metavar="ADDR", default=None,
                       help="believe X-Forwarded-For only from this reverse proxy's address (default: believe no one; "
                            "the logged address is the connection's own)")
    serve.add_argument("--audit-keys", metavar="DIR", default=None,
                       help="folder for the log's chain key, signed checkpoints and sketch keys: one the log's other "
                            "writers cannot write (default: LAB_AUDIT_KEYS, or audit-keys beside the log's folder)")
    serve.add_argument("--fresh", action="store_true", help="delete the audit log and its key folder first (a new class)")
    serve.set_defaults(func=cmd_serve)
    audit = sub.add_parser("audit", help="check the model service's audit log for tampering (lab 06)")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="verify")
    verify = audit_sub.add_parser("verify", help="recompute the log's hash chain; report the first broken link")
    verify.add_argument("file", help="the audit log (an .sqlite file)")
    verify.add_argument("--keys", metavar="DIR", default=None,
                        help="its key folder (default: where the service keeps it; give it for a copied log)")
    verify.add_argument("--checkpoint", metavar="FILE", default=None,
                        help="checkpoints kept elsewhere: an exported copy, or the service's own output with its "
                             "'audit checkpoint' lines (default: the key folder's checkpoints)")
    verify.set_defaults(func=cmd_audit)
    quiz = sub.add_parser("quiz", help="exam-style questions in the terminal, with explanations and a score by topic")
    quiz.add_argument("--topic", help="a topic (see --list-topics) or a concept, e.g. defences or GDPR")
    quiz.add_argument("--lab", help="only questions that lab NN teaches, e.g. 03")
    quiz.add_argument("-n", "--questions", type=int, default=None,
                      help="number of questions (default 10; with --exam, the form's)")
    quiz.add_argument("--minutes", type=float, default=None,
                      help="time limit in minutes (default: none; with --exam, the form's, or 1.8 a question with -n)")
    quiz.add_argument("--exam", action="store_true",
                      help="a mock exam as the real one behaves: performance-based questions first and worth 3 marks, "
                           "timed, flag and go back, PASS or FAIL (the kit's line: 75 %% of the weighted marks) with "
                           "the score by topic, then every explanation (the short form unless --full)")
    forms = quiz.add_mutually_exclusive_group()
    forms.add_argument("--short", dest="form", action="store_const", const="short", default=None,
                       help="the mock exam's short practice form: 25 questions (3 performance-based) in 45 minutes")
    forms.add_argument("--full", dest="form", action="store_const", const="full",
                       help="the full-length form: up to 90 questions (6 performance-based) in 165 minutes, drawn "
                            "from the whole bank by topic weights")
    quiz.add_argument("--seed", type=int, default=0, help="random seed for picking among equally good questions")
    quiz.add_argument("--no-save", action="store_true", help="do not save answers to the progress file")
    quiz.add_argument("--review", action="store_true",
                      help="spaced review: the questions due again (a missed one at once, a right one after 1, 3, 7 "
                           "or 21 days), then new ones")
    quiz.add_argument("--check", choices=("pre", "post"), default=None,
                      help="the pre/post check a class takes before lab 00 (pre) and after the mock exam (post): 10 "
                           "questions in 15 minutes, the same topics on both forms; `scores` shows both")
    quiz.add_argument("--list-topics", action="store_true", help="list the topics and exit")
    quiz.add_argument("--export-anki", metavar="FILE.apkg", default=None,
                      help="write the questions (with --lab/--topic: some of them) as an Anki deck and exit")
    quiz.set_defaults(func=cmd_quiz)
    summary = sub.add_parser("summary", help="one printable page per lab (HTML): threat, control, what it bought "
                                             "(this machine's measurements), exam tip; 'all' for every lab in one file")
    summary.add_argument("lab", help="lab number, e.g. 03, or all")
    summary.add_argument("--out", metavar="FILE.html", default=None,
                         help="where to write it (default: lab-NN-summary.html or all-labs-summary.html here)")
    summary.set_defaults(func=cmd_summary)
    scores = sub.add_parser("scores", help="instructors: learners' progress files (a folder, as on a class hub) in one "
                                           "table: quick checks per lab, mock exams, weakest topics")
    scores.add_argument("paths", nargs="*", help="folders of progress files, or files (default: this machine's own)")
    scores.add_argument("--export", metavar="FILE.csv", help="write the table to a CSV file")
    scores.set_defaults(func=cmd_scores)
    present = sub.add_parser("present", help="serve a lab's dashboard (03, 04) with Voila for a projector")
    present.add_argument("lab", help="lab number: 03 (reconstruction grid) or 04 (control panel)")
    present.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")
    present.set_defaults(func=cmd_present)
    sub.add_parser("prepare", help="offline room: fetch the data and precompute every lab's models and caches").set_defaults(func=cmd_prepare)
    invert = sub.add_parser("invert", help="run one face inversion attack and print the judges' verdict as JSON")
    invert.add_argument("--target", default="softmax",
                        help="softmax, mlp, or private (lab 08: enrols the private people only) (default softmax)")
    invert.add_argument("--regularised", action="store_true", help="the regularised target instead of the overfit one")
    from ..evaluation.inversion import ATTACKS, PRIOR_ATTACKS

    invert.add_argument("--attack", default="black-box",
                        help=", ".join(a for a in ATTACKS if a not in PRIOR_ATTACKS) + ", or with --target private: "
                             + ", ".join(PRIOR_ATTACKS) + " (default black-box)")
    invert.add_argument("--prior", default="pca", help="for prior-* attacks: pca (eigenfaces) or generator (default pca)")
    invert.add_argument("--output", default="probabilities",
                        help="what the API returns: probabilities, noisy:0.01, rounded:2, top_k:3, label_score, label; "
                             "for --attack explanation-guided, an explanation: gradient:any, saliency, "
                             "integrated_gradients, smoothgrad, with +coarse:B, +top_pixels:K, +noisy:S")
    invert.add_argument("--queries", "--queries-per-person", dest="queries", type=int, default=2_000,
                        help="queries per person (default 2000)")
    invert.add_argument("--people", default=None,
                        help="person numbers, e.g. 0-39, 3, 1,5,9 (default: every person the target enrols)")
    invert.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    invert.add_argument("--out", default=None, help="save images, identities, queries_per_person and signal to FILE.npz")
    invert.add_argument("--quiet", action="store_true", help="no progress bars on standard error")
    invert.set_defaults(func=cmd_invert)
    from .class_commands import add_class_target

    add_class_target(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one sub-command and return its exit code."""
    args = make_parser().parse_args(argv)
    return args.func(args)

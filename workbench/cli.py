"""The `workbench` command.

Each feature registers its subcommands in `COMMANDS` below (one `add_*` function each). A
command returns an exit code; a `WorkbenchError` becomes one line on stderr and exit code 1,
never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from workbench import __version__
from workbench.errors import WorkbenchError
from workbench.workspace import Workspace

log = logging.getLogger("workbench")


def _workspace(args) -> Workspace:
    return Workspace.resolve(getattr(args, "workspace", None))


# --- app ---------------------------------------------------------------------------------------


def cmd_app(args) -> int:
    """Start the Streamlit app (localhost only unless --address says otherwise)."""
    import subprocess

    ws = _workspace(args)
    main = Path(__file__).parent / "app" / "main.py"
    env = dict(os.environ, WORKBENCH_WORKSPACE=str(ws.root))
    argv = [
        sys.executable, "-m", "streamlit", "run", str(main),
        "--server.address", args.address, "--server.port", str(args.port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--server.maxUploadSize", "60",
    ]
    print(f"Workbench on http://{args.address}:{args.port}  (workspace: {ws.root})", flush=True)
    try:
        return subprocess.call(argv, env=env)
    except KeyboardInterrupt:
        return 0


def add_app(sub) -> None:
    p = sub.add_parser("app", help="start the app (http://localhost:8501)")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="127.0.0.1",
                   help="interface to listen on (default: 127.0.0.1, this machine only)")
    p.set_defaults(func=cmd_app)


# --- check -------------------------------------------------------------------------------------


def cmd_check(args) -> int:
    from workbench import catalog

    path = Path(args.path) if args.path else _workspace(args).catalog_path
    cat, problems = catalog.check(path)
    for problem in problems:
        print(problem, file=sys.stderr if problem.severity == "error" else sys.stdout)
    if cat is None:
        errors = sum(1 for p in problems if p.severity == "error")
        print(f"{path}: {errors} problem{'s' if errors != 1 else ''}; fix them and run "
              "`workbench check` again", file=sys.stderr)
        return 1
    warn = len(cat.warnings)
    print(f"OK: {path.name} is valid: {len(cat)} papers in {len(cat.topics)} topics"
          + (f", {warn} warning{'s' if warn != 1 else ''}" if warn else ""))
    return 0


def add_check(sub) -> None:
    p = sub.add_parser("check", help="validate papers.yaml and list every problem")
    p.add_argument("path", nargs="?", help="catalog file (default: the workspace's papers.yaml)")
    p.set_defaults(func=cmd_check)


# --- registry of subcommands -------------------------------------------------------------------
# Features add their `add_*` function here (one line each).
COMMANDS = [add_app, add_check]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Read papers with the three-pass method, explore citations, reproduce.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    parser.add_argument("--workspace", help="workspace folder (default: $WORKBENCH_WORKSPACE, "
                        "the current folder if it has papers.yaml, else the checkout)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""`workbench repro`: launch, watch, cancel, resume and compare reproduction runs.

`run` and `resume` launch as the app does (`runs.launch`: start now, or hand a run that waits
behind another to the background supervisor), then follow the run in the foreground with a
progress bar (Ctrl-C cancels it) unless `--detach` returns at once; `pump` starts queued runs.
"""

from __future__ import annotations

from workbench.cli.args import workspace_from


def _watch_run(ws, run_id: str) -> int:
    """Follow a run in the foreground with a tqdm bar fed from its status.json; Ctrl-C cancels."""
    import time

    from tqdm import tqdm

    from workbench import runs

    bar = tqdm(total=100, unit="%", bar_format="{desc}{percentage:3.0f}%|{bar}| "
               "[{elapsed}<{remaining}{postfix}]")
    try:
        while True:
            runs.pump(ws)
            run = runs.get_run(ws, run_id)
            queue = [r.id for r in runs.queued_runs(ws)]
            bar.set_description(f"{run.id} queued ({queue.index(run.id) + 1} in line)"
                                if run.id in queue else f"{run.variant} {run.step}/{run.steps}"
                                if run.steps else f"{run.id} starting", refresh=False)
            last = next((m for m in reversed(runs.read_metrics(run)) if "loss" in m), None)
            if last:
                bar.set_postfix(loss=f"{last['loss']:.4f}", refresh=False)
            bar.update(round(100 * run.fraction, 1) - bar.n)
            if run.state not in runs.ACTIVE:
                break
            time.sleep(0.5)
    except KeyboardInterrupt:
        bar.close()
        runs.cancel(ws, run_id)
        print(f"{run_id}: cancelled")
        return 130
    bar.close()
    _print_run(run)
    return 0 if run.state == runs.DONE else 1


def _print_run(run) -> None:
    from workbench import runs

    print(f"{run.id}: {run.state}  ({run.name}/{run.preset}"
          + "".join(f" {k}={v}" for k, v in run.overrides.items()) + ")")
    if run.error:
        print(f"error: {run.error}")
    if run.result:
        print("what this run showed (against its controls and baselines):")
        print(runs.format_table(runs.claim_rows(run)))
        if paper := runs.paper_rows(run):
            print("this checkpoint against the paper's table:" if runs.measured_at_scale(paper)
                  else "what the paper reports at full scale (not measured by this run):")
            print(runs.format_table(paper))
        print("  ".join(f"{k}: {v}" for k, v in runs.environment(run).items()))
    print(f"run folder: {run.folder}")


def _code(ws, name: str, check_only: bool) -> int:
    """`repro code NAME [--check]`: each paper reference in the module's comments, located in
    the PDF of each catalog paper it serves; with --check only the dangling ones (exit 1)."""
    from workbench import catalog, pdf, runs
    from workbench.errors import WorkbenchError

    cat = catalog.load(ws.catalog_path)
    papers = [p for p in cat.papers if p.reproduction == name]
    if not papers:
        raise WorkbenchError(f"no catalog paper links to reproduction '{name}' "
                             f"(set `reproduction: {name}` on one in papers.yaml)")
    dangling = checked = 0
    for paper in papers:
        try:
            structure = pdf.structure_for_paper(ws, paper, render=False)
        except pdf.PdfError as exc:
            print(f"{paper.id}: its PDF cannot be read ({exc}); references not checked")
            continue
        found = runs.paper_code(ws, paper, structure)
        if found is None:
            continue
        own = runs.own_refs(found.view.refs, paper.year, found.main)
        if structure is None:
            print(f"{paper.id}: {len(own)} references into it; no PDF in pdfs/ to check them "
                  f"against (`workbench add` or the Paper page fetches it)")
            continue
        checked += len(found.checked)
        dangling += len(found.dangling)
        for c in found.dangling:
            print(runs.dangling_message(found, c))
        if check_only:
            continue
        for c in found.checked:
            if c.place is not None:
                at = "" if c.place.exact else " (its enclosing section)"
                print(f"{found.view.path.name}:{c.ref.line}: {c.ref.label} -> page "
                      f"{c.place.page}, {c.place.what}{at}")
    print(f"{name}: {checked} references checked against the PDFs, {dangling} dangling")
    return 1 if dangling else 0


def cmd_repro(args) -> int:
    from workbench import runs

    ws = workspace_from(args)
    what = args.repro_command
    if what == "code":
        return _code(ws, args.name, args.check)
    if what == "list":
        print(runs.format_table([{"name": r["name"], "paper": r["paper"], "presets":
                                  ", ".join(r["presets"]), "title": r["title"]}
                                 for r in runs.list_reproductions(ws)]))
    elif what in ("run", "resume"):
        queued = (runs.submit(ws, args.name, args.preset, args.set,
                              checkpoint_every=args.checkpoint_every) if what == "run"
                  else runs.resume(ws, args.run))
        run = runs.launch(ws, queued)  # behind another run: a background supervisor starts it
        if not args.detach:
            return _watch_run(ws, run.id)
        print(f"{run.id}: {run.state}; follow it with `workbench repro status {run.id}`")
    elif what == "status":
        runs.pump(ws)
        if args.run:
            run = runs.get_run(ws, args.run)
            _print_run(run)
            if run.state != runs.DONE:
                print(runs.log_tail(run, args.lines))
        else:
            print(runs.format_table(runs.history_rows(runs.list_runs(ws)))
                  or "no runs yet")
    elif what == "cancel":
        print(f"{args.run}: {runs.cancel(ws, args.run).state}")
    elif what == "compare":
        tables = runs.compare([runs.get_run(ws, r) for r in args.runs])
        for title, rows in tables.items():
            if rows:
                print(f"\n{title}\n{runs.format_table(rows)}")
    elif what == "pump":
        if args.wait:
            if not runs.supervise(ws):
                print("another `workbench repro pump --wait` is already running")
            return 0
        print("\n".join(runs.pump(ws)) or "nothing to start")
    return 0


def add_repro(sub) -> None:
    p = sub.add_parser("repro", help="launch, watch, cancel and compare reproduction runs")
    rsub = p.add_subparsers(dest="repro_command", metavar="ACTION", required=True)
    rsub.add_parser("list", help="the reproductions and their presets")
    q = rsub.add_parser("run", help="run a reproduction (foreground with a progress bar)")
    q.add_argument("name", help="reproduction, e.g. resnet")
    q.add_argument("--preset", help="preset (default: mini)")
    q.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a Config field, checked before launch (e.g. --set lr=1e-3)")
    q.add_argument("--checkpoint-every", type=int, metavar="STEPS",
                   help="also checkpoint every STEPS steps (default: every minute)")
    q.add_argument("--detach", action="store_true",
                   help="queue it and return; it runs in the background")
    q = rsub.add_parser("resume", help="continue a failed or cancelled run from its checkpoint")
    q.add_argument("run")
    q.add_argument("--detach", action="store_true")
    q = rsub.add_parser("status", help="every run, or one run's progress, verdicts and log")
    q.add_argument("run", nargs="?")
    q.add_argument("--lines", type=int, default=20, help="log lines to show (default 20)")
    q = rsub.add_parser("cancel", help="cancel a queued or running run")
    q.add_argument("run")
    q = rsub.add_parser("compare", help="runs side by side: config, metrics, claim verdicts")
    q.add_argument("runs", nargs="+", metavar="RUN")
    q = rsub.add_parser("pump", help="start queued runs while slots are free")
    q.add_argument("--wait", action="store_true",
                   help="keep starting them until the queue is empty (one such process at most)")
    q = rsub.add_parser("code", help="the paper references in a reproduction's comments, "
                        "located in its papers' PDFs (--check: fail on a dangling one)")
    q.add_argument("name", help="reproduction, e.g. resnet")
    q.add_argument("--check", action="store_true",
                   help="print only references the PDF does not have; exit 1 if any")
    p.set_defaults(func=cmd_repro)

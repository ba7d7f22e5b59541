"""Reading runs' results: the history table, claim verdicts beside the paper's numbers,
training curves, runs side by side, and runs consulted in a reader's notes.

Everything here reads finished (or running) run folders through `workbench.runs.folders`; nothing
starts or stops a process. plotly is imported only to draw a figure.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from workbench.errors import WorkbenchError
from workbench.runs.folders import DONE, STATE_ICONS, Run, RunError, get_run
from workbench.runs.reproductions import RECOMMENDED_PRESET, SMOKE_TEST_PRESET
from workbench.workspace import Workspace

# The runs that count as evidence for a paper's claims: the miniature experiment and the paper's
# own setup, as the preset defines them. `tiny` only checks that the code runs (every claim "not
# applicable"); an override (residual=False, fewer steps) makes another experiment.
EVIDENCE_PRESETS = (RECOMMENDED_PRESET, "paper")

# --- which run is evidence ----------------------------------------------------------------------


def overrides_text(run: Run) -> str:
    """`residual=False steps=40`, or empty for a run of the preset as it is."""
    return " ".join(f"{k}={v}" for k, v in run.overrides.items())


def evidence_problem(run: Run) -> str | None:
    """Why `run` is not evidence for its paper's claims, or None when it is: a finished `mini`
    or `paper` run without overrides."""
    if run.state != DONE:
        return f"run {run.id} is {run.state}, not finished"
    if run.preset == SMOKE_TEST_PRESET:
        return (f"run {run.id} is a smoke test (preset {SMOKE_TEST_PRESET}): it checks that the "
                "code runs and evaluates no claim")
    if run.overrides:
        return f"run {run.id} changed the preset ({overrides_text(run)}): another experiment"
    if run.preset not in EVIDENCE_PRESETS:
        return (f"run {run.id} used preset {run.preset}; the claims are judged on "
                f"{' or '.join(EVIDENCE_PRESETS)}")
    return None


def evidence_run(runs: Sequence[Run]) -> Run | None:
    """The newest run of `runs` (newest first, as `list_runs` gives them) that is evidence."""
    return next((r for r in runs if evidence_problem(r) is None), None)


def run_label(run: Run) -> str:
    """A run for a select box: `20261206-1412-ab · mini · ● done`, flagged when it is a smoke
    test or has overrides."""
    flag = (" · smoke test" if run.preset == SMOKE_TEST_PRESET else "") + (
        f" · overrides: {overrides_text(run)}" if run.overrides else "")
    return f"{run.id} · {run.preset} · {STATE_ICONS[run.state]} {run.state}{flag}"


def preset_label(preset: str, runs: Sequence[Run] = ()) -> str:
    """A preset for the select box, saying what it is for: `tiny` is a smoke test, `mini` the
    recommended miniature with its expected time (the last such run's, if `runs` holds one)."""
    if preset == SMOKE_TEST_PRESET:
        return f"{preset} · smoke test, seconds: checks the code runs, evaluates no claim"
    if preset == RECOMMENDED_PRESET:
        took = next((r.duration_s for r in runs if r.preset == preset and not r.overrides
                     and r.state == DONE and r.duration_s), None)
        expected = ("about a CPU minute" if not took else f"your last one took {took:.0f} s"
                    if took < 90 else f"your last one took {took / 60:.0f} min")
        return f"{preset} · recommended: the miniature experiment, {expected}"
    if preset == "paper":
        return f"{preset} · the paper's setup: its dataset and hours of GPU"
    return preset


# --- tables, curves, comparisons ----------------------------------------------------------------


def history_rows(runs: Sequence[Run]) -> list[dict]:
    """One row per run for the history table; `evidence` says whether its verdicts count."""
    return [{
        "run": r.id, "status": f"{STATE_ICONS[r.state]} {r.state}", "reproduction": r.name,
        "preset": r.preset + (" (smoke test)" if r.preset == SMOKE_TEST_PRESET else ""),
        "overrides": overrides_text(r),
        "evidence": _evidence_cell(r),
        "progress": round(r.fraction, 3),
        "duration (s)": round(r.duration_s, 1) if r.duration_s is not None else None,
        "headline metric": r.headline(), "verdict": r.verdict_summary() or (r.error or ""),
    } for r in runs]


def _evidence_cell(run: Run) -> str:
    if run.preset == SMOKE_TEST_PRESET:
        return "no: smoke test"
    if run.overrides:
        return "no: overrides"
    if run.preset not in EVIDENCE_PRESETS:
        return "no: preset"
    return "yes" if run.state == DONE else ""


def paper_scale(claim: Mapping) -> bool:
    """True for a claim that quotes a paper-scale number no miniature measures (it says which
    preset and data would: `needs`); results written before `needs` existed: not applicable
    and nothing measured."""
    if "needs" in claim:
        return bool(claim["needs"])
    return claim.get("verdict") == "not applicable" and not claim.get("measured")


def _margin(c: Mapping) -> str:
    m = c.get("margin")
    return f"{m:+.3g}" if isinstance(m, (int, float)) else ""


def claim_rows(run: Run) -> list[dict]:
    """What the run itself showed: each miniature claim, what it was compared with (controls
    and trivial baselines of the same run), the smallest margin, the verdict. Paper-scale
    numbers are not here (`paper_rows`): a miniature's verdict never sits beside them."""
    return [{"claim": c["id"], "what it shows": c.get("text", ""),
             "compared with": ", ".join(c.get("compared_with") or []),
             "margin": _margin(c), "this run": c.get("measured", ""), "verdict": c["verdict"],
             "expected to hold": c.get("expected", True)}
            for c in (run.result or {}).get("claims", []) if not paper_scale(c)]


def paper_rows(run: Run) -> list[dict]:
    """The paper's own numbers the reproduction quotes, with what measuring them would need; for
    a checkpoint measured by `python -m reproductions evaluate`, its figure beside the paper's
    and the verdict (`measured_at_scale`)."""
    rows = []
    for c in (run.result or {}).get("claims", []):
        if not paper_scale(c):
            continue
        if isinstance(c.get("paper_value"), (int, float)):
            rows.append({"claim": c["id"], "metric": str(c.get("metric", "")),
                         "the paper reports": c["paper_value"], "this checkpoint": c.get("ours"),
                         "verdict": c.get("verdict", ""), "source": c.get("source", ""),
                         "note": c.get("note", "")})
        else:
            rows.append({"claim": c["id"], "the paper reports": c.get("paper", ""),
                         "source": c.get("source", ""), "needs": c.get("needs", "")})
    return rows


def measured_at_scale(rows: Sequence[Mapping]) -> bool:
    """True when `paper_rows` came from evaluating a checkpoint against the paper's figures."""
    return any("this checkpoint" in r for r in rows)


def run_figures(run: Run) -> list[dict[str, Any]]:
    """The figures the run drew (`result.json` "figures"): `{path, caption, paper_figure}` for
    each PNG that is a plain file under the run's own `figures/` folder; anything else a
    result names (another path, a link out of the folder, a missing file) is left out."""
    folder = (run.folder / "figures").resolve()
    found = []
    for fig in (run.result or {}).get("figures") or []:
        if not isinstance(fig, Mapping) or not isinstance(fig.get("file"), str):
            continue
        path = (run.folder / fig["file"]).resolve()
        if path.parent == folder and path.suffix == ".png" and path.is_file():
            found.append({"path": path, "caption": str(fig.get("caption", ""))[:300],
                          "paper_figure": str(fig.get("paper_figure", ""))[:40]})
    return found


def environment(run: Run) -> dict[str, Any]:
    """Where and how the run ran: device, torch version, seed, git commit, wall time."""
    r = run.result or {}
    keys = ("device", "world_size", "torch", "python", "seed", "git_commit", "wall_time_s")
    return {k: r.get(k) for k in keys if k in r}


def metric_series(records: Sequence[Mapping]) -> list[str]:
    """The logged training scalars worth plotting, loss first."""
    skip = {"variant", "step", "time", "eval", "lr"}
    keys: list[str] = []
    for rec in records:
        if rec.get("eval"):
            continue
        for k, v in rec.items():
            if k not in skip and k not in keys and isinstance(v, (int, float)):
                keys.append(k)
    return sorted(keys, key=lambda k: (k != "loss", k))


def curves_figure(series: Mapping[str, Sequence[Mapping]], keys: Sequence[str] | None = None):
    """A plotly figure: one panel per metric (loss first), one line per (run, variant)."""
    from plotly.subplots import make_subplots

    keys = list(keys or metric_series([r for recs in series.values() for r in recs]))[:3] or ["loss"]
    fig = make_subplots(rows=1, cols=len(keys), subplot_titles=keys)
    for label, records in series.items():
        by_variant: dict[str, list[Mapping]] = {}
        for rec in records:
            if not rec.get("eval"):
                by_variant.setdefault(str(rec.get("variant", "main")), []).append(rec)
        for variant, recs in by_variant.items():
            name = label if len(by_variant) == 1 else f"{label} · {variant}"
            for col, key in enumerate(keys, start=1):
                pts = [(r["step"], r[key]) for r in recs if key in r]
                fig.add_scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines",
                                name=name, legendgroup=name, showlegend=col == 1, row=1, col=col)
    fig.update_xaxes(title_text="step")
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def compare(runs: Sequence[Run]) -> dict[str, list[dict]]:
    """Runs side by side: config keys that differ, final metrics, claim verdicts.

    Each table is a list of rows `{"": what, <run id>: value, ...}`.
    """
    ids = [r.id for r in runs]

    def row(label: str, values: Sequence[Any]) -> dict:
        return {"": label, **dict(zip(ids, values, strict=True))}

    configs = [((r.config or {}).get("config") or {}) for r in runs]
    keys = sorted({k for c in configs for k in c})
    config = [row("preset", [r.preset for r in runs])] + [
        row(k, [c.get(k) for c in configs]) for k in keys
        if len({json.dumps(c.get(k)) for c in configs}) > 1]
    metric_keys: list[tuple[str, str]] = []
    for r in runs:
        for variant, metrics in (r.result or {}).get("metrics", {}).items():
            metric_keys += [(variant, m) for m in metrics if (variant, m) not in metric_keys]
    metrics = [row(f"{m} ({v})", [(r.result or {}).get("metrics", {}).get(v, {}).get(m)
                                  for r in runs]) for v, m in metric_keys]
    claim_ids: list[str] = []
    for r in runs:
        claim_ids += [c["id"] for c in (r.result or {}).get("claims", []) if c["id"] not in claim_ids]
    verdict = [row(cid, [next((c["verdict"] for c in (r.result or {}).get("claims", [])
                               if c["id"] == cid), None) for r in runs]) for cid in claim_ids]
    status = [row("status", [r.state for r in runs]),
              row("duration (s)", [round(r.duration_s, 1) if r.duration_s else None for r in runs])]
    return {"status": status, "config": config, "metrics": metrics, "claims": verdict}


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows of dicts as an aligned plain-text table (for the CLI); floats to 4 significant
    digits, None as an em dash."""
    if not rows:
        return ""

    def cell(v: Any) -> str:
        if v is None:
            return "—"
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    cols = list(dict.fromkeys(k for r in rows for k in r))
    table = [cols] + [[cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(cols))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
                     for line in table)


# --- runs consulted in notes --------------------------------------------------------------------


def attach_run_to_notes(ws: Workspace, paper_id: str, reader: str, run_id: str):
    """Add a finished run to the reader's pass-3 notes ("runs consulted"); the saved Note.

    Refuses a run that is not done, is a smoke test (`tiny` evaluates no claim) or reproduces
    another paper; a run with overrides may be attached (its lines say so). Saving follows the
    notes' rules (atomic, NoteConflict if the file changed since it was read).
    """
    from workbench import notes as note_file

    run = get_run(ws, run_id)
    if run.state != DONE:
        raise RunError(f"run {run_id} is {run.state}; only a finished run can be attached")
    if run.preset == SMOKE_TEST_PRESET:
        raise RunError(f"run {run_id} is a smoke test (preset {SMOKE_TEST_PRESET}) and evaluates "
                       f"no claim; attach a {' or '.join(EVIDENCE_PRESETS)} run")
    if run.paper and run.paper != paper_id:
        raise RunError(f"run {run_id} reproduces '{run.paper}', not '{paper_id}'")
    note, version = note_file.load_note(ws, paper_id, reader)
    if run_id in note.runs_consulted:
        return note
    note = dataclasses.replace(note, runs_consulted=(*note.runs_consulted, run_id))
    note_file.save_note(ws, note, version)
    return note


def correctness_lines(ws: Workspace, run_ids: Sequence[str]) -> list[str]:
    """Markdown lines for the Correctness C on the Read page, per consulted run: one per claim
    the run evaluated, `run <id> · degradation: **reproduced in miniature** (measured …;
    paper: …)`, then one naming the paper-scale numbers it did not measure. A run with overrides
    says so; a smoke test (attached before they were refused) gets one line saying it shows
    nothing."""
    lines = []
    for run_id in (r.strip() for r in run_ids if r.strip()):
        try:
            run = get_run(ws, run_id)
        except WorkbenchError as exc:
            lines.append(f"run `{run_id}`: {exc}")
            continue
        if run.state != DONE:
            lines.append(f"run `{run_id}`: run is {run.state}")
            continue
        if run.preset == SMOKE_TEST_PRESET:
            lines.append(f"run `{run_id}`: a smoke test (preset {SMOKE_TEST_PRESET}); it "
                         "evaluates no claim")
            continue
        flag = f" (with overrides {overrides_text(run)})" if run.overrides else ""
        claims = [c for c in run.result.get("claims", []) if not paper_scale(c)]
        for c in claims:
            measured = f"measured {c['measured']}; " if c.get("measured") else ""
            lines.append(f"run `{run_id}`{flag} · {c['id']}: **{c['verdict']}** "
                         f"({measured}paper: {c['paper']})")
        unmeasured = [c["id"] for c in run.result.get("claims", []) if paper_scale(c)]
        if unmeasured:
            lines.append(f"run `{run_id}`: not measured at this scale: {', '.join(unmeasured)}")
    return lines

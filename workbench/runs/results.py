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
from workbench.workspace import Workspace

# --- tables, curves, comparisons ----------------------------------------------------------------


def history_rows(runs: Sequence[Run]) -> list[dict]:
    """One row per run for the history table."""
    return [{
        "run": r.id, "status": f"{STATE_ICONS[r.state]} {r.state}", "reproduction": r.name,
        "preset": r.preset, "overrides": " ".join(f"{k}={v}" for k, v in r.overrides.items()),
        "progress": round(r.fraction, 3),
        "duration (s)": round(r.duration_s, 1) if r.duration_s is not None else None,
        "headline metric": r.headline(), "verdict": r.verdict_summary() or (r.error or ""),
    } for r in runs]


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
    """The paper's own numbers the reproduction quotes, with what measuring them would need."""
    return [{"claim": c["id"], "the paper reports": c.get("paper", ""),
             "source": c.get("source", ""), "needs": c.get("needs", "")}
            for c in (run.result or {}).get("claims", []) if paper_scale(c)]


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

    Refuses a run that is not done or reproduces another paper; saving follows the notes'
    rules (atomic, NoteConflict if the file changed since it was read).
    """
    from workbench import notes as note_file

    run = get_run(ws, run_id)
    if run.state != DONE:
        raise RunError(f"run {run_id} is {run.state}; only a finished run can be attached")
    if run.paper and run.paper != paper_id:
        raise RunError(f"run {run_id} reproduces '{run.paper}', not '{paper_id}'")
    note, version = note_file.load_note(ws, paper_id, reader)
    if run_id in note.runs_consulted:
        return note
    note = dataclasses.replace(note, runs_consulted=(*note.runs_consulted, run_id))
    note_file.save_note(ws, note, version)
    return note


def run_verdicts_for_notes(ws: Workspace, run_ids: Sequence[str]) -> list[dict]:
    """`{run, claim, paper, measured, verdict}` per claim of each consulted run that finished;
    a run id that is unknown or unfinished gives one row saying so (verdict None)."""
    rows: list[dict] = []
    for run_id in run_ids:
        try:
            run = get_run(ws, run_id.strip())
        except WorkbenchError as exc:
            rows.append({"run": run_id, "claim": None, "paper": None, "measured": None,
                         "verdict": None, "note": str(exc)})
            continue
        if run.state != DONE:
            rows.append({"run": run_id, "claim": None, "paper": None, "measured": None,
                         "verdict": None, "note": f"run is {run.state}"})
            continue
        rows += [{"run": run_id, "claim": c["id"], "paper": c["paper"],
                  "measured": c.get("measured", ""), "verdict": c["verdict"], "note": ""}
                 for c in run.result.get("claims", [])]
    return rows


def correctness_lines(ws: Workspace, run_ids: Sequence[str]) -> list[str]:
    """One Markdown line per claim of the consulted runs, for the Correctness C on the Read page:
    `run <id> · degradation: reproduced in miniature (measured …; paper: …)`."""
    lines = []
    for row in run_verdicts_for_notes(ws, [r for r in run_ids if r.strip()]):
        if row["verdict"] is None:
            lines.append(f"run `{row['run']}`: {row['note']}")
            continue
        measured = f"measured {row['measured']}; " if row["measured"] else ""
        lines.append(f"run `{row['run']}` · {row['claim']}: **{row['verdict']}** "
                     f"({measured}paper: {row['paper']})")
    return lines

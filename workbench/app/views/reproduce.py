"""Reproduce: launch a reproduction, watch it live, cancel it, compare runs with the paper."""

import streamlit as st

from workbench import runs
from workbench.app.common import load_catalog, may_run, run_permission_note, workspace
from workbench.app.views.reading import reader_sidebar
from workbench.errors import WorkbenchError

st.title("Reproduce")
ws = workspace()
allowed = may_run()  # served to a class: only the runners list launches, cancels, resumes


def reset_form() -> None:
    for key in [k for k in st.session_state if str(k).startswith("ov_")]:
        del st.session_state[key]


def act(action, *args) -> None:
    """A button callback: cancel or resume; its error is shown on the rerun."""
    if not may_run():  # the disabled button guards the browser; this, a crafted message
        st.session_state["run_error"] = run_permission_note()
        return
    try:
        action(ws, *args)
    except WorkbenchError as exc:
        st.session_state["run_error"] = str(exc)


def resume_and_launch(ws, run_id: str) -> None:
    runs.launch(ws, runs.resume(ws, run_id))  # queued again, then launched as a new run is


cat = load_catalog()  # an invalid catalog shows its problems; runs do not need it
try:
    runs.pump(ws)
    names = [r["name"] for r in runs.list_reproductions(ws)]
    pid = st.query_params.get("paper")
    paper = cat.get(pid) if cat is not None and pid else None
    wanted = paper.reproduction if paper else runs.reproduction_for_paper(ws, pid)
    if pid and wanted not in names:
        st.info(f"Paper '{pid}' has no reproduction yet; pick one below.")
    name = st.selectbox("Reproduction", names, index=names.index(wanted) if wanted in names
                        else 0, key="repro_name", on_change=reset_form)
    repro = runs.describe(ws, name)
except WorkbenchError as exc:
    st.error(str(exc))
    st.stop()
st.caption(f"{repro.title} · paper id `{repro.paper}`")
preset = st.selectbox("Preset", repro.presets, index=repro.presets.index(repro.default_preset()),
                      key="repro_preset", on_change=reset_form,
                      help="paper: the paper's architecture · mini: about a CPU minute · tiny: seconds")
with st.expander("Overrides (the preset's values; change any to override it)"):
    cols = st.columns(3)
    for i, f in enumerate(repro.fields):
        key, where, default = f"ov_{f.name}", cols[i % 3], f.defaults.get(preset)
        # the preset's value goes in through session state, not `value=`: a keyed widget keeps
        # its id when `value=` changes, so the browser would keep (and send) the old preset's
        # value; a session-state value is pushed to the browser (reset_form clears them)
        if f.kind == "bool":
            st.session_state.setdefault(key, bool(default))
            where.checkbox(f.name, key=key, help=f.help or None)
        elif f.kind == "choice":
            st.session_state.setdefault(key, default)
            where.selectbox(f.name, f.choices, key=key, help=f.help or None)
        else:
            st.session_state.setdefault(key, runs.default_text(f, preset))
            where.text_input(f"{f.name} ({f.type})", key=key, help=f.help or None)

if not allowed:
    st.info(run_permission_note())
if st.button("▶ Start", key="run_start", type="primary", disabled=not allowed) and allowed:
    try:
        values = {f.name: st.session_state[f"ov_{f.name}"] for f in repro.fields}
        run = runs.submit(ws, name, preset, runs.overrides_from_form(repro, preset, values))
        st.session_state["run_watch"] = runs.launch(ws, run).id  # queued: a supervisor starts it
    except WorkbenchError as exc:
        st.error(f"Not started: {exc}")
if "run_error" in st.session_state:
    st.error(st.session_state.pop("run_error"))

all_runs = runs.list_runs(ws)
active = [r for r in all_runs if r.state in runs.ACTIVE]


@st.fragment(run_every=1 if active else None)
def live() -> None:
    runs.pump(ws)
    running = [r for r in active if r.state == runs.RUNNING] or active[-1:]
    run_id = st.session_state.get("run_watch") or (running[0].id if running else None)
    if run_id is None:
        st.caption("No run in progress. Start one above; runs queue and start one at a time.")
        return
    run = runs.get_run(ws, run_id)
    where = f"{run.variant} step {run.step}/{run.steps}" if run.steps else "starting"
    st.progress(run.fraction, text=f"{runs.STATE_ICONS[run.state]} {run.id} · {run.state} · "
                f"{where if run.state == runs.RUNNING else run.preset}")
    if run.state in runs.ACTIVE:
        st.button("⏹ Cancel", key="run_cancel", on_click=act, args=(runs.cancel, run.id),
                  disabled=not allowed)
    if run.error:
        st.error(f"{'Not started' if run.state == runs.INVALID else 'Failed'}: {run.error}")
    records = runs.read_metrics(run)
    if records:
        st.plotly_chart(runs.curves_figure({run.id: records}), key="live_curves")
    with st.expander("Log", expanded=run.state == runs.FAILED):
        st.code(runs.log_tail(run) or "(nothing logged yet)")
    was = st.session_state.get("live_state")
    st.session_state["live_state"] = (run.id, run.state)
    if was and was[0] == run.id and was[1] in runs.ACTIVE and run.state not in runs.ACTIVE:
        st.rerun()  # finished: refresh the history and the results below


st.subheader("Current run")
live()

st.subheader("History")
if not all_runs:
    st.caption("No runs yet.")
    st.stop()
st.dataframe(runs.history_rows(all_runs), key="run_history", hide_index=True)
ids = [r.id for r in all_runs]
overlay = st.multiselect("Overlay the curves of", ids, default=ids[:1], key="run_overlay")
if overlay:
    by_id = {r.id: r for r in all_runs}
    st.plotly_chart(runs.curves_figure({i: runs.read_metrics(by_id[i]) for i in overlay}),
                    key="overlay_curves")
    if len(overlay) > 1:
        st.dataframe(runs.compare([by_id[i] for i in overlay])["metrics"], hide_index=True)

st.subheader("What the run showed")
pick = runs.get_run(ws, st.selectbox("Run", ids, key="run_pick"))
if pick.result:
    st.caption("Each claim compares the paper's method with a control and trivial baselines "
               "trained or computed in this run, on the same data; the margin is the smallest "
               "advantage (positive: the claim held).")
    st.dataframe(runs.claim_rows(pick), key="claims_table", hide_index=True)
    if paper := runs.paper_rows(pick):
        st.markdown("**What the paper reports at full scale** (not measured by this run)")
        st.dataframe(paper, key="paper_table", hide_index=True)
    st.caption(" · ".join(f"**{k}** {v}" for k, v in runs.environment(pick).items()))
    reader = reader_sidebar()
    if reader and st.button("📎 Attach to my pass-3 notes", key="run_attach"):
        try:
            runs.attach_run_to_notes(ws, pick.paper, reader, pick.id)
            st.success(f"{pick.id} is in {reader}'s notes on '{pick.paper}' (runs consulted).")
        except WorkbenchError as exc:
            st.error(str(exc))
else:
    st.caption(f"{pick.id} is {pick.state}: no result yet.")
    if pick.state in (runs.FAILED, runs.CANCELLED) and pick.checkpoints:
        st.button("↻ Resume from checkpoint", key="run_resume", on_click=act,
                  args=(resume_and_launch, pick.id), disabled=not allowed)

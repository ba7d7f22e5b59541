"""Reproduce: launch a reproduction, watch it live, cancel it, compare runs with the paper."""

import streamlit as st

from workbench import runs
from workbench.app.common import load_catalog, may_run, run_permission_note, workspace
from workbench.app.views.code_views import reproduction_code
from workbench.app.views.reading import reader_sidebar
from workbench.catalog import WORKBENCH_PAGE
from workbench.errors import WorkbenchError
from workbench.safetext import md_literal

st.title("Reproduce")
ws = workspace()
allowed = may_run()  # served to a class: only the runners list launches, cancels, resumes
PRESETS = "repro_presets"  # {reproduction: preset last chosen}: outlives the widget's state
ALL = "(all)"


def reset_form() -> None:
    for key in [k for k in st.session_state if str(k).startswith("ov_")] + ["repro_preset"]:
        st.session_state.pop(key, None)


def keep_preset(name: str) -> None:
    st.session_state.setdefault(PRESETS, {})[name] = st.session_state["repro_preset"]
    reset_form()


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


def field_widget(f, preset: str, where) -> None:
    """One Config field: its type in words and the paper section its value comes from."""
    key, default = f"ov_{f.name}", f.defaults.get(preset)
    label = f.name + (f" · {f.source}" if f.source else "")
    # the preset's value goes in through session state, not `value=`: a keyed widget keeps
    # its id when `value=` changes, so the browser would keep (and send) the old preset's
    # value; a session-state value is pushed to the browser (reset_form clears them)
    if f.kind == "bool":
        st.session_state.setdefault(key, bool(default))
        where.checkbox(label, key=key, help=f.help or None)
    elif f.kind == "choice":
        st.session_state.setdefault(key, default)
        where.selectbox(label, f.choices, key=key, help=f.help or None)
    else:
        st.session_state.setdefault(key, runs.default_text(f, preset))
        where.text_input(f"{label} ({f.words})", key=key, help=f.help or None)


def waiting_for_descriptions() -> None:
    st.info("Reading the reproductions' settings: the first time after an install or an "
            "update this imports torch in a separate process (about ten seconds). The runs "
            "are below meanwhile.")

    @st.fragment(run_every=1)
    def poll() -> None:
        try:
            ready = runs.descriptions_ready(ws)
        except WorkbenchError as exc:
            st.error(str(exc))
            return
        if ready:
            st.rerun()

    poll()


cat = load_catalog()  # an invalid catalog shows its problems; runs do not need it
pid = st.query_params.get("paper")
paper = cat.get(pid) if cat is not None and pid else None
name, repro = paper.reproduction if paper else None, None
try:
    runs.pump(ws)
    all_runs = runs.list_runs(ws)
    if runs.descriptions_ready(ws):  # else being made in the background: the page goes on
        names = [r["name"] for r in runs.list_reproductions(ws)]
        wanted = paper.reproduction if paper else runs.reproduction_for_paper(ws, pid)
        if paper is not None and paper.reproduction == WORKBENCH_PAGE:
            st.info("This paper's method is the workbench itself: the Read page.")
            st.page_link("views/read.py", label="Read with its three passes",
                         icon=":material/menu_book:", query_params={"paper": paper.id})
        elif pid and wanted not in names:
            st.info(f"Paper '{pid}' has no reproduction yet; pick one below.")
        elif paper is not None and paper.reproduction:
            st.caption(md_literal(paper.reproduction_line))
        name = st.selectbox("Reproduction", names, index=names.index(wanted) if wanted in names
                            else 0, key="repro_name", on_change=reset_form)
        repro = runs.describe(ws, name)
except WorkbenchError as exc:
    st.error(str(exc))
    st.stop()

if repro is None:
    waiting_for_descriptions()
else:
    st.caption(f"{repro.title} · paper id `{repro.paper}`")
    if (paper is not None and paper.reproduction == name and paper.repro_preset in repro.presets
            and st.session_state.get("repro_preset_paper") != paper.id):
        st.session_state["repro_preset"] = paper.repro_preset  # the preset that shows this paper
        st.session_state["repro_preset_paper"] = paper.id
    if st.session_state.get("repro_preset") not in repro.presets:
        st.session_state["repro_preset"] = st.session_state.get(PRESETS, {}).get(
            name, repro.default_preset())
    mine = [r for r in all_runs if r.name == name]
    preset = st.selectbox("Preset", repro.presets, key="repro_preset", on_change=keep_preset,
                          args=(name,), format_func=lambda p: runs.preset_label(p, mine))
    if preset == runs.SMOKE_TEST_PRESET:
        st.warning(f"`{preset}` is a smoke test: it checks that the code runs and evaluates no "
                   f"claim. Pick `{repro.default_preset()}` to test the paper's claims.")
    st.caption("Settings: the preset's values; change any to override it (a run with "
               "overrides is another experiment, flagged in the history).")
    cols = st.columns(3)
    for i, f in enumerate(repro.key_fields()):
        field_widget(f, preset, cols[i % 3])
    with st.expander(f"All other settings ({len(repro.other_fields())})"):
        cols = st.columns(3)
        for i, f in enumerate(repro.other_fields()):
            field_widget(f, preset, cols[i % 3])
    reproduction_code(ws, cat, name, paper)  # folded; references link to the Paper page
    if not allowed:
        st.info(run_permission_note())
    if st.button("Start", icon=":material/play_arrow:", key="run_start", type="primary", disabled=not allowed) and allowed:
        try:
            values = {f.name: st.session_state[f"ov_{f.name}"] for f in repro.fields}
            run = runs.submit(ws, name, preset, runs.overrides_from_form(repro, preset, values))
            st.session_state["run_watch"] = runs.launch(ws, run).id  # a supervisor starts it
            all_runs = runs.list_runs(ws)
        except WorkbenchError as exc:
            st.error(f"Not started: {exc}")
if "run_error" in st.session_state:
    st.error(st.session_state.pop("run_error"))

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
        st.button("Cancel", icon=":material/stop:", key="run_cancel", on_click=act, args=(runs.cancel, run.id),
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
choices = ([name] if name else []) + [ALL]
if st.session_state.get("run_filter") not in choices:
    st.session_state["run_filter"] = choices[0]
shown_of = st.selectbox("Runs of", choices, key="run_filter",
                        format_func=lambda c: "every reproduction" if c == ALL else c)
shown = all_runs if shown_of == ALL else [r for r in all_runs if r.name == shown_of]
if not shown:
    st.caption("No runs yet." if shown_of == ALL else f"No runs of {shown_of} yet.")
    st.stop()
st.dataframe(runs.history_rows(shown), key="run_history", hide_index=True)
by_id = {r.id: r for r in shown}
ids = list(by_id)
if st.session_state.get("run_newest") != ids[0]:  # a new run, or another reproduction: show it
    st.session_state.update(run_newest=ids[0], run_overlay=ids[:1], run_pick=ids[0])
st.session_state["run_overlay"] = [i for i in st.session_state.get("run_overlay", ids[:1])
                                   if i in by_id]
if st.session_state.get("run_pick") not in by_id:
    st.session_state["run_pick"] = ids[0]
overlay = st.multiselect("Overlay the curves of", ids, key="run_overlay",
                         format_func=lambda i: runs.run_label(by_id[i]))
if overlay:
    st.plotly_chart(runs.curves_figure({i: runs.read_metrics(by_id[i]) for i in overlay}),
                    key="overlay_curves")
    if len(overlay) > 1:
        st.dataframe(runs.compare([by_id[i] for i in overlay])["metrics"], hide_index=True)

st.subheader("What the run showed")
pick = by_id[st.selectbox("Run", ids, key="run_pick",
                          format_func=lambda i: runs.run_label(by_id[i]))]
if pick.result:
    if problem := runs.evidence_problem(pick):
        st.warning(f"Not evidence for the paper's claims: {problem}.")
    st.caption("Each claim compares the paper's method with a control and trivial baselines "
               "trained or computed in this run, on the same data; the margin is the smallest "
               "advantage (positive: the claim held).")
    st.dataframe(runs.claim_rows(pick), key="claims_table", hide_index=True)
    if paper_table := runs.paper_rows(pick):
        st.markdown("**This checkpoint against the paper's table**"
                    if runs.measured_at_scale(paper_table) else
                    "**What the paper reports at full scale** (not measured by this run)")
        st.dataframe(paper_table, key="paper_table", hide_index=True)
    if figures := runs.run_figures(pick):  # the paper's figures, redrawn by this run
        st.markdown("**Figures this run drew**")
        cols = st.columns(min(len(figures), 3))
        for i, fig in enumerate(figures):
            where = f"the paper's {fig['paper_figure']}: " if fig["paper_figure"] else ""
            cols[i % 3].image(str(fig["path"]), caption=f"{where}{fig['caption']}")
    st.caption(" · ".join(f"**{k}** {v}" for k, v in runs.environment(pick).items()))
else:
    st.caption(f"{pick.id} is {pick.state}: no result yet.")
    if pick.state in (runs.FAILED, runs.CANCELLED) and pick.checkpoints:
        st.button("Resume from checkpoint", icon=":material/replay:", key="run_resume", on_click=act,
                  args=(resume_and_launch, pick.id), disabled=not allowed)

# evidence for the reader's notes: finished runs of this reproduction, never a smoke test
attachable = [r for r in all_runs if r.state == runs.DONE and r.name == name and r.paper
              and r.preset != runs.SMOKE_TEST_PRESET]
reader = reader_sidebar() if attachable else None
if reader:
    st.subheader("Attach to my pass-3 notes")
    best = runs.evidence_run(attachable)
    options = {r.id: r for r in attachable}
    chosen = st.selectbox("Run to attach", list(options), key="attach_pick",
                          index=list(options).index(best.id) if best else 0,
                          format_func=lambda i: runs.run_label(options[i]),
                          help="The newest mini or paper run without overrides is the default: "
                               "a run with overrides is another experiment.")
    if best is None:
        st.caption("No mini or paper run without overrides yet: start one above.")
    if st.button("Attach to my pass-3 notes", icon=":material/attach_file:", key="run_attach"):
        try:
            runs.attach_run_to_notes(ws, options[chosen].paper, reader, chosen)
            st.success(f"{chosen} is in {reader}'s notes on '{options[chosen].paper}' "
                       "(runs consulted).")
        except WorkbenchError as exc:
            st.error(str(exc))

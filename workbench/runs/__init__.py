"""Reproduction runs: `reproductions` (what the reproductions offer, described without importing
torch, and a run's overrides checked against that), `overrides` (the one `--set` grammar, also
used by the reproductions themselves), `folders` (run folders
and states), `processes` (children that never import workspace code), `queue` (submit, launch,
cancel, resume), `results` (history, verdicts, curves). Layer 5.
"""

from __future__ import annotations

from workbench.runs.folders import (
    ACTIVE,
    CANCELLED,
    DONE,
    FAILED,
    INVALID,
    QUEUED,
    RUNNING,
    STATE_ICONS,
    get_run,
    list_runs,
    log_tail,
    queued_runs,
    read_metrics,
)
from workbench.runs.processes import python_env
from workbench.runs.queue import (
    cancel,
    launch,
    pump,
    resume,
    submit,
    supervise,
)
from workbench.runs.reproductions import (
    RECOMMENDED_PRESET,
    SMOKE_TEST_PRESET,
    default_text,
    describe,
    descriptions_ready,
    list_reproductions,
    overrides_from_form,
    reproduction_for_paper,
)
from workbench.runs.results import (
    attach_run_to_notes,
    claim_rows,
    compare,
    correctness_lines,
    curves_figure,
    environment,
    evidence_problem,
    evidence_run,
    format_table,
    history_rows,
    paper_rows,
    paper_scale,
    preset_label,
    run_label,
)

__all__ = [
    "ACTIVE",
    "CANCELLED",
    "DONE",
    "FAILED",
    "INVALID",
    "QUEUED",
    "RECOMMENDED_PRESET",
    "RUNNING",
    "SMOKE_TEST_PRESET",
    "STATE_ICONS",
    "attach_run_to_notes",
    "cancel",
    "claim_rows",
    "compare",
    "correctness_lines",
    "curves_figure",
    "default_text",
    "describe",
    "descriptions_ready",
    "environment",
    "evidence_problem",
    "evidence_run",
    "format_table",
    "get_run",
    "history_rows",
    "launch",
    "list_reproductions",
    "list_runs",
    "log_tail",
    "overrides_from_form",
    "paper_rows",
    "paper_scale",
    "preset_label",
    "pump",
    "python_env",
    "queued_runs",
    "read_metrics",
    "reproduction_for_paper",
    "resume",
    "run_label",
    "submit",
    "supervise",
]

"""Shared fixtures: a temporary workspace, the shipped catalog, the read-only ../shared folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHIPPED_CATALOG = REPO / "papers.yaml"
SHARED = Path(os.environ.get("WORKBENCH_SHARED", REPO.parent / "shared"))
SHARED_PDFS = SHARED / "pdfs"
SHARED_FIXTURES = SHARED / "fixtures"

requires_shared = pytest.mark.skipif(
    not SHARED_PDFS.is_dir(),
    reason=f"needs the course's shared folder at {SHARED} (CI has it; a fresh clone does not: "
    "set WORKBENCH_SHARED to run these)",
)


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A fresh workspace holding a copy of the shipped catalog; the app and CLI use it."""
    from workbench.workspace import Workspace

    root = tmp_path / "ws"
    root.mkdir()
    shutil.copy(SHIPPED_CATALOG, root / "papers.yaml")
    monkeypatch.setenv("WORKBENCH_WORKSPACE", str(root))
    return Workspace.resolve(root)

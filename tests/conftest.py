"""Shared fixtures: a temporary workspace (made by tests/workspaces.py), the shipped catalog, the
read-only ../shared folder."""

from __future__ import annotations

import os
import tempfile
from functools import partial
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHIPPED_CATALOG = REPO / "papers.yaml"
SHARED = Path(os.environ.get("WORKBENCH_SHARED", REPO.parent / "shared"))
SHARED_PDFS = SHARED / "pdfs"
SHARED_FIXTURES = SHARED / "fixtures"

# the user-level cache (validated catalogs, see workbench/catalog_cache.py) goes to a folder of
# this test run, not to ~/.cache; subprocesses inherit it
os.environ.setdefault("WORKBENCH_CACHE_DIR", tempfile.mkdtemp(prefix="workbench-test-cache-"))

requires_shared = pytest.mark.skipif(
    not SHARED_PDFS.is_dir(),
    reason=f"needs the course's shared folder at {SHARED} (CI has it; a fresh clone does not: "
    "set WORKBENCH_SHARED to run these)",
)


@pytest.fixture
def make_ws(tmp_path, monkeypatch):
    """`make_ws(catalog="shipped", **options)`: `tests.workspaces.make_workspace` at
    tmp_path/"ws", with WORKBENCH_WORKSPACE pointing at it."""
    from tests.workspaces import make_workspace

    return partial(make_workspace, tmp_path / "ws", monkeypatch=monkeypatch)


@pytest.fixture
def workspace(make_ws):
    """A fresh workspace holding a copy of the shipped catalog; the app and CLI use it."""
    return make_ws()


@pytest.fixture(autouse=True)
def _no_real_paper_services(monkeypatch):
    """No test reaches arXiv or Semantic Scholar: the source clients point at a closed local
    port unless a test starts the local fake (`fake_services`)."""
    from tests.fake_services import point_env_at_nothing

    point_env_at_nothing(monkeypatch)


@pytest.fixture
def fake_services(monkeypatch):
    """A local arXiv + Semantic Scholar (tests/fake_services.py) serving the recorded responses
    in tests/data/sources; the WORKBENCH_* variables point the clients at it."""
    from tests.fake_services import DATA, FakeServices

    with FakeServices() as fake:
        fake.load_fixtures(DATA)
        fake.point_env(monkeypatch)
        yield fake


def pytest_collection_modifyitems(config, items):
    """Test modules may mark their own items (tests/pdf/test_pdf_real.py: expected failures that
    wait for OCR)."""
    by_module: dict = {}
    for item in items:
        by_module.setdefault(getattr(item, "module", None), []).append(item)
    for module, its in by_module.items():
        hook = getattr(module, "pytest_collection_modifyitems", None)
        if hook is not None and module.__name__ != __name__:
            hook(its)

"""The app looks right on a bare Linux machine, offline (issue 19, item 16): no emoji, which
render as empty boxes without an emoji font, but Material icons that ship with Streamlit; a
favicon shipped in the package, not fetched from a font CDN; no "Deploy" button or developer
menu for students."""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import streamlit as st

from tests.apptest_helpers import APP, open_page
from tests.conftest import REPO
from tests.workspaces import make_workspace
from workbench.runs import STATE_ICONS

# characters that browsers draw from an emoji font (or that many fonts lack): pictographs,
# dingbats, misc. technical (⏹ ⏳), arrows (↻), the emoji-styled geometric shapes (▶ ◀ ◻ ◼),
# and the variation selector / joiner that turn a character into an emoji
EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2190-\u21FF\u2300-\u23FF\u2600-\u27BF\u2B00-\u2BFF"
                   "\u25AA\u25AB\u25B6\u25C0\u25FB-\u25FE\u203C\u2049\u3030\u303D\u3297\u3299"
                   "\uFE0F\u200D]")


def emoji_in(text: str) -> list[str]:
    return sorted(set(EMOJI.findall(text)))


def test_the_emoji_pattern_catches_the_old_labels_and_spares_the_plain_symbols():
    for old in ("💾 Save", "✅ Finish pass 1", "⏹ Stop timer", "▶ Start", "📎 Attach", "📖",
                "➕ New session", "↻ Resume", "⏳", "🏃", "❌", "⛔"):
        assert emoji_in(old), old
    assert emoji_in("○ ► ● × ■ ! · … – “quoted”") == []


def test_no_app_source_and_no_run_state_shows_an_emoji():
    sources = sorted(APP.rglob("*.py"))
    assert len(sources) > 10
    found = {str(p.relative_to(REPO)): emoji_in(p.read_text(encoding="utf-8")) for p in sources}
    assert {path: chars for path, chars in found.items() if chars} == {}
    assert {state: emoji_in(icon) for state, icon in STATE_ICONS.items() if emoji_in(icon)} == {}
    assert all(icon.strip() for icon in STATE_ICONS.values())  # still a marker beside the word


def test_read_page_buttons_carry_material_icons_and_plain_labels(tmp_path, monkeypatch):
    make_workspace(tmp_path / "ws", "cnns", monkeypatch=monkeypatch, reader="alice")
    at = open_page("read.py", paper="resnet")
    icons = {b.key: b.proto.icon for b in at.button}
    assert icons["save_note"] == ":material/save:"
    assert icons["finish_pass"] == ":material/task_alt:"
    assert icons["timer_start"] == ":material/play_arrow:"
    assert [b.label for b in at.button if emoji_in(b.label)] == []


def test_students_get_the_viewer_toolbar_from_the_config_beside_the_entrypoint(tmp_path):
    """`streamlit run workbench/app/main.py` (what `workbench app` runs), from any directory,
    reads the config beside main.py: toolbar mode "viewer" hides Deploy and the developer menu."""
    probe = ("import sys, streamlit.config as c; c._main_script_path = sys.argv[1]; "
             "c.get_config_options(force_reparse=True); print(c.get_option('client.toolbarMode'))")
    out = subprocess.run([sys.executable, "-c", probe, str(APP / "main.py")], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "viewer"


@pytest.mark.parametrize("shipped", [".streamlit/config.toml", "static/favicon.png"])
def test_the_config_and_the_favicon_are_package_data(shipped):
    assert (APP / shipped).is_file()
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["workbench"]
    assert any(fnmatch.fnmatch(f"app/{shipped}", g) for g in globs), globs


def test_the_favicon_is_a_shipped_png_not_an_icon_fetched_from_a_font_cdn(tmp_path, monkeypatch):
    make_workspace(tmp_path / "ws", "cnns", monkeypatch=monkeypatch, reader="alice")
    real, icons = st.set_page_config, []

    def recorded(*args, **kwargs):
        icons.append(kwargs.get("page_icon"))
        return real(*args, **kwargs)

    monkeypatch.setattr(st, "set_page_config", recorded)
    open_page()
    assert icons, "main.py sets no page config"
    icon = Path(icons[-1])  # a str like ":material/..." or an emoji would make the browser fetch
    assert icon.is_file() and icon.resolve().is_relative_to(APP)
    assert icon.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

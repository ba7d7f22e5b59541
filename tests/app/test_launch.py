"""`workbench app`'s process: Streamlit's command line with the first pages' imports warmed."""

import importlib.util
import subprocess
import sys

from workbench.app import launch


def test_every_warmed_module_exists():
    """A renamed module would silently stop being warmed (the warm-up ignores failures)."""
    assert [n for n in launch.WARM if importlib.util.find_spec(n) is None] == []


def test_the_launcher_is_streamlits_command_line():
    out = subprocess.run([sys.executable, "-m", "workbench.app.launch", "run", "--help"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert "Usage: streamlit run" in out and "--server.port" in out

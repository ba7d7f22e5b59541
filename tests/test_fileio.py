"""workbench.fileio.locked: one exclusive lock per folder across processes, and a non-blocking
try that says when someone else holds it."""

from __future__ import annotations

import subprocess
import sys
import threading

from tests.conftest import REPO
from workbench.fileio import locked

HOLDER = """
import sys
from workbench.fileio import locked
with locked(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.readline()  # hold it until the test closes our stdin
"""


def test_a_nonblocking_lock_says_no_while_another_process_holds_the_folder(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], cwd=REPO,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with locked(tmp_path, blocking=False) as held:
            assert held is False
    finally:
        holder.stdin.close()
        assert holder.wait(timeout=60) == 0
    with locked(tmp_path, blocking=False) as held:  # released when the holder let go
        assert held is True


def test_two_holders_in_one_process_exclude_each_other_and_a_blocking_one_waits(tmp_path):
    got = threading.Event()

    def second_holder():
        with locked(tmp_path):
            got.set()

    with locked(tmp_path) as held:
        assert held is True
        with locked(tmp_path, blocking=False) as again:
            assert again is False  # a lock belongs to an open file, not to the process
        waiter = threading.Thread(target=second_holder)
        waiter.start()
        assert not got.wait(0.3)  # blocked while the first holder keeps the folder
    assert got.wait(30)  # and it gets the lock once the first one lets go
    waiter.join()

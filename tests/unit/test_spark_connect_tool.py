"""`python -m tools.spark_connect stop` against a real process: what a test session or `make airflow` relies on."""

from __future__ import annotations

import os
import subprocess

import pytest

from tools import spark_connect


def test_stop_reaps_a_server_this_process_started(tmp_path):
    """A server started by this process (as the test session starts its own) is reaped by stop: its zombie would
    still answer kill(pid, 0), and stop would wait out its whole timeout for it."""
    server = spark_connect.Server(port=0, master="local[1]", driver_memory="1g", jdbc_jar="", directory=tmp_path)
    stand_in = subprocess.Popen(["sleep", "60"], start_new_session=True)
    server.pid_file.write_text(str(stand_in.pid))
    assert spark_connect.stop(server, wait_seconds=30) == 0
    with pytest.raises(ChildProcessError):  # reaped already: nothing of it left for this process to wait for
        os.waitpid(stand_in.pid, os.WNOHANG)
    stand_in.returncode = -15  # what the reap collected; Popen must not wait for it again
    assert not server.pid_file.exists()

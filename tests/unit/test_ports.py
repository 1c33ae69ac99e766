"""Every local port is set in one place (scripts/env.sh, from the environment), and a taken one never sends
traffic to whoever holds it: the mail sink of `make demo` / `make airflow` moves to a free port and smtp_default
follows it, saying so; Airflow's API server, the portal, the Spark Connect server and the local PostgreSQL stop at
once, naming the variable to set.

A port is taken here by a listening socket on a free port of this machine (never 8025 itself: another developer's
sink may own it); the code under test does not know the difference.
"""

from __future__ import annotations

import json
import os
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tools.mailsink import start_for_smtp_default

ROOT = Path(__file__).resolve().parents[2]
# What scripts/env.sh derives from the port variables: dropped, so it derives them anew for each test.
DERIVED = (
    "AIRFLOW_CONN_SMTP_DEFAULT",
    "USE_MAIL_SINK",
    "AIRFLOW_CONN_WAREHOUSE_DB",
    "USE_LOCAL_PG",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__API__BASE_URL",
)
PORTS = ("MAIL_SINK_PORT", "AIRFLOW__API__PORT", "PORTAL_PORT", "LOCAL_PG_PORT")


def env_sh(**settings: str) -> dict[str, str]:
    """The environment `source scripts/env.sh` makes from this one, with `settings` set and the ports unset."""
    base = {k: v for k, v in os.environ.items() if k not in DERIVED + PORTS}
    proc = subprocess.run(
        ["bash", "-c", "source scripts/env.sh && env -0"],
        cwd=ROOT,
        env={**base, **settings},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(item.split("=", 1) for item in proc.stdout.split("\0") if "=" in item)


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def taken_port():
    """A port another program listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_env_sh_sets_every_port_from_the_environment():
    defaults = env_sh()
    assert [defaults[name] for name in PORTS] == ["8025", "8080", "8090", "55432"]
    env = env_sh(MAIL_SINK_PORT="2525", AIRFLOW__API__PORT="8181", PORTAL_PORT="8191", LOCAL_PG_PORT="55999")
    assert env["USE_MAIL_SINK"] == "1"
    assert json.loads(env["AIRFLOW_CONN_SMTP_DEFAULT"])["port"] == 2525
    # Links, and the execution API tasks call, follow the API server's port (Airflow's default is :8080).
    assert env["AIRFLOW__API__BASE_URL"] == "http://localhost:8181"
    assert env["PORTAL_PORT"] == "8191"
    assert urlsplit(env["AIRFLOW_CONN_WAREHOUSE_DB"]).port == 55999
    # A configured SMTP server is used as it is: no local sink.
    configured = env_sh(AIRFLOW_CONN_SMTP_DEFAULT="smtp://mail.example.com:587")
    assert configured["AIRFLOW_CONN_SMTP_DEFAULT"] == "smtp://mail.example.com:587"
    assert "USE_MAIL_SINK" not in configured


def test_a_shell_that_sourced_env_sh_gets_the_new_api_port():
    first = env_sh(AIRFLOW__API__PORT="8181")
    again = env_sh(AIRFLOW__API__PORT="8282", AIRFLOW__API__BASE_URL=first["AIRFLOW__API__BASE_URL"])
    assert again["AIRFLOW__API__BASE_URL"] == "http://localhost:8282"
    behind_proxy = env_sh(AIRFLOW__API__BASE_URL="https://airflow.example.com")
    assert behind_proxy["AIRFLOW__API__BASE_URL"] == "https://airflow.example.com"


def sink_environ(port: int) -> dict[str, str]:
    """What the sink reads of env.sh's environment: its port and the smtp_default that points at it."""
    env = env_sh(MAIL_SINK_PORT=str(port))
    return {k: env[k] for k in ("MAIL_SINK_PORT", "AIRFLOW_CONN_SMTP_DEFAULT")}


def test_the_demo_mail_sink_moves_off_a_taken_port_and_smtp_default_follows(tmp_path, taken_port, capsys, monkeypatch):
    """`make demo`'s sink (tools/demo.py calls start_for_smtp_default) with MAIL_SINK_PORT taken."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    environ = sink_environ(taken_port)
    sink = start_for_smtp_default(tmp_path, environ)
    try:
        moved = json.loads(environ["AIRFLOW_CONN_SMTP_DEFAULT"])
        assert moved["port"] == sink.port != taken_port
        assert moved["extra"]["from_email"] == "inventory-alerts@example.com"  # the rest of env.sh's connection
        # An email sent through smtp_default, as the alert tasks send it, lands in the sink's folder.
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", environ["AIRFLOW_CONN_SMTP_DEFAULT"])
        with SmtpHook(smtp_conn_id="smtp_default") as hook:
            hook.send_email_smtp(to="manager@example.com", subject="low stock", html_content="<p>x</p>")
    finally:
        sink.stop()
    assert len(list(tmp_path.glob("*.eml"))) == 1
    out = capsys.readouterr().out
    assert f"127.0.0.1:{taken_port} (MAIL_SINK_PORT) is taken" in out and f"127.0.0.1:{sink.port}" in out


def test_the_demo_mail_sink_stays_on_a_free_port(tmp_path, capsys):
    port = free_port()
    environ = sink_environ(port)
    sink = start_for_smtp_default(tmp_path, environ)
    sink.stop()
    assert sink.port == port == json.loads(environ["AIRFLOW_CONN_SMTP_DEFAULT"])["port"]
    assert "is taken" not in capsys.readouterr().out


def test_make_airflows_sink_writes_the_smtp_default_it_moved_to(tmp_path, taken_port):
    """scripts/airflow.sh runs the sink as a process and hands Airflow the connection it writes."""
    conn_file = tmp_path / "smtp_default.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.mailsink", "--smtp-default-file", str(conn_file)]
        + ["--dir", str(tmp_path / "mail")],
        cwd=ROOT,
        env=env_sh(MAIL_SINK_PORT=str(taken_port)),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not conn_file.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        port = json.loads(conn_file.read_text())["port"]
        assert port != taken_port
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:  # the sink answers there
            assert client.noop()[0] == 250
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"(MAIL_SINK_PORT) is taken by another program; listening on 127.0.0.1:{port}" in out


AIRFLOW_PORTS = (
    "AIRFLOW__API__PORT",
    "PORTAL_PORT",
    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
    "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT",
    "SPARK_CONNECT_PORT",
)


@pytest.mark.parametrize("variable", AIRFLOW_PORTS)
def test_make_airflow_stops_at_a_taken_port_naming_its_variable(tmp_path, taken_port, variable):
    others = {name: str(free_port()) for name in AIRFLOW_PORTS if name != variable}
    env = env_sh(**others, **{variable: str(taken_port)})
    env["AIRFLOW_HOME"] = str(tmp_path / "airflow")
    # Should the check let it through, Airflow fails at once here instead of starting.
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = "postgresql+psycopg2://nobody@127.0.0.1:9/none"
    env["SPARK_CONNECT_DIR"] = str(tmp_path / "spark-connect")  # no server of this project's runs there
    proc = run(["bash", "scripts/airflow.sh"], env)
    assert proc.returncode == 1
    assert f"port {taken_port} is taken" in proc.stderr.lower() and f"set {variable} to a free port" in proc.stderr
    assert not (tmp_path / "airflow").exists(), "it went on after the check"


def test_a_spark_connect_server_this_project_started_is_not_a_taken_port(tmp_path, taken_port):
    """`make airflow` reuses the server `python -m tools.spark_connect start` left running (its pid file)."""
    env = env_sh(SPARK_CONNECT_PORT=str(taken_port), SPARK_CONNECT_DIR=str(tmp_path))
    (tmp_path / "server.pid").write_text(str(os.getpid()))  # a live process stands in for the server
    assert run([sys.executable, "-m", "tools.spark_connect", "check"], env).returncode == 0
    (tmp_path / "server.pid").unlink()
    proc = run([sys.executable, "-m", "tools.spark_connect", "check"], env)
    assert proc.returncode == 1 and "set SPARK_CONNECT_PORT to a free port" in proc.stderr


def test_the_local_postgres_stops_at_a_taken_port(tmp_path, taken_port):
    env = env_sh(LOCAL_PG_PORT=str(taken_port), LOCAL_PG_DATA=str(tmp_path / "pg"))
    proc = run([sys.executable, "-m", "tools.localpg", "start"], env)
    assert proc.returncode == 1
    assert f"port {taken_port} (LOCAL_PG_PORT) is taken" in proc.stderr and "set LOCAL_PG_PORT" in proc.stderr
    assert not (tmp_path / "pg").exists()


def test_the_portal_stops_at_a_taken_port(taken_port):
    env = env_sh(PORTAL_PORT=str(taken_port), PORTAL_SECRET_KEY="t" * 40)
    proc = run([sys.executable, "-m", "include.portal", "serve"], env)
    assert proc.returncode == 1
    assert f"127.0.0.1:{taken_port}" in proc.stderr and "set PORTAL_PORT to a free port" in proc.stderr

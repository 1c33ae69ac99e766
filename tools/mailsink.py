"""A local SMTP sink for `make demo` / `make airflow` and the tests: every message received becomes a .eml file.

    python -m tools.mailsink --port 8025 --dir .local/mail

listens on 127.0.0.1 only, accepts any sender and recipient, delivers nothing anywhere. Each file is the message
exactly as received (open it with any mail client, or `python -m email` / `email.message_from_binary_file`),
named `<UTC time>-<n>.eml` so `ls` lists them in arrival order. `start_sink(port, folder)` runs the same server
in a background thread of the calling process.

`make demo` and `make airflow` start it for smtp_default (`start_for_smtp_default`; `--smtp-default-file` from
the shell): on MAIL_SINK_PORT, or, when another program holds that port, on a free one that smtp_default is
moved to, saying so. Mail never goes to whoever owns the port.
"""

from __future__ import annotations

import argparse
import errno
import itertools
import json
import os
import signal
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"
PORT_VARIABLE = "MAIL_SINK_PORT"  # scripts/env.sh, which points smtp_default at it
DEFAULT_PORT = 8025


class EmlFolder:
    """aiosmtpd handler: write each message to `folder` as a .eml file (atomically: temp name, then rename)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            n = next(self._counter)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")
        name = f"{stamp}-{os.getpid()}-{n:05d}.eml"
        tmp = self.folder / f".{name}.tmp"
        content = envelope.original_content or envelope.content
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        # The envelope recipients (Bcc included) are not in the message: record them the way MTAs do.
        header = f"X-Envelope-From: {envelope.mail_from}\r\nX-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        tmp.write_bytes(header.encode("ascii", "replace") + data)
        tmp.rename(self.folder / name)
        return "250 Message accepted for delivery"


def start_sink(port: int, folder: str | Path, host: str = HOST, *, or_free_port: bool = False) -> Controller:
    """Start the sink in a background thread and return its controller (`.port`; call `.stop()` when done).
    With `or_free_port`, a port another program holds is not an error: the sink takes a free one instead."""
    try:
        controller = Controller(EmlFolder(Path(folder)), hostname=host, port=port)
        controller.start()
        return controller
    except OSError as exc:
        if not or_free_port or exc.errno != errno.EADDRINUSE:
            raise
    with socket.socket() as probe:
        probe.bind((host, 0))
        free = probe.getsockname()[1]
    return start_sink(free, folder, host)


def start_for_smtp_default(folder: str | Path, environ=os.environ) -> Controller:
    """The sink smtp_default points at (scripts/env.sh: USE_MAIL_SINK), on MAIL_SINK_PORT or, when that port is
    taken, on a free one: AIRFLOW_CONN_SMTP_DEFAULT in `environ` is moved there and a line says so."""
    wanted = int(environ.get(PORT_VARIABLE, DEFAULT_PORT))
    controller = start_sink(wanted, folder, or_free_port=True)
    if controller.port != wanted:
        print(
            f"mail sink: 127.0.0.1:{wanted} ({PORT_VARIABLE}) is taken by another program; listening on "
            f"127.0.0.1:{controller.port} instead, and smtp_default points there",
            flush=True,
        )
    connection = json.loads(environ["AIRFLOW_CONN_SMTP_DEFAULT"])
    environ["AIRFLOW_CONN_SMTP_DEFAULT"] = json.dumps({**connection, "host": HOST, "port": controller.port})
    return controller


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--dir", default=".local/mail", help="folder the .eml files are written to")
    parser.add_argument(
        "--smtp-default-file",
        type=Path,
        help="serve smtp_default (port from MAIL_SINK_PORT, a free one if taken) and, once listening, write the "
        "AIRFLOW_CONN_SMTP_DEFAULT that points at it to this file",
    )
    args = parser.parse_args(argv)
    folder = Path(args.dir).resolve()
    if args.smtp_default_file:
        controller = start_for_smtp_default(folder)
        tmp = args.smtp_default_file.with_name(f".{args.smtp_default_file.name}.tmp")
        tmp.write_text(os.environ["AIRFLOW_CONN_SMTP_DEFAULT"])
        tmp.rename(args.smtp_default_file)  # whole or absent for whoever waits for it
    else:
        controller = start_sink(args.port, folder)
    print(f"SMTP sink listening on {HOST}:{controller.port}; messages are written to {folder}/*.eml", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()

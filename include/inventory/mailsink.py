"""A local SMTP sink for `make demo` / `make airflow` and the tests: every message received becomes a .eml file.

    python -m include.inventory.mailsink --port 8025 --dir .local/mail

listens on 127.0.0.1 only, accepts any sender and recipient, delivers nothing anywhere. Each file is the message
exactly as received (open it with any mail client, or `python -m email` / `email.message_from_binary_file`),
named `<UTC time>-<n>.eml` so `ls` lists them in arrival order. `start_sink(port, folder)` runs the same server
in a background thread of the calling process.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"


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


def start_sink(port: int, folder: str | Path, host: str = HOST) -> Controller:
    """Start the sink in a background thread and return its controller (call `.stop()` when done)."""
    controller = Controller(EmlFolder(Path(folder)), hostname=host, port=port)
    controller.start()
    return controller


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--dir", default=".local/mail", help="folder the .eml files are written to")
    args = parser.parse_args(argv)
    folder = Path(args.dir).resolve()
    controller = start_sink(args.port, folder)
    print(f"SMTP sink listening on {HOST}:{args.port}; messages are written to {folder}/*.eml", flush=True)
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

"""dummyjson's `/products` (limit, skip) served from the shipped snapshot on loopback.

A real HTTP server for the real `DummyJsonClient` to talk to where dummyjson.com cannot be reached: the DAG tests
and `make bench` point the Variable `dummyjson_base_url` at it.

    with DummyJsonStandIn() as api:
        os.environ["AIRFLOW_VAR_DUMMYJSON_BASE_URL"] = api.url

Options for the failures a real API shows: `max_limit` caps the page size as a server may (the body echoes the
limit applied); `repeat` adds the first `repeat` records of each page to its end again, as a server whose pages
overlap does (the body still echoes the skip asked and the limit applied; `echo_body_length` makes it echo the
number of records it sent instead); `delay` holds every answer that many seconds (a slow API; released when the
stand-in stops). `requests` lists the (skip, limit) of each request.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from include.inventory.catalogue import SNAPSHOT_PATH


class DummyJsonStandIn:
    """Serves the snapshot's products in pages, as dummyjson does, on 127.0.0.1 and a free port (`url`)."""

    def __init__(
        self, *, max_limit: int = 0, repeat: int = 0, echo_body_length: bool = False, delay: float = 0.0
    ) -> None:
        self.max_limit, self.repeat, self.echo_body_length, self.delay = max_limit, repeat, echo_body_length, delay
        self.requests: list[tuple[int, int]] = []
        self.release = threading.Event()

    def __enter__(self) -> DummyJsonStandIn:
        products = json.loads(Path(SNAPSHOT_PATH).read_text())["products"]
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                query = parse_qs(urlparse(self.path).query)
                limit, skip = int(query.get("limit", ["30"])[0]), int(query.get("skip", ["0"])[0])
                standin.requests.append((skip, limit))
                if standin.max_limit and (limit == 0 or limit > standin.max_limit):
                    limit = standin.max_limit
                page = products[skip : skip + limit] if limit else products[skip:]
                applied = len(page)
                page = page + page[: standin.repeat]
                echoed = len(page) if standin.echo_body_length else applied
                body = json.dumps({"products": page, "total": len(products), "skip": skip, "limit": echoed})
                if standin.delay:
                    standin.release.wait(standin.delay)
                data = body.encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

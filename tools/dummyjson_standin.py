"""dummyjson's `/products` (limit, skip) served from the shipped snapshot on loopback.

A real HTTP server for the real `DummyJsonClient` to talk to where dummyjson.com cannot be reached: the DAG tests
and `make bench` point the Variable `dummyjson_base_url` at it.

    with DummyJsonStandIn() as api:
        os.environ["AIRFLOW_VAR_DUMMYJSON_BASE_URL"] = api.url
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

    def __enter__(self) -> DummyJsonStandIn:
        products = json.loads(Path(SNAPSHOT_PATH).read_text())["products"]

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                query = parse_qs(urlparse(self.path).query)
                limit, skip = int(query.get("limit", ["30"])[0]), int(query.get("skip", ["0"])[0])
                page = products[skip : skip + limit] if limit else products[skip:]
                body = json.dumps({"products": page, "total": len(products), "skip": skip, "limit": len(page)})
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

"""A local fake ClickHouse server for `clickhouse://` tests: the HTTP interface clickhouse-connect
speaks (the query in the URL or the body, settings and bound parameters as URL parameters), answered by the real
engine in this process (chdb, on the session's chdb path). Text formats in and out; a `FORMAT
Native` query answers ClickHouse's binary Native blocks, and a Native insert (a backup's restore)
is read by the engine from a temporary file. It records each request's settings so
tests can see what the client asked for (e.g. asynchronous inserts).

With `cluster=NAME` it answers as a cluster of one node whose local tables are the plain ones
(the database migrated as a single node): `ON CLUSTER NAME` is dropped, `<table>_local` is
`<table>`, `cluster(NAME, db, t)` and `clusterAllReplicas(NAME, t)` read the table itself, and
`SYSTEM SYNC REPLICA` has nothing to wait for. The statements are recorded as sent."""

from __future__ import annotations

import contextlib
import http.server
import re
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self):
        self._answer()

    def do_POST(self):
        self._answer()

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding") == "chunked":
            data = b""
            while size := int(self.rfile.readline().strip(), 16):
                data += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return data
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self) -> None:
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        raw = self._body()
        query = params.pop("query", "")
        if query.rstrip().endswith("FORMAT Native") and query.startswith("INSERT INTO"):
            # A binary insert (a backup's restore): the engine reads the block from a file.
            self.server.requests.append((query, params))
            self._native_insert(query, raw)
            return
        body = raw.decode()
        sql = f"{query}\n{body}" if query and body else query or body
        self.server.requests.append((sql, params))
        if self.server.cluster:
            sql = self._one_node(sql)
        # Bound parameters (`{name:Type}` in the query), as clickhouse-connect sends them.
        bound = {k.removeprefix("param_"): v for k, v in params.items() if k.startswith("param_")}
        self._run(sql, bound)

    def _one_node(self, sql: str) -> str:
        cluster = re.escape(self.server.cluster)
        if sql.startswith("SYSTEM SYNC REPLICA"):
            return "SELECT 1 WHERE 0"
        sql = re.sub(rf" ON CLUSTER {cluster}\b", "", sql)
        sql = re.sub(rf"\bclusterAllReplicas\({cluster}, ([\w.]+)\)", r"\1", sql)
        sql = re.sub(rf"\bcluster\({cluster}, (\w+), (\w+)\)", r"\1.\2", sql)
        return re.sub(r"(\w)_local\b", r"\1", sql)

    def _native_insert(self, query: str, block: bytes) -> None:
        table = query.split()[2]
        with tempfile.NamedTemporaryFile(suffix=".native") as file:
            file.write(block)
            file.flush()
            self._run(f"INSERT INTO {table} SELECT * FROM file('{file.name}', 'Native')", {})

    def _run(self, sql: str, bound: dict) -> None:
        try:
            with self.server.lock:
                out = self.server.connection.query(sql, "TabSeparated", params=bound).bytes()
            status = 200
        except Exception as exc:  # the engine's refusal, as ClickHouse sends it
            out, status = f"Code: 1. DB::Exception: {exc}".encode(), 500
        self.send_response(status)
        self.send_header("Content-Length", str(len(out)))
        self.send_header("X-ClickHouse-Summary", '{"read_rows":"0","written_rows":"0"}')
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, path: str, cluster: str | None):
        import chdb.state

        super().__init__(("127.0.0.1", 0), _Handler)
        self.cluster = cluster
        self.connection = chdb.state.connect(path)
        self.lock = threading.Lock()
        self.requests: list[tuple[str, dict]] = []


@contextlib.contextmanager
def fake_clickhouse(path: str, cluster: str | None = None) -> Iterator[_Server]:
    server = _Server(path, cluster)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        server.connection.close()

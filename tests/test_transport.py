"""The InfluxDB writer's transport options, against local servers: TLS with a custom CA file,
TLS refused for an unknown CA, the explicit opt-out of verification, and an HTTP proxy."""

from __future__ import annotations

import http.server
import shutil
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import pytest

from influxdb_datalogger import DataLogger, Field, FieldMap, InfluxDBWriter, Measurement
from influxdb_datalogger.exceptions import WriterError

F = Field("f")
M = Measurement("tls", F)


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every write with 204 and records the request line's target; as a proxy, accepts
    a CONNECT tunnel and then answers the request that comes through it."""

    seen: List[str]
    protocol_version = "HTTP/1.1"

    def do_CONNECT(self) -> None:
        type(self).seen.append(f"CONNECT {self.path}")
        self.send_response(200, "Connection established")
        self.end_headers()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).seen.append(self.path)
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def serve(tls: ssl.SSLContext | None = None) -> Tuple[http.server.HTTPServer, List[str]]:
    handler = type("Handler", (Recorder,), {"seen": []})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, handler.seen


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not shutil.which("openssl"):
        pytest.fail("openssl is needed to make test certificates")
    d = tmp_path_factory.mktemp("tls")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=influxdb-datalogger test CA")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")  # fmt: skip
    return d


@pytest.fixture()
def tls_server(certificates: Path) -> Iterator[Tuple[str, List[str]]]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates / "server.pem", certificates / "server.key")
    server, seen = serve(context)
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def write_one(writer: InfluxDBWriter) -> None:
    dl = DataLogger(writer)
    dl.log(M, FieldMap.build(F, 1.0))
    dl.flush(timeout=5)


def test_tls_with_a_custom_ca_file(tls_server: Tuple[str, List[str]], certificates: Path) -> None:
    url, seen = tls_server
    write_one(InfluxDBWriter(url, database="db", ca_file=certificates / "ca.pem"))
    assert seen == ["/write?db=db&precision=n"]


def test_tls_refuses_a_certificate_no_trusted_ca_signed(tls_server: Tuple[str, List[str]]) -> None:
    url, seen = tls_server
    dl = DataLogger(InfluxDBWriter(url, database="db", retry_budget=0.2))
    dl.log(M, FieldMap.build(F, 1.0))
    with pytest.raises(WriterError, match="1 points not delivered"):
        dl.flush(timeout=1)
    assert seen == []


def test_tls_verification_can_be_switched_off_explicitly(tls_server: Tuple[str, List[str]]) -> None:
    url, seen = tls_server
    write_one(InfluxDBWriter(url, database="db", insecure_skip_verify=True))
    assert len(seen) == 1


def test_requests_go_through_an_http_proxy() -> None:
    proxy, seen = serve()
    try:
        target = "http://influxdb.invalid:8086"  # never resolved: the proxy answers
        write_one(InfluxDBWriter(target, database="db", proxy=f"http://127.0.0.1:{proxy.server_address[1]}"))
        assert seen == ["CONNECT influxdb.invalid:8086", "/write?db=db&precision=n"]
    finally:
        proxy.shutdown()
        proxy.server_close()

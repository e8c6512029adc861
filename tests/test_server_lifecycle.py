"""Start-up, flags, HTTP basics and graceful shutdown of the real binary."""

import signal
import socket
import subprocess

import pytest

from mg import BINARY, Metricsgate


def run_binary(*args, timeout=30):
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=timeout)


def test_help_lists_flags_with_defaults():
    result = run_binary("--help")
    assert result.returncode == 0
    for flag in ('--web.listen-address=":9091"', '--statsd.listen-udp=":8125"',
                 '--web.telemetry-path="/metrics"', '--log.level="info"', "--version"):
        assert flag in result.stdout


def test_version():
    result = run_binary("--version")
    assert result.returncode == 0
    assert result.stdout == "metricsgate, version 0.1.0\n"


@pytest.mark.parametrize("args, message", [
    (["--nope"], "metricsgate: error: unknown long flag '--nope', try --help\n"),
    (["--web.listen-address=9091"], "metricsgate: error: invalid value for "
     "'--web.listen-address': invalid listen address \"9091\": missing port (want host:port "
     "or :port)\n"),
    (["--log.level"], "metricsgate: error: expected a value for '--log.level'\n"),
])
def test_bad_flags_exit_2_with_a_message(args, message):
    result = run_binary(*args)
    assert result.returncode == 2
    assert result.stderr == message


def test_health_readiness_and_http_errors():
    with Metricsgate() as mg:
        assert mg.request("GET", "/-/healthy")[::2] == (200, "OK\n")
        assert mg.request("GET", "/-/ready")[::2] == (200, "OK\n")
        status, headers, body = mg.request("HEAD", "/metrics")
        assert status == 200 and body == "" and int(headers["content-length"]) > 0
        assert mg.request("GET", "/nope")[::2] == (404, "404 page not found\n")
        status, headers, _ = mg.request("POST", "/-/healthy", body="x")
        assert status == 405 and headers["allow"] == "GET, HEAD"


def test_keep_alive_serves_many_requests_on_one_connection():
    with Metricsgate() as mg:
        conn = mg.connection()
        for _ in range(5):
            conn.request("GET", "/-/healthy")
            response = conn.getresponse()
            assert response.status == 200 and response.read() == b"OK\n"
        sock = conn.sock
        conn.request("GET", "/metrics")
        assert conn.getresponse().read().startswith(b"# HELP ")
        assert conn.sock is sock  # the same TCP connection throughout
        conn.close()


def test_malformed_http_is_400_and_oversized_header_431():
    with Metricsgate() as mg:
        with socket.create_connection(mg.web, timeout=10) as sock:
            sock.sendall(b"NOT AN HTTP REQUEST\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 400 ")
        with socket.create_connection(mg.web, timeout=10) as sock:
            sock.sendall(b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 431 ")
        assert mg.request("GET", "/-/healthy")[0] == 200  # still serving


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_exits_zero(sig):
    with Metricsgate() as mg:
        assert mg.stop(sig) == 0
        name = "SIGTERM" if sig == signal.SIGTERM else "SIGINT"
        assert f'msg="shutting down" signal={name}' in mg.output()


def test_shutdown_finishes_the_request_in_flight():
    with Metricsgate() as mg:
        with socket.create_connection(mg.web, timeout=10) as sock:
            sock.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n")  # headers not finished yet
            # Round trips on other connections give the server time to read those bytes
            # before the signal arrives (its reads are event-driven; nothing to poll for).
            for _ in range(3):
                assert mg.request("GET", "/-/ready")[0] == 200
            mg.proc.send_signal(signal.SIGTERM)
            mg.wait_for_log('msg="shutting down"')
            sock.sendall(b"\r\n")
            response = b""
            while chunk := sock.recv(4096):
                response += chunk
        assert response.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"Connection: close\r\n" in response
        assert response.endswith(b"\r\n\r\nOK\n")
        assert mg.wait() == 0


def test_shutdown_closes_idle_keep_alive_connections_at_once():
    with Metricsgate() as mg:
        conn = mg.connection()
        conn.request("GET", "/-/healthy")
        assert conn.getresponse().read() == b"OK\n"
        conn.sock.settimeout(10)
        mg.proc.send_signal(signal.SIGTERM)
        assert conn.sock.recv(1) == b""  # closed by the server, not left to the grace period
        assert mg.wait() == 0
        assert "grace period" not in mg.output()
        conn.close()


def test_port_in_use_is_a_clear_fatal_error():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with Metricsgate(web=f"127.0.0.1:{port}", wait=False) as mg:
            assert mg.wait(timeout=30) == 1
            assert (f'cannot listen on \\"127.0.0.1:{port}\\" (--web.listen-address): bind: '
                    "Address already in use") in mg.output()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with Metricsgate(udp=f"127.0.0.1:{port}", wait=False) as mg:
            assert mg.wait(timeout=30) == 1
            assert (f'cannot listen on \\"127.0.0.1:{port}\\" (--statsd.listen-udp): bind: '
                    "Address already in use") in mg.output()


def test_ipv6_loopback_and_disabled_udp():
    with Metricsgate(web="[::1]:0", udp="[::1]:0") as mg:
        assert mg.web[0] == "::1" and mg.udp[0] == "::1"
        mg.send("v6:1|c")
        assert mg.wait_for_packets(1)[("v6", ())] == 1.0
    with Metricsgate(udp="") as mg:
        assert "StatsD UDP listener disabled" in mg.output()
        assert mg.request("GET", "/-/healthy")[0] == 200


def test_custom_telemetry_path():
    with Metricsgate("--web.telemetry-path=/internal/metrics") as mg:
        status, headers, body = mg.request("GET", "/internal/metrics")
        assert status == 200 and "metricsgate_series 0\n" in body
        assert mg.request("GET", "/metrics")[0] == 404


def test_the_server_allocates_with_jemalloc():
    # Linked in for the push path's speed (BENCHMARKS.md); a build without it would still pass
    # every other test, only slower.
    with Metricsgate(udp="", tcp="") as mg:
        with open(f"/proc/{mg.proc.pid}/maps") as maps:
            assert "/libjemalloc.so" in maps.read()


def test_connections_on_every_io_thread_read_bodies_of_any_size_in_pieces():
    # Connections go to the I/O threads in turn; each must read a body far larger than its
    # read buffer (16 KiB), sent in small pieces, and keep its connection for the next request.
    lines = "".join(f'big_{i}{{k="v"}} {i}\n' for i in range(5000)).encode()
    with Metricsgate(udp="", tcp="") as mg:
        socks = [socket.create_connection(mg.web, timeout=10) for _ in range(4)]
        for n, sock in enumerate(socks):
            head = (f"PUT /metrics/job/pieces/conn/{n} HTTP/1.1\r\nHost: x\r\n"
                    f"Content-Length: {len(lines)}\r\n\r\n").encode()
            data = head + lines
            for start in range(0, len(data), 1000):
                sock.sendall(data[start:start + 1000])
        for sock in socks:
            response = sock.recv(4096)
            assert response.startswith(b"HTTP/1.1 200 OK\r\n"), response
            sock.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(4096).endswith(b"\r\n\r\nOK\n")
            sock.close()
        samples = mg.samples()
        for n in range(4):
            labels = (("conn", str(n)), ("instance", ""), ("job", "pieces"), ("k", "v"))
            assert samples[("big_0", labels)] == 0.0
            assert samples[("big_4999", labels)] == 4999.0
            assert sum(1 for key in samples if key[1] == labels) == 5000

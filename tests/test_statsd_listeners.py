"""Every StatsD listener of the real binary: UDP (IPv4 and IPv6), TCP, unix datagram."""

import os
import re
import signal
import socket
import stat
import tempfile
import time

import statsd

from mg import Metricsgate, WAIT_TIMEOUT


def user_samples(samples):
    return {k: v for k, v in samples.items() if not k[0].startswith("metricsgate_")}


def wait_for(mg, key, value, **more):
    """Polls the scrape until series `key` has `value` (and, for each name=value in `more`, the
    unlabelled series `name` has `value`); returns the samples."""
    wanted = {key: value, **{(name, ()): v for name, v in more.items()}}
    deadline = time.monotonic() + WAIT_TIMEOUT
    while True:
        samples = mg.samples()
        if all(samples.get(k) == v for k, v in wanted.items()):
            return samples
        assert time.monotonic() < deadline, f"have {[samples.get(k) for k in wanted]}, want {wanted}"
        time.sleep(0.01)


def test_tcp_lines_split_across_writes_and_a_last_line_without_newline():
    with Metricsgate() as mg:
        mg.send_tcp("a:1|c\nb:", "2|g\nc:3", "|c\n", "a:4|c")  # closed without a final newline
        samples = wait_for(mg, ("a", ()), 5.0, metricsgate_statsd_lines_total=4)
        assert user_samples(samples) == {("a", ()): 5.0, ("b", ()): 2.0, ("c", ()): 3.0}


def test_tcp_over_long_line_is_counted_and_the_connection_goes_on():
    with Metricsgate() as mg:
        mg.send_tcp("before:1|c\n", "x" * 70000, "y" * 70000 + ":1|c\nafter:1|c\n")
        samples = wait_for(mg, ("after", ()), 1.0)
        assert user_samples(samples) == {("before", ()): 1.0, ("after", ()): 1.0}
        key = ("metricsgate_statsd_tcp_too_long_lines_total", (("address", "{}:{}".format(*mg.tcp)),))
        assert samples[key] == 1.0


def test_tcp_real_client_every_type_and_idle_timeout():
    with Metricsgate("--statsd.tcp-idle-timeout=1s", "--statsd.flush-interval=100ms") as mg:
        client = statsd.TCPStatsClient(mg.tcp[0], mg.tcp[1])
        client.incr("tcp.jobs", 3)
        client.decr("tcp.jobs")  # dropped: a Prometheus counter never goes down
        client.timing("tcp.latency", 10)
        client.gauge("tcp.level", 7)
        client.gauge("tcp.level", -2, delta=True)
        samples = wait_for(mg, ("tcp_level", ()), 5.0)
        assert samples[("tcp_jobs", ())] == 3.0
        assert samples[("tcp_latency_count", ())] == 1.0
        assert samples[("tcp_latency_sum", ())] == 0.01
        # Sets report the last flush interval's distinct members: send until one holds both.
        deadline = time.monotonic() + WAIT_TIMEOUT
        while mg.samples().get(("tcp_users", ())) != 2.0:
            assert time.monotonic() < deadline, "no interval held both members"
            for user in ("ann", "bob", "ann"):
                client.set("tcp.users", user)
            time.sleep(0.03)
        connections = ("metricsgate_statsd_tcp_connections", (("address", "{}:{}".format(*mg.tcp)),))
        assert samples[connections] == 1.0
        # The idle connection is closed by the server once the timeout passes.
        client._sock.settimeout(WAIT_TIMEOUT)
        assert client._sock.recv(1) == b""
        wait_for(mg, connections, 0.0)
        client.close()


def test_unixgram_socket_with_mode():
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "statsd.sock")
        with open(path, "w"):
            pass  # a regular file in the way is an error, not something to delete
        with Metricsgate(f"--statsd.listen-unixgram={path}", wait=False) as mg:
            assert mg.wait(timeout=30) == 1
            assert "the file exists and is not a socket" in mg.output()
        os.unlink(path)
        with Metricsgate(f"--statsd.listen-unixgram={path}", "--statsd.unixsocket-mode=660") as mg:
            line = mg.wait_for_log("StatsD unixgram listener started")
            assert f"address={path}" in line
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(b"uds.hits:2|c\nuds.hits:3|c", path)
            samples = mg.wait_for_packets(1, transport="unixgram")
            assert user_samples(samples) == {("uds_hits", ()): 5.0}
            assert mg.stop() == 0
        assert not os.path.exists(path)  # removed at shutdown
        # A stale socket file from a crashed run is replaced.
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as stale:
            stale.bind(path)
        with Metricsgate(f"--statsd.listen-unixgram={path}") as mg:
            mg.wait_for_log("StatsD unixgram listener started")


def test_udp_read_buffer_and_kernel_drops_are_reported():
    with Metricsgate("--statsd.read-buffer=65536") as mg:
        line = mg.wait_for_log("StatsD UDP listener started")
        granted = int(re.search(r"read_buffer_bytes=(\d+)", line).group(1))
        assert granted >= 65536  # Linux reports twice the request
        mg.send("x:1|c")
        samples = mg.wait_for_packets(1)
        key = ("metricsgate_statsd_udp_kernel_drops_total", (("address", "{}:{}".format(*mg.udp)),))
        assert samples[key] == 0.0
    with Metricsgate() as mg:  # the default: as large as the kernel allows
        line = mg.wait_for_log("StatsD UDP listener started")
        with open("/proc/sys/net/core/rmem_max") as f:
            rmem_max = int(f.read())
        assert int(re.search(r"read_buffer_bytes=(\d+)", line).group(1)) >= rmem_max


def test_udp_kernel_drops_are_counted_when_the_buffer_overflows():
    # A tiny buffer and a stopped reader: SIGSTOP the server, overflow its socket, resume.
    with Metricsgate("--statsd.read-buffer=4096") as mg:
        mg.proc.send_signal(signal.SIGSTOP)
        try:
            for _ in range(200):
                mg.send("burst:1|c\n" + "pad:1|c\n" * 50)
        finally:
            mg.proc.send_signal(signal.SIGCONT)
        drops = ("metricsgate_statsd_udp_kernel_drops_total",
                 (("address", "{}:{}".format(*mg.udp)),))
        received = ("metricsgate_statsd_packets_total", (("transport", "udp"),))
        # Send probes until every datagram sent is accounted for: received, or counted as
        # dropped (the kernel's count, read at each scrape).
        sent = 200
        deadline = time.monotonic() + WAIT_TIMEOUT
        while True:
            mg.send("probe:1|c")
            sent += 1
            time.sleep(0.01)
            samples = mg.samples()
            if samples[received] + samples[drops] == sent:
                break
            assert time.monotonic() < deadline, (samples[received], samples[drops], sent)
        assert samples[drops] > 0
        # A probe sent while the buffer was still full may be among the drops.
        assert samples[("burst", ())] + samples.get(("probe", ()), 0) == samples[received]


def test_ipv6_udp_and_tcp():
    with Metricsgate(web="[::1]:0", udp="[::1]:0", tcp="[::1]:0") as mg:
        assert mg.udp[0] == "::1" and mg.tcp[0] == "::1"
        mg.send("v6.udp:1|c")
        with socket.create_connection(mg.tcp, timeout=WAIT_TIMEOUT) as sock:
            sock.sendall(b"v6.tcp:2|c\n")
        # The two transports are received by different threads: wait for both.
        samples = wait_for(mg, ("v6_tcp", ()), 2.0, v6_udp=1.0)
        assert samples[("v6_udp", ())] == 1.0


def test_every_listener_can_be_disabled():
    with Metricsgate(udp="", tcp="") as mg:
        log = mg.output()
        assert "StatsD UDP listener disabled (--statsd.listen-udp is empty)" in log
        assert "StatsD TCP listener disabled (--statsd.listen-tcp is empty)" in log
        assert "StatsD unixgram listener disabled (--statsd.listen-unixgram is empty)" in log
        assert mg.request("GET", "/-/healthy")[0] == 200


def test_statsd_over_http_plain_and_gzip():
    import gzip
    import json
    with Metricsgate() as mg:
        status, headers, body = mg.request("POST", "/api/v1/statsd",
                                           body="web.hits:1|c\nbroken\nweb.hits:2|c|#env:prod\n")
        assert status == 200 and headers["content-type"] == "application/json"
        assert json.loads(body) == {"status": "success", "data": {
            "lines": 3, "accepted_lines": 2, "rejected_lines": 1, "samples": 2,
            "errors": [{"line": 2, "reason": "malformed_line", "text": "broken"}]}}
        lines = "".join(f"bulk.n{i % 100}:1|c\n" for i in range(20000)).encode()
        status, _, body = mg.request("POST", "/api/v1/statsd", body=gzip.compress(lines),
                                     headers={"Content-Encoding": "gzip"})
        assert status == 200
        assert json.loads(body)["data"]["samples"] == 20000
        samples = mg.samples()
        assert samples[("web_hits", ())] == 1.0
        assert samples[("web_hits", (("env", "prod"),))] == 2.0
        assert all(samples[(f"bulk_n{i}", ())] == 200.0 for i in range(100))
        assert samples[("metricsgate_statsd_packets_total", (("transport", "http"),))] == 2.0
        status, _, body = mg.request("POST", "/api/v1/statsd", body=b"\x1f\x8b garbage",
                                     headers={"Content-Encoding": "gzip"})
        assert status == 400 and json.loads(body)["status"] == "error"
        assert mg.request("GET", "/api/v1/statsd")[0] == 405


def test_several_udp_sockets_share_the_address_and_lose_nothing():
    with Metricsgate("--statsd.udp-sockets=4") as mg:
        assert " sockets=4 " in mg.wait_for_log("StatsD UDP listener started")
        for i in range(200):
            mg.send(f"spread:1|c\nspread.n{i % 7}:2|c", new_port=True)
        samples = mg.wait_for_packets(200)
        assert samples[("spread", ())] == 200.0
        assert sum(samples[(f"spread_n{k}", ())] for k in range(7)) == 400.0
        drops = ("metricsgate_statsd_udp_kernel_drops_total", (("address", "{}:{}".format(*mg.udp)),))
        assert samples[drops] == 0.0
    with Metricsgate() as mg:  # the default: one socket per core
        line = mg.wait_for_log("StatsD UDP listener started")
        assert f" sockets={os.cpu_count()} " in line

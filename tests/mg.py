"""Starts the real metricsgate binary on ephemeral loopback ports and talks to it.

Used by every end-to-end test. Waits are bounded polls of a condition the server exposes
(a log line, a counter on /metrics), never fixed sleeps.
"""

import http.client
import os
import re
import signal
import socket
import subprocess
import threading
import time

from prometheus_client.parser import text_string_to_metric_families

BINARY = os.environ.get("MG_BINARY", os.path.join(os.path.dirname(__file__), "..", "build",
                                                  "server", "metricsgate"))
START_TIMEOUT = 15.0
WAIT_TIMEOUT = 10.0


def split_host_port(address):
    """'[::1]:8125' -> ('::1', 8125); '127.0.0.1:9091' -> ('127.0.0.1', 9091)."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


SAMPLE_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def parse_samples(text):
    """Parses text format 0.0.4 into {(name, sorted label pairs): value}, names as written.

    Also runs prometheus_client's reference parser over the text, which raises on anything it
    cannot read (it renames counter samples, so its names are not used).
    """
    list(text_string_to_metric_families(text))
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = SAMPLE_LINE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels, value = match.groups()
        pairs = tuple(sorted(LABEL_PAIR.findall(labels or "")))
        key = (name, pairs)
        assert key not in out, f"duplicate series {key}"
        out[key] = float(value)
    return out


class Metricsgate:
    """One running metricsgate process. Use as a context manager; it is killed on exit."""

    def __init__(self, *args, web="127.0.0.1:0", udp="127.0.0.1:0", tcp="127.0.0.1:0",
                 wait=True):
        argv = [BINARY]
        if web is not None:
            argv.append(f"--web.listen-address={web}")
        if udp is not None:
            argv.append(f"--statsd.listen-udp={udp}")
        # None turns a listener off (an empty address), rather than leaving it on its default
        # port on every interface: tests bind only loopback, port 0.
        argv.append(f"--statsd.listen-tcp={tcp or ''}")
        argv.extend(args)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.log = []
        self._cond = threading.Condition()
        self._readers = [threading.Thread(target=self._read, args=(stream,), daemon=True)
                         for stream in (self.proc.stderr, self.proc.stdout)]
        for reader in self._readers:
            reader.start()
        self.web = self.udp = self.tcp = None
        self._client = None
        if wait:
            self.web = self._address("HTTP server listening")
            if udp:
                self.udp = self._address("StatsD UDP listener started")
            if tcp:
                self.tcp = self._address("StatsD TCP listener started")

    def _address(self, log_text):
        line = self.wait_for_log(log_text)
        return split_host_port(re.search(r" address=(\S+)", line).group(1))

    def _read(self, stream):
        for line in stream:
            with self._cond:
                self.log.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for_log(self, text, timeout=START_TIMEOUT):
        """Returns the first log line containing `text`, waiting for it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.log:
                    if text in line:
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and
                                 not any(r.is_alive() for r in self._readers)):
                    raise AssertionError(f"no log line with {text!r}; log so far:\n" +
                                         "\n".join(self.log))
                self._cond.wait(min(left, 0.1))

    def output(self):
        with self._cond:
            return "\n".join(self.log)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._client is not None:
            self._client.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=WAIT_TIMEOUT)
        for reader in self._readers:
            reader.join(timeout=WAIT_TIMEOUT)

    # StatsD ---------------------------------------------------------------------------------

    def send(self, payload, new_port=False):
        """Sends one UDP datagram to the StatsD listener from one client socket, as a StatsD
        client does: the kernel keeps one source port on one of the server's sockets, so the
        datagrams are handled in order. `new_port` sends from a fresh socket instead."""
        if isinstance(payload, str):
            payload = payload.encode()
        family = socket.AF_INET6 if ":" in self.udp[0] else socket.AF_INET
        if new_port:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.sendto(payload, self.udp)
            return
        if self._client is None:
            self._client = socket.socket(family, socket.SOCK_DGRAM)
        self._client.sendto(payload, self.udp)

    def send_tcp(self, *chunks):
        """Opens a TCP connection, writes `chunks` one by one, and closes it."""
        with socket.create_connection(self.tcp, timeout=WAIT_TIMEOUT) as sock:
            for chunk in chunks:
                sock.sendall(chunk.encode() if isinstance(chunk, str) else chunk)

    def wait_for_packets(self, count, transport="udp"):
        """Waits until the server has handled `count` packets in all; returns the samples."""
        key = ("metricsgate_statsd_packets_total", (("transport", transport),))
        deadline = time.monotonic() + WAIT_TIMEOUT
        while True:
            samples = self.samples()
            if samples.get(key) == count:
                return samples
            assert samples.get(key, 0) < count, f"more packets than sent: {samples.get(key)}"
            assert time.monotonic() < deadline, f"server saw {samples.get(key)} of {count} packets"
            time.sleep(0.01)

    # HTTP -----------------------------------------------------------------------------------

    def connection(self):
        return http.client.HTTPConnection(self.web[0], self.web[1], timeout=WAIT_TIMEOUT)

    def request(self, method, path, body=None, headers=None):
        """Returns (status, headers dict with lower-case names, body text)."""
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            body = response.read().decode()
            return (response.status, {k.lower(): v for k, v in response.getheaders()}, body)
        finally:
            conn.close()

    def scrape(self):
        status, headers, body = self.request("GET", "/metrics")
        assert status == 200, body
        assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        return body

    def samples(self):
        """{(name, sorted label pairs): value} of one scrape, exactly as written."""
        return parse_samples(self.scrape())

    # Lifecycle ------------------------------------------------------------------------------

    def wait(self, timeout=WAIT_TIMEOUT):
        """Waits for the process to exit and its output to be read; returns the exit code."""
        code = self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=timeout)
        return code

    def stop(self, sig=signal.SIGTERM, timeout=WAIT_TIMEOUT):
        """Sends `sig` and returns the exit code once the process is gone."""
        self.proc.send_signal(sig)
        return self.wait(timeout=timeout)

"""The same pushes, good, malformed and inconsistent, to Debian's real prometheus-pushgateway
and to metricsgate: every status code, and the pushed part of /metrics, must be the same.

Ignored, as they are each server's own: push timestamps' values (clocks), the servers' own
metrics (go_*, process_*, pushgateway_* and metricsgate_*), and the text of error messages
(metricsgate's name the problem in its own words after Pushgateway's prefix).
"""

import base64
import gzip
import http.client
import shutil
import socket
import subprocess
import time

from prometheus_client.parser import text_string_to_metric_families

from mg import Metricsgate, WAIT_TIMEOUT

PUSHGATEWAY = shutil.which("prometheus-pushgateway")
PROTO = ("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
         "encoding=delimited")
OWN = ("go_", "process_", "pushgateway_", "metricsgate_", "promhttp_")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Pushgateway:
    def __init__(self):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [PUSHGATEWAY, f"--web.listen-address=127.0.0.1:{self.port}", "--persistence.file=",
             "--log.level=error"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + WAIT_TIMEOUT
        while True:
            try:
                if request(("127.0.0.1", self.port), "GET", "/-/ready")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "prometheus-pushgateway did not start"
            time.sleep(0.05)
        self.web = ("127.0.0.1", self.port)

    def close(self):
        self.proc.kill()
        self.proc.wait(timeout=WAIT_TIMEOUT)


def request(address, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(*address, timeout=WAIT_TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


def pushed_part(address):
    """{family: (type, {(labels): value})} of the pushed families; push times present, their
    values masked."""
    status, text = request(address, "GET", "/metrics")
    assert status == 200, text
    out = {}
    for family in text_string_to_metric_families(text):
        if family.name.startswith(OWN):
            continue
        samples = {}
        for sample in family.samples:
            value = sample.value
            if sample.name in ("push_time_seconds", "push_failure_time_seconds"):
                value = "zero" if value == 0 else "a time"
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = value
        out[family.name] = (family.type, samples)
    return out


def varint(n):
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7f) | 0x80])
        n >>= 7
    return out + bytes([n])


def field(number, payload):
    return bytes([number << 3 | 2]) + varint(len(payload)) + payload


def proto_gauge(name, value):
    import struct
    metric = field(2, bytes([1 << 3 | 1]) + struct.pack("<d", value))
    message = field(1, name.encode()) + bytes([3 << 3, 1]) + field(4, metric)
    return varint(len(message)) + message


def b64(text):
    return base64.urlsafe_b64encode(text.encode()).decode()


# (method, path, body, headers); checkpoints compare /metrics too.
SEQUENCE = [
    ("PUT", "/metrics/job/a", "# TYPE m gauge\nm 1\nn{x=\"y\"} 2\n", None),
    ("POST", "/metrics/job/a", "m 3\n", None),  # untyped against gauge: refused by both
    ("POST", "/metrics/job/a", "# TYPE m gauge\nm 4\n", None),
    ("PUT", "/metrics/job/b/instance/i1", "# TYPE m gauge\nm{instance=\"zzz\",job=\"q\"} 5\n", None),
    ("PUT", "/metrics/job/c", "# TYPE m counter\nm 1\n", None),           # type clash
    ("PUT", "/metrics/job/b", 'm{instance="i1"} 6\n', None),              # duplicate series
    ("PUT", "/metrics/job/d", "x 1 1700000000000\n", None),               # timestamp
    ("PUT", "/metrics/job/d", "x 1", None),                               # no final newline
    ("PUT", "/metrics/job/d", "x 1\r\n", None),
    ("PUT", "/metrics/job/d", "x{a=\"1\"} 1\nx{a=\"1\"} 2\n", None),      # duplicate in a push
    ("PUT", "/metrics/job/d", "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                              "h_sum 3\nh_count 2\n", None),
    ("PUT", "/metrics/job/e", "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 3\n", None),
    ("PUT", "/metrics/job/e/x", "y 1\n", None),                           # odd components
    ("PUT", "/metrics/job/e/__x/1", "y 1\n", None),
    ("PUT", "/metrics/job@base64/=", "y 1\n", None),
    ("PUT", f"/metrics/job@base64/{b64('p/q')}/path@base64/{b64('/var/tmp')}/empty@base64/=",
     "# TYPE g gauge\ng 7\n", None),
    ("PUT", "/metrics/job/f/v/a+b%20c", "g 8\n", None),
    ("PUT", "/metrics/job/f/v/a%2Fb", "g 8\n", None),                      # %2F splits
    ("GET", "/metrics/job/a", None, None),
    ("PUT", "/metrics/job/", "y 1\n", None),                                # 307 to /metrics/job
    ("DELETE", "/metrics/job/never", None, None),
    ("PUT", "/metrics/job/pb", proto_gauge("pbg", 1.5) + proto_gauge("pbh", -2), {"Content-Type": PROTO}),
    ("PUT", "/metrics/job/pb", proto_gauge("pbg", 1.5)[:-2], {"Content-Type": PROTO}),
    ("PUT", "/metrics/job/gz", gzip.compress(b"gzm 9\n"), {"Content-Encoding": "gzip"}),
    ("PUT", "/metrics/job/gz", b"\x1f\x8bbad", {"Content-Encoding": "gzip"}),
    ("PUT", "/metrics/job/le", "# TYPE lg gauge\nlg{le=\"1\"} 1\n", None),
    ("PUT", "/metrics/job/emp", "# TYPE eh histogram\neh 1\n", None),
    ("PUT", "/metrics/job/ws", "  ws   1\nws2 { a = \"1\" , } 2\n", None),
    ("PUT", "/metrics/job/ws", "ws 1 \n", None),
    ("PUT", "/metrics/job/bad", "v 0x10\n", None),
    ("PUT", "/metrics/job/bad", "v{a=\"\xff\"} 1\n".encode("latin-1"), None),
    ("PUT", "/metrics/job/bad", "# TYPE v foo\n", None),
    ("PUT", "/metrics/job/a", "", None),                                  # empty PUT: empties a
    ("POST", "/metrics/job/b/instance/i1", "", None),                     # empty POST: keeps b
    ("DELETE", "/metrics/job/e", None, None),
    ("PUT", "/metrics/job/c", "# TYPE m counter\nm 1\n", None),           # m now free of a: fine
]


def test_same_codes_and_same_metrics_as_pushgateway():
    assert PUSHGATEWAY, "prometheus-pushgateway is missing: scripts/install-deps.sh --test"
    pushgateway = Pushgateway()
    try:
        with Metricsgate(udp="", tcp="") as mg:
            for i, (method, path, body, headers) in enumerate(SEQUENCE):
                theirs = request(pushgateway.web, method, path, body, headers)
                ours = request(mg.web, method, path, body, headers)
                assert ours[0] == theirs[0], (i, method, path, ours, theirs)
                if theirs[0] == 400 and theirs[1].startswith("pushed metrics are invalid"):
                    assert ours[1].startswith("pushed metrics are invalid or inconsistent "
                                              "with existing metrics: "), (i, ours)
                assert pushed_part(mg.web) == pushed_part(pushgateway.web), (i, method, path)
    finally:
        pushgateway.close()

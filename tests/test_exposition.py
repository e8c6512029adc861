"""/metrics in every format, checked by the real consumers: promtool (text 0.0.4),
prometheus_client's strict OpenMetrics parser, and a real Prometheus 2.42 (Debian) scraping
with native histograms on; plus gzip and large bodies streamed in chunks.
"""

import gzip
import http.client
import json
import math
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics)
from mg import Metricsgate, parse_samples

OPENMETRICS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                      "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
PROTOBUF_ACCEPT = ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
                   "encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,"
                   "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")

# A pushed group with every type and the escaping edge cases of HELP and label values.
PUSHED = (
    '# HELP batch_info Quote " and backslash \\\\ and\\nnewline.\n'
    '# TYPE batch_info gauge\n'
    'batch_info{note="a\\"b\\\\c\\nd",empty=""} 1\n'
    '# TYPE batch_duration_seconds summary\n'
    'batch_duration_seconds{quantile="0.5"} 2\n'
    'batch_duration_seconds{quantile="0.99"} 9.5\n'
    'batch_duration_seconds_sum 10\n'
    'batch_duration_seconds_count 4\n'
    '# HELP batch_rows Rows.\n'
    '# TYPE batch_rows histogram\n'
    'batch_rows_bucket{le="10"} 1\n'
    'batch_rows_bucket{le="+Inf"} 3\n'
    'batch_rows_sum 40\n'
    'batch_rows_count 3\n'
    'batch_untyped 7\n'
    '# TYPE batch_records_total counter\n'
    'batch_records_total 1e+21\n')


def load_every_type(mg):
    """StatsD counters (tagged), a gauge, timers, a set; and the pushed group above."""
    mg.send("app.requests:5|c|#env:prod,path:/a\napp.requests:2|c|#env:dev\n"
            "queue.depth:42|g\ndb.query:120|ms|@0.5\ndb.query:80|ms\ndb.query:0|ms\n"
            "users.unique:alice|s")
    mg.wait_for_packets(1)
    status, _, body = mg.request("PUT", "/metrics/job/batch/instance/i1", PUSHED)
    assert status == 200, body


def get(mg, headers):
    """(status, headers, raw body bytes) of GET /metrics."""
    conn = mg.connection()
    try:
        conn.request("GET", "/metrics", headers=headers)
        response = conn.getresponse()
        return (response.status, {k.lower(): v for k, v in response.getheaders()},
                response.read())
    finally:
        conn.close()


def unescape(value):
    """A label value as written in text 0.0.4 -> the value."""
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            out.append({"n": "\n"}.get(value[i + 1], value[i + 1]))
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def text_values(text):
    """{(sample name as written, labels with le/quantile as floats): value} from text 0.0.4
    (mg.parse_samples, which also runs prometheus_client's text parser over it)."""
    out = {}
    for (name, pairs), value in parse_samples(text).items():
        labels = {k: unescape(v) for k, v in pairs}
        for bound in ("le", "quantile"):
            if bound in labels:
                labels[bound] = float(labels[bound])
        out[(name, tuple(sorted(labels.items())))] = value
    return out


def values_of(families):
    out = {}
    for family in families:
        for sample in family.samples:
            labels = dict(sample.labels)
            for bound in ("le", "quantile"):
                if bound in labels:
                    labels[bound] = float(labels[bound])
            key = (sample.name, tuple(sorted(labels.items())))
            assert key not in out, key
            out[key] = sample.value
    return out


def promtool_check(text):
    result = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                            text=True, timeout=60)
    return result.returncode, sorted((result.stdout + result.stderr).strip().splitlines())


def test_promtool_parses_every_type_tags_escaping_and_pushed_groups():
    with Metricsgate() as mg:
        load_every_type(mg)
        text = mg.scrape()
        assert 'batch_info{empty="",instance="i1",job="batch",note="a\\"b\\\\c\\nd"} 1\n' in text
        assert '# HELP batch_info Quote " and backslash \\\\ and\\nnewline.\n' in text
        assert 'db_query_bucket{le="0.1"} 2\n' in text
        assert 'batch_records_total{instance="i1",job="batch"} 1e+21\n' in text
        code, problems = promtool_check(text)
        # promtool parses it all (a parse error is exit 1); what it has left are lints on the
        # users' own names, which statsd_exporter and Pushgateway would show as well.
        assert code == 3, problems
        assert problems == [
            'app_requests counter metrics should have "_total" suffix',
            "batch_duration_seconds no help text",
            "batch_records_total no help text",
            "batch_untyped no help text",
        ]


def test_openmetrics_parses_strictly_and_equals_the_text_output():
    with Metricsgate() as mg:
        load_every_type(mg)
        text = mg.scrape()
        status, headers, body = get(mg, {"Accept": OPENMETRICS_ACCEPT})
        assert status == 200
        assert headers["content-type"] == (
            "application/openmetrics-text; version=1.0.0; charset=utf-8")
        openmetrics = body.decode()
        assert openmetrics.endswith("\n# EOF\n")
        families = {f.name: f for f in parse_openmetrics(openmetrics)}
        # Counters named *_total are counters; StatsD's are unknown under their own name, so
        # Prometheus stores the same series from either format.
        assert families["batch_records"].type == "counter"
        assert families["app_requests"].type == "unknown"
        assert families["db_query"].type == "histogram"
        assert families["batch_duration_seconds"].unit == "seconds"
        assert families["batch_info"].documentation == 'Quote " and backslash \\ and\nnewline.'
        # Every sample, with its labels and value, is the one the text format has.
        om_values = values_of(families.values())
        text_only = {k: v for k, v in text_values(text).items()}
        # Values that move between the two scrapes: clocks and request counters.
        for moving in ("metricsgate_http", "push_time_seconds"):
            om_values = {k: v for k, v in om_values.items() if not k[0].startswith(moving)}
            text_only = {k: v for k, v in text_only.items() if not k[0].startswith(moving)}
        assert om_values == text_only
        assert om_values[("app_requests", (("env", "prod"), ("path", "/a")))] == 5


def test_unknown_or_absent_accept_gets_text_and_gzip_is_served_on_request():
    with Metricsgate() as mg:
        load_every_type(mg)
        for accept in (None, "application/json", "*/*", "text/plain;version=0.0.4"):
            status, headers, body = get(mg, {"Accept": accept} if accept else {})
            assert status == 200
            assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8", accept
            assert "content-encoding" not in headers
        status, headers, body = get(mg, {"Accept-Encoding": "gzip"})
        assert headers["content-encoding"] == "gzip"
        assert text_values(gzip.decompress(body).decode())[("queue_depth", ())] == 42
        status, headers, body = get(mg, {"Accept-Encoding": "gzip;q=0, identity"})
        assert "content-encoding" not in headers
        status, headers, body = get(mg, {"Accept": PROTOBUF_ACCEPT})
        assert headers["content-type"] == ("application/vnd.google.protobuf; "
                                           "proto=io.prometheus.client.MetricFamily; "
                                           "encoding=delimited")
        assert b"queue_depth" in body


def test_a_large_scrape_streams_in_chunks_and_keeps_every_series():
    with Metricsgate() as mg:
        names = 40000
        for start in range(0, names, 25):
            mg.send("\n".join(f"bulk.series_{i}:{i}|c" for i in range(start, start + 25)))
        mg.wait_for_packets(names // 25)
        for headers in ({}, {"Accept-Encoding": "gzip"}):
            status, got, body = get(mg, headers)
            assert status == 200
            assert got.get("transfer-encoding") == "chunked"
            assert "content-length" not in got
            if headers:
                body = gzip.decompress(body)
            values = text_values(body.decode())
            bulk = {k[0]: v for k, v in values.items() if k[0].startswith("bulk_")}
            assert len(bulk) == names
            assert all(bulk[f"bulk_series_{i}"] == i for i in range(names))
        # HEAD answers without a body, and the connection stays usable.
        conn = mg.connection()
        conn.request("HEAD", "/metrics")
        response = conn.getresponse()
        assert response.status == 200 and response.read() == b""
        assert response.getheader("content-length") is None  # GET streams it, unsized
        conn.request("GET", "/-/healthy")
        assert conn.getresponse().read() == b"OK\n"
        conn.close()


# A real Prometheus ----------------------------------------------------------------------------

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Prometheus:
    """Debian's Prometheus 2.42 on loopback, scraping `target` every second."""

    def __init__(self, target, directory):
        self.port = free_port()
        config = os.path.join(directory, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: metricsgate\n    honor_labels: true\n"
                    f"    static_configs:\n      - targets: ['{target[0]}:{target[1]}']\n")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={config}",
             f"--storage.tsdb.path={os.path.join(directory, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--enable-feature=native-histograms",
             "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def query(self, expr, at=None):
        params = {"query": expr}
        if at is not None:
            params["time"] = repr(at)
        url = (f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode(params))
        with urllib.request.urlopen(url, timeout=10) as response:
            reply = json.load(response)
        assert reply["status"] == "success", reply
        return reply["data"]["result"]

    def wait_for(self, expr, condition, timeout=60):
        """Polls `expr` until condition(result) holds; returns the result."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.stderr.read()
            try:
                last = self.query(expr)
                if condition(last):
                    return last
            except OSError:
                pass  # not listening yet
            time.sleep(0.25)
        raise AssertionError(f"{expr}: {last}")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def scalar(result):
    return float(result[0]["value"][1])


def test_real_prometheus_scrapes_counters_gauges_native_histograms_and_pushed_groups():
    directory = tempfile.mkdtemp(prefix="mg-prometheus-")
    with Metricsgate() as mg:
        prometheus = Prometheus(mg.web, directory)
        try:
            # 1,000 timer samples of 1..1000 ms: the median is 0.5005 s.
            for start in range(1, 1001, 50):
                mg.send("\n".join(f"api.latency:{v}|ms" for v in range(start, start + 50)))
            mg.send("room.temperature:21.5|g")
            status, _, body = mg.request("PUT", "/metrics/job/nightly/instance/db1",
                                         "# TYPE backup_bytes gauge\nbackup_bytes 12345\n")
            assert status == 200, body
            mg.send("jobs.done:10|c")
            mg.wait_for_packets(22)

            prometheus.wait_for('up{job="metricsgate"}', lambda r: r and scalar(r) == 1)
            result = prometheus.wait_for("room_temperature", lambda r: bool(r))
            assert scalar(result) == 21.5
            # honor_labels: the pushed group keeps its own job and instance.
            result = prometheus.wait_for('backup_bytes{job="nightly",instance="db1"}',
                                         lambda r: bool(r))
            assert scalar(result) == 12345

            # The native histogram: Prometheus holds it as one series (no _bucket series), and
            # its median lies within the bucket width of schema 3 (2^(1/8): ±4.5%).
            result = prometheus.wait_for("api_latency", lambda r: bool(r) and "histogram" in r[0])
            count = float(result[0]["histogram"][1]["count"])
            assert count == 1000
            assert math.isclose(float(result[0]["histogram"][1]["sum"]), 500.5, rel_tol=1e-9)
            median = scalar(prometheus.query("histogram_quantile(0.5, api_latency)"))
            assert abs(median - 0.5005) / 0.5005 <= 0.045, median
            p90 = scalar(prometheus.query("histogram_quantile(0.9, api_latency)"))
            assert abs(p90 - 0.9005) / 0.9005 <= 0.045, p90

            # A counter's rate: 10 more every 2 s for 10 s is 5/s. Prometheus' rate
            # extrapolates to the window's edges, so allow one scrape's worth either way.
            for _ in range(5):
                time.sleep(2)
                mg.send("jobs.done:10|c")
            prometheus.wait_for("jobs_done", lambda r: r and scalar(r) == 60)
            time.sleep(1.5)
            rate = scalar(prometheus.query("rate(jobs_done[8s])"))
            assert 3.0 <= rate <= 7.5, rate
            increase = scalar(prometheus.query("max_over_time(jobs_done[30s]) - "
                                               "min_over_time(jobs_done[30s])"))
            assert increase == 50
        finally:
            prometheus.stop()
            shutil.rmtree(directory, ignore_errors=True)

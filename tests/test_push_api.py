"""The Pushgateway push API, end to end: Debian's python3-prometheus-client pushes to the real
binary, and every route, body encoding, check, TTL, deletion and persistence rule is driven
over real HTTP on loopback."""

import base64
import gzip
import json
import os
import signal
import struct
import time

from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram,
                               delete_from_gateway, push_to_gateway, pushadd_to_gateway)

from mg import Metricsgate, WAIT_TIMEOUT

PUSH_TIMES = ("push_time_seconds", "push_failure_time_seconds")


def pushed(samples):
    """The pushed part of a scrape: no metricsgate_* and no push times (they are clocks)."""
    return {k: v for k, v in samples.items()
            if not k[0].startswith("metricsgate_") and k[0] not in PUSH_TIMES}


def url(mg):
    return f"http://{mg.web[0]}:{mg.web[1]}"


def test_python_client_push_pushadd_and_delete_with_slashes_and_empty_values():
    with Metricsgate(udp="", tcp="") as mg:
        registry = CollectorRegistry()
        Gauge("last_success", "Last success.", registry=registry).set(1234.5)
        Counter("rows", "Rows written.", ["table"], registry=registry).labels("users").inc(7)
        key = {"instance": "host/a b", "zone": ""}  # base64 for the `/`, `=` for the empty value
        push_to_gateway(url(mg), job="batch/nightly", registry=registry, grouping_key=key)
        samples = mg.samples()
        grouping = (("instance", "host/a b"), ("job", "batch/nightly"), ("zone", ""))
        assert samples[("last_success", grouping)] == 1234.5
        assert samples[("rows_total", tuple(sorted(grouping + (("table", "users"),))))] == 7
        assert samples[("push_failure_time_seconds", grouping)] == 0
        assert abs(samples[("push_time_seconds", grouping)] - time.time()) < 60

        # pushadd (POST) replaces only the families it sends.
        other = CollectorRegistry()
        Gauge("last_success", "Last success.", registry=other).set(99)
        pushadd_to_gateway(url(mg), job="batch/nightly", registry=other, grouping_key=key)
        samples = mg.samples()
        assert samples[("last_success", grouping)] == 99
        assert ("rows_total", tuple(sorted(grouping + (("table", "users"),)))) in samples

        # push (PUT) replaces the group.
        push_to_gateway(url(mg), job="batch/nightly", registry=other, grouping_key=key)
        assert not any(k[0] == "rows_total" for k in mg.samples())

        delete_from_gateway(url(mg), job="batch/nightly", grouping_key=key)
        assert pushed(mg.samples()) == {}
        assert not any(k[0] in PUSH_TIMES for k in mg.samples())


def test_histograms_and_summaries_come_out_as_pushed():
    with Metricsgate(udp="", tcp="") as mg:
        registry = CollectorRegistry()
        h = Histogram("req_seconds", "Latency.", buckets=(0.1, 1), registry=registry)
        for v in (0.05, 0.5, 3):
            h.observe(v)
        push_to_gateway(url(mg), job="j", registry=registry)
        s = mg.samples()
        g = (("instance", ""), ("job", "j"))
        assert s[("req_seconds_bucket", g + (("le", "0.1"),))] == 1
        assert s[("req_seconds_bucket", g + (("le", "1"),))] == 2
        assert s[("req_seconds_bucket", g + (("le", "+Inf"),))] == 3
        assert s[("req_seconds_count", g)] == 3
        assert s[("req_seconds_sum", g)] == 3.55
        status, _, _ = mg.request("PUT", "/metrics/job/k",
                                  "# TYPE rpc summary\nrpc{quantile=\"0.5\"} 0.25\n"
                                  "rpc_sum 9\nrpc_count 40\n")
        assert status == 200
        s = mg.samples()
        k = (("instance", ""), ("job", "k"))
        assert s[("rpc", (("instance", ""), ("job", "k"), ("quantile", "0.5")))] == 0.25
        assert s[("rpc_sum", k)] == 9 and s[("rpc_count", k)] == 40


def test_paths_methods_and_status_codes_as_pushgateway():
    cases = [
        ("PUT", "/metrics/job/j/a", 400, 'odd number of components in label string "/a"\n'),
        ("PUT", "/metrics/job/j/__a/b", 400, 'improper label name "__a"\n'),
        ("PUT", "/metrics/job@base64/=", 400, "job name is required\n"),
        ("PUT", "/metrics/job/j/a%zz", 400, "400 Bad Request"),
        ("PUT", "/metrics/jobs/j", 404, "404 page not found\n"),
        ("GET", "/metrics/job/j", 405, "Method Not Allowed"),
        ("DELETE", "/metrics/job/never-pushed", 202, ""),
        ("PUT", "/metrics/job/j", 200, ""),
        ("POST", "/metrics/job/j/a/b+c%20d", 200, ""),
        ("PUT", "/-/quit", 403, "Lifecycle API is not enabled."),
        ("GET", "/-/quit", 405, "Only POST or PUT requests allowed."),
        ("PUT", "/api/v1/admin/wipe", 404, "404 page not found\n"),
    ]
    with Metricsgate(udp="", tcp="") as mg:
        for method, path, code, body in cases:
            status, _, text = mg.request(method, path, "x 1\n" if method != "GET" else None)
            assert (status, text) == (code, body), (method, path)
        status, headers, _ = mg.request("PUT", "/metrics/job/", "")
        assert status == 307 and headers["location"] == "/metrics/job"
        status, headers, _ = mg.request("PUT", "/metrics/job/j//a/b", "")
        assert status == 301 and headers["location"] == "/metrics/job/j/a/b"
        # `+` stays literal, `%20` is a space, as Go decodes paths.
        assert mg.samples()[("x", (("a", "b+c d"), ("instance", ""), ("job", "j")))] == 1


def test_bad_bodies_are_refused_with_the_parsers_message_and_change_nothing():
    with Metricsgate(udp="", tcp="") as mg:
        assert mg.request("PUT", "/metrics/job/j", "kept 1\n")[0] == 200
        for body, message in [
            ("a 1", "text format parsing error in line 1: unexpected end of input stream\n"),
            ("a 1\r\n", 'text format parsing error in line 1: expected float as value, got "1\\r"\n'),
            ("a 1 1700000000000\n", "pushed metrics are invalid or inconsistent with existing "
                                    "metrics: pushed metrics must not have timestamps\n"),
        ]:
            status, _, text = mg.request("PUT", "/metrics/job/j", body)
            assert (status, text) == (400, message)
        assert pushed(mg.samples()) == {("kept", (("instance", ""), ("job", "j"))): 1}


def test_consistency_checks_across_groups_and_statsd():
    with Metricsgate(tcp=None) as mg:
        assert mg.request("PUT", "/metrics/job/a", "# TYPE m gauge\nm 1\n")[0] == 200
        status, _, text = mg.request("PUT", "/metrics/job/b", "# TYPE m counter\nm 1\n")
        assert status == 400
        assert text.startswith("pushed metrics are invalid or inconsistent with existing metrics: ")
        s = mg.samples()
        b = (("instance", ""), ("job", "b"))
        assert s[("push_time_seconds", b)] == 0          # a failed push creates the group...
        assert s[("push_failure_time_seconds", b)] > 0   # ...with its failure time
        # The same series from two groups.
        assert mg.request("PUT", "/metrics/job/c/instance/x", "n 1\n")[0] == 200
        status, _, text = mg.request("PUT", "/metrics/job/c", 'n{instance="x"} 2\n')
        assert status == 400 and "was collected before with the same name and label values" in text
        # A StatsD series holds its name against pushes, and a pushed family against StatsD.
        mg.send("hits:1|c")
        mg.wait_for_packets(1)
        assert mg.request("PUT", "/metrics/job/d", "# TYPE hits gauge\nhits 1\n")[0] == 400
        mg.send("m:1|c")
        s = mg.wait_for_packets(2)
        assert s[("metricsgate_statsd_bad_lines_total", (("reason", "type_conflict"),))] == 1
        assert s[("m", (("instance", ""), ("job", "a")))] == 1


def test_disabled_consistency_check_answers_202_and_keeps_metrics_valid():
    with Metricsgate("--push.disable-consistency-check", udp="", tcp="") as mg:
        assert mg.request("PUT", "/metrics/job/a", "# TYPE m gauge\nm 1\n")[0] == 202
        assert mg.request("PUT", "/metrics/job/b", "# TYPE m counter\nm 2\n")[0] == 202
        assert mg.request("PUT", "/metrics/job/c", "t 1 1700000000000\n")[0] == 202
        s = mg.samples()  # parses, so one name has one type
        assert s[("m", (("instance", ""), ("job", "a")))] == 1
        assert ("m", (("instance", ""), ("job", "b"))) not in s
        assert s[("metricsgate_push_hidden_families", ())] == 1
        assert s[("push_failure_time_seconds", (("instance", ""), ("job", "c")))] > 0


def delimited(message):
    size = len(message)
    prefix = b""
    while size >= 0x80:
        prefix += bytes([(size & 0x7f) | 0x80])
        size >>= 7
    return prefix + bytes([size]) + message


def field(number, payload):
    """A length-delimited protobuf field."""
    return bytes([number << 3 | 2]) + delimited(payload)


def gauge_family(name, value, labels=()):
    metric = b"".join(field(1, field(1, k.encode()) + field(2, v.encode())) for k, v in labels)
    metric += field(2, bytes([1 << 3 | 1]) + struct.pack("<d", value))
    return delimited(field(1, name.encode()) + bytes([3 << 3, 1]) + field(4, metric))


def test_protobuf_and_gzip_bodies():
    proto = ("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
             "encoding=delimited")
    with Metricsgate(udp="", tcp="") as mg:
        body = gauge_family("pb_gauge", 2.5, [("code", "200")]) + gauge_family("pb_other", -1)
        status, _, text = mg.request("PUT", "/metrics/job/pb", body, {"Content-Type": proto})
        assert status == 200, text
        status, _, text = mg.request("PUT", "/metrics/job/gz", gzip.compress(b"gz_gauge 4\n"),
                                     {"Content-Encoding": "gzip"})
        assert status == 200, text
        s = pushed(mg.samples())
        assert s == {
            ("pb_gauge", (("code", "200"), ("instance", ""), ("job", "pb"))): 2.5,
            ("pb_other", (("instance", ""), ("job", "pb"))): -1,
            ("gz_gauge", (("instance", ""), ("job", "gz"))): 4,
        }
        # A truncated protobuf body and a corrupt gzip body are refused.
        assert mg.request("PUT", "/metrics/job/pb", body[:-3], {"Content-Type": proto})[0] == 400
        assert mg.request("PUT", "/metrics/job/gz", b"\x1f\x8bnot gzip",
                          {"Content-Encoding": "gzip"})[0] == 400
        assert pushed(mg.samples()) == s


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def snappy_framed(data):
    """The snappy framing format with one uncompressed chunk (what a snappy stream reader,
    Pushgateway's included, takes)."""
    crc = crc32c(data)
    masked = (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
    chunk = struct.pack("<I", masked) + data
    return (b"\xff\x06\x00\x00sNaPpY" + bytes([0x01]) + struct.pack("<I", len(chunk))[:3] + chunk)


def test_snappy_bodies():
    with Metricsgate(udp="", tcp="") as mg:
        body = snappy_framed(b"sn_gauge 11\n")
        status, _, text = mg.request("PUT", "/metrics/job/sn", body, {"Content-Encoding": "snappy"})
        assert status == 200, text
        assert pushed(mg.samples()) == {("sn_gauge", (("instance", ""), ("job", "sn"))): 11}
        corrupt = body[:-2] + b"X\n"  # the checksum no longer matches
        status, _, text = mg.request("PUT", "/metrics/job/sn", corrupt, {"Content-Encoding": "snappy"})
        assert (status, text) == (400, "snappy: corrupt input (checksum mismatch)\n")


def test_json_api_status_metrics_and_cors():
    with Metricsgate(udp="", tcp="") as mg:
        assert mg.request("PUT", "/metrics/job/j/instance/i",
                          "# HELP g A gauge.\n# TYPE g gauge\ng 1.5\n")[0] == 200
        status, headers, text = mg.request("GET", "/api/v1/metrics")
        assert status == 200 and headers["access-control-allow-origin"] == "*"
        data = json.loads(text)
        assert data["status"] == "success"
        [group] = data["data"]
        assert group["labels"] == {"instance": "i", "job": "j"}
        assert group["last_push_successful"] is True
        assert group["g"]["type"] == "GAUGE" and group["g"]["help"] == "A gauge."
        assert group["g"]["metrics"] == [{"labels": {"instance": "i", "job": "j"}, "value": "1.5"}]
        assert group["push_failure_time_seconds"]["metrics"][0]["value"] == "0"
        assert group["g"]["time_stamp"].endswith("Z")
        status, headers, text = mg.request("GET", "/api/v1/status")
        status_data = json.loads(text)["data"]
        assert status_data["flags"]["web.enable-admin-api"] == "false"
        assert status_data["flags"]["statsd.listen-udp"] == ""
        assert "version" in status_data["build_information"] and status_data["start_time"]
        status, headers, _ = mg.request("OPTIONS", "/api/v1/metrics")
        assert status == 200
        assert headers["access-control-allow-methods"] == "GET, POST, DELETE, OPTIONS"


def test_ttl_per_push_and_default_expires_groups():
    with Metricsgate("--push.default-ttl=1s", udp="", tcp="") as mg:
        assert mg.request("PUT", "/metrics/job/short", "a 1\n")[0] == 200
        assert mg.request("PUT", "/metrics/job/long?ttl=1h", "b 1\n")[0] == 200
        assert mg.request("PUT", "/metrics/job/forever?ttl=0", "c 1\n")[0] == 200
        assert mg.request("PUT", "/metrics/job/x?ttl=soon", "d 1\n")[0] == 400
        status, _, text = mg.request("PUT", "/metrics/job/x?ttl=%zz", "d 1\n")
        assert (status, text) == (400, 'bad query: invalid URL escape "%zz"\n')
        deadline = time.monotonic() + WAIT_TIMEOUT
        while ("a", (("instance", ""), ("job", "short"))) in mg.samples():
            assert time.monotonic() < deadline, "the group did not expire"
            time.sleep(0.1)
        s = mg.samples()
        assert {k[0] for k in pushed(s)} == {"b", "c"}
        assert s[("metricsgate_push_groups_expired_total", ())] == 1
        assert all(g["labels"]["job"] != "short"
                   for g in json.loads(mg.request("GET", "/api/v1/metrics")[2])["data"])


def test_delete_groups_by_selector_and_admin_wipe():
    with Metricsgate("--web.enable-admin-api", udp="", tcp="") as mg:
        for path in ("/metrics/job/batch/instance/web-1", "/metrics/job/batch/instance/web-2",
                     "/metrics/job/batch/instance/db-1", "/metrics/job/other/instance/web-3"):
            assert mg.request("PUT", path, "up 1\n")[0] == 200
        status, _, text = mg.request(
            "DELETE", "/api/v1/groups?match[]=" +
            '{job="batch",instance=~"web-.*"}'.replace('"', "%22").replace("{", "%7B")
            .replace("}", "%7D").replace(",", "%2C"))
        assert (status, json.loads(text)) == (200, {"status": "success", "data": {"deleted": 2}})
        assert {dict(k[1])["instance"] for k in pushed(mg.samples())} == {"db-1", "web-3"}
        status, _, text = mg.request("DELETE", "/api/v1/groups?match[]=%7Bjob%3D%zz")
        assert status == 400 and json.loads(text)["error"] == 'invalid URL escape "%zz"'
        status, _, text = mg.request("DELETE", "/api/v1/groups")
        assert status == 400 and "no match[] parameter" in json.loads(text)["error"]
        status, _, text = mg.request("DELETE", "/api/v1/groups?match[]=%7Bjob%3D%22%22%7D")
        assert status == 400 and "at least one matcher" in json.loads(text)["error"]
        assert mg.request("PUT", "/api/v1/admin/wipe")[0] == 202
        assert pushed(mg.samples()) == {}


def test_quit_with_lifecycle_enabled():
    with Metricsgate("--web.enable-lifecycle", udp="", tcp="") as mg:
        assert mg.request("POST", "/-/quit")[:3:2] == (200, "Requesting termination... Goodbye!")
        assert mg.wait() == 0


def test_persistence_keeps_groups_across_restarts_and_refuses_a_corrupt_file(tmp_path):
    path = str(tmp_path / "push.data")
    flags = (f"--persistence.file={path}", "--persistence.interval=100ms")
    with Metricsgate(*flags, udp="", tcp="") as mg:
        for i in range(20):
            assert mg.request("PUT", f"/metrics/job/j{i}/x@base64/{base64.urlsafe_b64encode(b'a/b').decode()}",
                              f"# HELP g Help {i}.\n# TYPE g gauge\ng {i}\n")[0] == 200
        before = mg.samples()
        assert mg.stop() == 0
    with Metricsgate(*flags, udp="", tcp="") as mg:
        after = mg.samples()
        assert {k: v for k, v in after.items() if not k[0].startswith("metricsgate_")} == \
            {k: v for k, v in before.items() if not k[0].startswith("metricsgate_")}
        assert after[("metricsgate_push_groups", ())] == 20
        mg.proc.send_signal(signal.SIGKILL)
        mg.wait()
    with open(path, "rb") as f:
        image = f.read()
    with open(path, "wb") as f:
        f.write(image[:-5])  # truncated
    with Metricsgate(*flags, udp="", tcp="", wait=False) as mg:
        assert mg.wait() != 0
        assert f"cannot load --persistence.file {path}" in mg.output()
    with open(path, "rb") as f:
        assert f.read() == image[:-5]  # left untouched


def test_kill_during_writes_leaves_a_loadable_file(tmp_path):
    """SIGKILL while the server persists every 10 ms under a stream of pushes: the file is
    always the old or the new image, never a torn one."""
    path = str(tmp_path / "push.data")
    flags = (f"--persistence.file={path}", "--persistence.interval=10ms")
    for round_number in range(3):
        with Metricsgate(*flags, udp="", tcp="") as mg:
            groups = 0
            deadline = time.monotonic() + 0.5 + 0.2 * round_number
            while time.monotonic() < deadline:
                body = "".join(f"m{i} {i}\n" for i in range(200))
                assert mg.request("PUT", f"/metrics/job/r{round_number}/n/{groups}", body)[0] == 200
                groups += 1
            mg.proc.send_signal(signal.SIGKILL)
            mg.wait()
        assert os.path.exists(path)
        with Metricsgate(*flags, udp="", tcp="") as mg:  # loads, or start-up would fail
            held = mg.samples()[("metricsgate_push_groups", ())]
            assert held > 0
            assert mg.stop() == 0

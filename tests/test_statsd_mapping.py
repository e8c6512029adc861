"""statsd_exporter mapping files in the real binary: loading, mapping, reloading."""

import os
import signal
import tempfile
import time

import statsd

from mg import Metricsgate, WAIT_TIMEOUT

README_MAPPING = r"""
mappings:
- match: "test.dispatcher.*.*.*"
  name: "dispatcher_events_total"
  labels:
    processor: "$1"
    action: "$2"
    outcome: "$3"
    job: "test_dispatcher"
- match: "*.signup.*.*"
  name: "signup_events_total"
  labels:
    provider: "$2"
    outcome: "$3"
    job: "${1}_server"
- match: (.*)\.(.*)--(.*)\.status\.(.*)\.count
  match_type: regex
  name: "request_total"
  labels:
    hostname: "$1"
    exec: "$2"
    protocol: "$3"
    code: "$4"
- match: "test.timing.*.*.*"
  observer_type: histogram
  histogram_options:
    buckets: [ 0.01, 0.025, 0.05, 0.1 ]
  name: "my_timer"
  labels:
    provider: "$2"
    outcome: "$3"
    job: "${1}_server"
"""


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def reloads(samples, result):
    return samples[("metricsgate_statsd_mapping_reloads_total", (("result", result),))]


def wait_until(mg, predicate, what):
    deadline = time.monotonic() + WAIT_TIMEOUT
    while True:
        samples = mg.samples()
        if predicate(samples):
            return samples
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_readme_mapping_with_a_real_client():
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "mapping.yml")
        write(path, README_MAPPING)
        with Metricsgate(f"--statsd.mapping-config={path}") as mg:
            client = statsd.StatsClient(mg.udp[0], mg.udp[1])
            client.incr("test.dispatcher.FooProcessor.send.success")
            client.incr("foo_product.signup.facebook.failure", 2)
            client.incr("web01.nginx--http.status.200.count", 3)
            client.timing("test.timing.foo.bar.ok", 30)
            client.incr("not.mapped")
            samples = mg.wait_for_packets(5)
            assert samples[("dispatcher_events_total", (
                ("action", "send"), ("job", "test_dispatcher"), ("outcome", "success"),
                ("processor", "FooProcessor")))] == 1.0
            assert samples[("signup_events_total", (
                ("job", "foo_product_server"), ("outcome", "failure"),
                ("provider", "facebook")))] == 2.0
            assert samples[("request_total", (
                ("code", "200"), ("exec", "nginx"), ("hostname", "web01"),
                ("protocol", "http")))] == 3.0
            timer = (("job", "foo_server"), ("outcome", "ok"), ("provider", "bar"))
            def bucket(le):
                return ("my_timer_bucket", tuple(sorted(timer + (("le", le),))))
            assert [samples[bucket(le)] for le in ("0.01", "0.025", "0.05", "0.1", "+Inf")] == [
                0.0, 0.0, 1.0, 1.0, 1.0]
            assert samples[("my_timer_count", timer)] == 1.0
            assert samples[("not_mapped", ())] == 1.0
            assert samples[("metricsgate_statsd_mapping_rules", ())] == 4.0
            assert reloads(samples, "success") == 1.0


def test_bad_mapping_file_stops_start_up_with_its_line():
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "mapping.yml")
        write(path, "mappings:\n- match: a.b\n  nmae: x\n")
        with Metricsgate(f"--statsd.mapping-config={path}", wait=False) as mg:
            assert mg.wait(timeout=30) == 1
            assert f'{path}: line 3: unknown key \\"nmae\\" in a mapping' in mg.output()


def test_reload_on_sighup_and_http_keeps_the_old_mapping_when_the_new_is_bad():
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "mapping.yml")
        write(path, 'mappings:\n- match: "a.*"\n  name: "first_$1"\n')
        with Metricsgate(f"--statsd.mapping-config={path}") as mg:
            mg.send("a.x:1|c")
            assert mg.wait_for_packets(1)[("first_x", ())] == 1.0
            # A bad file: refused, the old mapping stays.
            write(path, "mappings: [\n")
            mg.proc.send_signal(signal.SIGHUP)
            wait_until(mg, lambda s: reloads(s, "failure") == 1.0, "no failed reload")
            status, _, body = mg.request("POST", "/-/reload")
            assert status == 500 and "line 2: invalid YAML" in body
            mg.send("a.y:1|c")
            assert mg.wait_for_packets(2)[("first_y", ())] == 1.0
            # A good file, by SIGHUP, then by HTTP.
            write(path, 'mappings:\n- match: "a.*"\n  name: "second_$1"\n')
            mg.proc.send_signal(signal.SIGHUP)
            wait_until(mg, lambda s: reloads(s, "success") == 2.0, "no reload")
            mg.send("a.z:1|c")
            assert mg.wait_for_packets(3)[("second_z", ())] == 1.0
            write(path, 'mappings:\n- match: "a.*"\n  action: drop\n')
            assert mg.request("PUT", "/-/reload")[::2] == (200, "OK\n")
            mg.send("a.w:1|c")
            samples = mg.wait_for_packets(4)
            assert samples[("metricsgate_statsd_mapping_dropped_samples_total", ())] == 1.0
            assert mg.request("GET", "/-/reload")[0] == 405
            assert mg.stop() == 0


def test_reload_without_a_mapping_file_is_refused():
    with Metricsgate() as mg:
        status, _, body = mg.request("POST", "/-/reload")
        assert status == 400
        assert body == "no mapping file to reload (--statsd.mapping-config is empty)\n"


def test_summary_mapping_exposes_quantiles():
    import subprocess
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "mapping.yml")
        write(path, """
mappings:
- match: "api.*.latency"
  name: "api_latency_seconds"
  help: "API latency."
  observer_type: summary
  summary_options:
    quantiles: [{quantile: 0.5, error: 0.05}, {quantile: 0.99, error: 0.001}]
  labels: {endpoint: "$1"}
""")
        with Metricsgate(f"--statsd.mapping-config={path}") as mg:
            mg.send("\n".join(f"api.users.latency:{v}|ms" for v in range(1, 101)))
            samples = mg.wait_for_packets(1)
            labels = (("endpoint", "users"),)
            median = samples[("api_latency_seconds", labels + (("quantile", "0.5"),))]
            p99 = samples[("api_latency_seconds", labels + (("quantile", "0.99"),))]
            assert abs(median - 0.050) <= 0.050 * 0.01
            assert abs(p99 - 0.099) <= 0.099 * 0.01
            assert samples[("api_latency_seconds_count", labels)] == 100.0
            assert abs(samples[("api_latency_seconds_sum", labels)] - 5.05) < 1e-9
            text = mg.scrape()
            assert "# HELP api_latency_seconds API latency.\n# TYPE api_latency_seconds summary\n" in text
            result = subprocess.run(["promtool", "check", "metrics"], input=text,
                                    capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, result.stdout + result.stderr


def test_ttl_expires_idle_series():
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "mapping.yml")
        write(path, """
defaults:
  ttl: 1s
mappings:
- match: "short.*"
  name: "short_$1"
- match: "long.*"
  name: "long_$1"
  ttl: 1h
""")
        with Metricsgate(f"--statsd.mapping-config={path}") as mg:
            mg.send("short.a:1|c\nlong.b:1|c\nplain:1|c")
            samples = mg.wait_for_packets(1)
            assert samples[("short_a", ())] == 1.0
            samples = wait_until(mg, lambda s: ("short_a", ()) not in s,
                                 "short_a did not expire")
            assert samples[("long_b", ())] == 1.0 and samples[("plain", ())] == 1.0
            assert samples[("metricsgate_series_expired_total", ())] == 1.0
            assert samples[("metricsgate_series", ())] == 2.0
            mg.send("short.a:5|c")  # comes back, counting from 0
            assert mg.wait_for_packets(2)[("short_a", ())] == 5.0

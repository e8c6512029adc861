"""Graphite forwarding against real peers on loopback: Etsy statsd 0.9.0 (the reference, from
npm) for the rollups, Debian's carbon-cache and whisper for delivery over plaintext and pickle
and through an outage, and carbon's own `carbon.hashing` for the ring."""

import os
import random
import tempfile
import time

import pytest

from graphite_peers import CarbonCache, EtsyStatsd, LineSink, wait_until
from mg import Metricsgate

# Keys whose values depend on the run (time, each server's own speed), as Etsy's own tests
# mask them.
RUN_DEPENDENT = ("processing_time", "calculationtime", "flush_time", "flush_length",
                 "last_flush", "last_exception", "timestamp_lag")


def masked(flush):
    return {k: v for k, v in flush.items() if not any(part in k for part in RUN_DEPENDENT)}


def corpus(prefix, rng):
    """Packets with every type, sample rates, tags, sanitizing and bad lines, on which Etsy
    and metricsgate agree (README lists where they deliberately differ)."""
    timer_values = [f"{rng.uniform(0, 1000):.3f}" for _ in range(300)]
    p = prefix
    packets = [
        "\n".join([f"{p}c1:1|c", f"{p}c1:2|c", f"{p}c2:1|c|@0.1", f"{p}c3:-1|c",
                   f"{p}c4:1.5|c|@0.5", f"{p}c5:3|c\n{p}c5:-5|c"]),
        "\n".join([f"{p}g1:5|g", f"{p}g2:+5|g", f"{p}g3:-5|g", f"{p}g4:50|g", f"{p}g4:-3|g",
                   f"{p}g5:0|g", f"{p}g5:-7|g", f"{p}g6:2.5e3|g"]),
        "\n".join(f"{p}tim:{v}|ms" for v in timer_values[:150]),
        "\n".join(f"{p}tim:{v}|ms" for v in timer_values[150:]),
        "\n".join([f"{p}t2:7|ms|@0.25", f"{p}t3:0|ms", f"{p}t4:1|ms", f"{p}t4:2|ms",
                   f"{p}api.tim:15|ms", f"{p}api.tim:150|ms", f"{p}api.tim:1500|ms"]),
        "\n".join([f"{p}s1:a|s", f"{p}s1:b|s", f"{p}s1:a|s", f"{p}s2:1|s", f"{p}s2:1.0|s"]),
        "\n".join([f"{p}tagged:1|c|#env:prod,role:web", f"{p}gtag;k=v:2|c",
                   f"{p}val:1|c|#tag;1:v", f"{p}fo/o:1|c", f"{p}b ar:1|c", f"{p}foo+bar:1|c",
                   f"{p}multi:1|c:2|ms", f"{p}tg:3|g|#a:b"]),
        "\n".join(["nocolon", f"{p}neg:-1|ms", f"{p}x:abc|c", f"{p}y:1|c|@-1", ""]),
    ]
    return packets


def first_flush_with(sink, prefix):
    """The first flush that holds a key of `prefix`, or None."""
    for _, flush in sorted(sink.flushes().items()):
        if any(prefix in key for key in flush):
            return flush
    return None


def packets_counted(flush):
    """The flush's statsd.packets_received count, in whichever namespace."""
    counts = [v for k, v in flush.items() if "packets_received" in k and
              (k.startswith("stats_counts.") or ".count" in k)]
    assert len(counts) == 1, counts
    return int(counts[0])


def run_differential(etsy_extra, mg_yaml):
    """Sends the corpus to both servers in one flush window and returns both flushes that hold
    it, masked. Retries with fresh names when a flush boundary split the burst on a side."""
    rng = random.Random(7)
    flush_ms = 3000
    with LineSink() as etsy_sink, LineSink() as mg_sink, \
            tempfile.NamedTemporaryFile("w", suffix=".yml") as config:
        config.write(mg_yaml)
        config.flush()
        with EtsyStatsd(etsy_sink.address, flush_ms, etsy_extra) as etsy, \
                Metricsgate(f"--graphite.address={mg_sink.address}",
                            f"--statsd.flush-interval={flush_ms}ms",
                            f"--config.file={config.name}", tcp=None) as mg:
            # A first flush has no statsd.timestamp_lag (and so one stat less in numStats) on
            # either side: the corpus goes after each side's first.
            wait_until(lambda: len(mg_sink.flushes()) > 0, "metricsgate's first flush")
            for attempt in range(4):
                # Start just after one of Etsy's flushes, so that at least its side has the
                # whole interval ahead.
                seen = len(etsy_sink.flushes())
                wait_until(lambda: len(etsy_sink.flushes()) > seen, "an Etsy flush")
                packets = corpus(f"a{attempt}.", rng)
                for packet in packets:
                    etsy.send(packet)
                    mg.send(packet)
                prefix = f".a{attempt}."
                flushes = [wait_until(lambda sink=sink: first_flush_with(sink, prefix),
                                      "the flush with the corpus") for sink in (etsy_sink, mg_sink)]
                if all(packets_counted(f) == len(packets) for f in flushes):
                    return masked(flushes[0]), masked(flushes[1])
            pytest.fail("every attempt straddled a flush boundary")


def assert_same(etsy, ours):
    missing = sorted(set(etsy) - set(ours))
    extra = sorted(set(ours) - set(etsy))
    differ = sorted((k, etsy[k], ours[k]) for k in set(etsy) & set(ours) if etsy[k] != ours[k])
    assert not missing and not extra and not differ, \
        f"missing: {missing}\nextra: {extra}\ndiffer (name, etsy, ours): {differ}"


def test_rollups_equal_etsy_statsd_with_the_default_config():
    etsy, ours = run_differential("", "")
    assert len(etsy) > 100  # every counter, gauge, set, timer value and self-metric
    assert etsy["stats.timers.a0.tim.count"] == "300"
    assert_same(etsy, ours)


def test_rollups_equal_etsy_statsd_with_new_names_percentiles_and_bins():
    etsy_extra = """graphite: {legacyNamespace: false, globalPrefix: "gp", prefixCounter: "cnt",
      globalSuffix: "sfx"},
      percentThreshold: [90, 99.9, -10, 50, 0.5],
      histogram: [{metric: "api", bins: [100, 1000, "inf"]}, {metric: "tim", bins: [250.5, 500]}],
      deleteIdleStats: false"""
    mg_yaml = """graphite:
  legacyNamespace: false
  globalPrefix: gp
  prefixCounter: cnt
  globalSuffix: sfx
  percentThreshold: [90, 99.9, -10, 50, 0.5]
  histogram:
    - {metric: api, bins: [100, 1000, inf]}
    - {metric: tim, bins: [250.5, 500]}
"""
    etsy, ours = run_differential(etsy_extra, mg_yaml)
    assert "gp.timers.a0.tim.histogram.bin_250_5.sfx" in etsy
    assert "gp.timers.a0.api.tim.histogram.bin_inf.sfx" in etsy
    assert "gp.timers.a0.tim.lower_top10.sfx" in etsy
    assert_same(etsy, ours)


@pytest.mark.parametrize("protocol", ["plaintext", "pickle"])
def test_carbon_stores_what_was_sent(protocol):
    with CarbonCache() as carbon:
        port = carbon.line_port if protocol == "plaintext" else carbon.pickle_port
        with Metricsgate(f"--graphite.address=127.0.0.1:{port}", f"--graphite.protocol={protocol}",
                         "--statsd.flush-interval=1s", tcp=None) as mg:
            since = int(time.time()) - 1
            mg.send("app.hits:3|c\napp.hits:4|c\napp.temp:21.5|g\napp.lat:10|ms\napp.lat:30|ms\n"
                    "app.users:a|s\napp.users:b|s\ntagged:1|c|#env:prod")
            status, _, body = mg.request("PUT", "/metrics/job/lab",
                                         '# TYPE room_temp gauge\nroom_temp{room="lab 1"} 19.5\n')
            assert status == 200, body

            def stored():
                until = int(time.time())
                counts = carbon.fetch("stats_counts.app.hits", since, until)
                return counts if 7.0 in counts.values() else None
            counts = wait_until(stored, "the counter in whisper")
            assert list(counts.values()).count(7.0) == 1  # one interval held both samples
            # carbon writes each series' file in its own time: wait for the rate's too.
            rates = wait_until(lambda: (lambda r: r if 7.0 in r.values() else None)(
                carbon.fetch("stats.app.hits", since, int(time.time()))), "the rate")
            assert set(rates.values()) <= {0.0, 7.0}  # 7 per 1 s, in the one interval
            wait_until(lambda: 21.5 in carbon.fetch("stats.gauges.app.temp", since,
                                                    int(time.time())).values(), "the gauge")
            for name, value in [("stats.timers.app.lat.mean", 20.0),
                                ("stats.timers.app.lat.upper_90", 30.0),
                                ("stats.timers.app.lat.count", 2.0),
                                ("stats.sets.app.users.count", 2.0)]:
                wait_until(lambda: value in carbon.fetch(name, since, int(time.time())).values(),
                           f"{name} = {value}")
            samples = mg.samples()
            dest = (("destination", f"127.0.0.1:{port}"),)
            assert samples[("metricsgate_graphite_points_sent_total", dest)] > 0
            assert samples[("metricsgate_graphite_points_dropped_total", dest)] == 0
            # A tagged series goes in carbon's tag store.
            wait_until(lambda: 1.0 in carbon.fetch("stats_counts.tagged;env=prod", since,
                                                   int(time.time())).values(), "the tagged series")
            # And so does a pushed group's series.
            wait_until(lambda: 19.5 in carbon.fetch("room_temp;job=lab;room=lab_1", since,
                                                    int(time.time())).values(), "the pushed gauge")


def test_every_interval_arrives_through_a_carbon_outage():
    with CarbonCache() as carbon:
        with Metricsgate(f"--graphite.address=127.0.0.1:{carbon.line_port}",
                         "--statsd.flush-interval=1s", tcp=None) as mg:
            dest = (("destination", f"127.0.0.1:{carbon.line_port}"),)
            # The first interval runs from start-up to the second after next (as Etsy's, its
            # ticks fall on the rounded start-up second): start after the first flush.
            mg.wait_for_log("connected to graphite")
            since = int(time.time())
            sent = {}

            def send_one(k):
                mg.send(f"out.g:{k}|g")
                sent[k] = time.time()
                time.sleep(1.1)  # one value per interval: each flush carries a new one
            for k in range(1, 4):
                send_one(k)
            carbon.stop()
            for k in range(4, 9):  # about five intervals with carbon down
                send_one(k)
            down = mg.samples()
            assert down[("metricsgate_graphite_points_queued", dest)] > 0
            assert down[("metricsgate_graphite_connect_failures_total", dest)] > 0
            carbon.start()
            for k in range(9, 11):
                send_one(k)

            def delivered():
                values = carbon.fetch("stats.gauges.out.g", since, int(time.time()))
                return values if set(range(1, 11)) <= set(values.values()) else None
            try:
                values = wait_until(delivered, "every gauge value in whisper", timeout=30)
            except AssertionError:
                pytest.fail(f"sent at {sent}; stored: "
                            f"{sorted(carbon.fetch('stats.gauges.out.g', since, int(time.time())).items())}"
                            f"\n{mg.output()}")
            # Every flush from the first value on has its point: no interval is missing.
            first = min(ts for ts, v in values.items() if v == 1)
            last = max(values)
            numstats = carbon.fetch("statsd.numStats", first, last)
            assert sorted(numstats) == list(range(first, last + 1)), \
                f"flushes missing: {sorted(set(range(first, last + 1)) - set(numstats))}"
            samples = mg.samples()
            assert samples[("metricsgate_graphite_points_dropped_total", dest)] == 0
            assert samples[("metricsgate_graphite_points_queued", dest)] == 0
            # The writes carbon may not have read when it stopped were sent again.
            assert samples[("metricsgate_graphite_points_resent_total", dest)] > 0


RING_CASES = [
    ("carbon_ch", [("127.0.0.1", "a"), ("127.0.0.1", "b"), ("127.0.0.1", "c")], 1),
    ("carbon_ch", [("127.0.0.2", None), ("127.0.0.3", None), ("127.0.0.4", None)], 1),
    ("fnv1a_ch", [("127.0.0.1", "x"), ("127.0.0.1", "y"), ("127.0.0.1", "z")], 1),
    ("carbon_ch", [("127.0.0.1", "a"), ("127.0.0.1", "b"), ("127.0.0.1", "c")], 2),
]


@pytest.mark.parametrize("hash_type,nodes,replicas", RING_CASES)
def test_each_metric_goes_where_carbon_relay_sends_it(hash_type, nodes, replicas):
    from carbon.hashing import ConsistentHashRing
    rng = random.Random(hash_type + str(nodes) + str(replicas))
    names = {"m." + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz_.0123456789")
                            for _ in range(rng.randint(3, 30))) for _ in range(2000)}
    names = {n.replace("..", ".").rstrip(".") for n in names}
    sinks = [LineSink(host) for host, _ in nodes]
    try:
        destinations = ",".join(f"{sink.address}:{instance}" if instance else sink.address
                                for sink, (_, instance) in zip(sinks, nodes))
        with Metricsgate(f"--graphite.address={destinations}", f"--graphite.hash-type={hash_type}",
                         f"--graphite.replication-factor={replicas}",
                         "--statsd.flush-interval=1s", tcp=None) as mg:
            lines = [f"{name}:1|c" for name in sorted(names)]
            for i in range(0, len(lines), 50):
                mg.send("\n".join(lines[i:i + 50]))
            expected_total = 2 * len(names) * replicas  # stats.<name> and stats_counts.<name>

            def received():
                got = {}
                for index, sink in enumerate(sinks):
                    for name, value, _ in sink.snapshot():
                        if name.startswith(("stats.m.", "stats_counts.m.")) and value == "1":
                            got.setdefault(name, set()).add(index)
                total = sum(len(v) for v in got.values())
                return got if total >= expected_total else None
            got = wait_until(received, "every counter at its nodes", timeout=30)
        ring = ConsistentHashRing([], hash_type=hash_type)
        for node in nodes:
            ring.add_node(node)
        checked = 0
        for name, indexes in got.items():
            want = {nodes.index(node) for node in list(ring.get_nodes(name))[:replicas]}
            assert indexes == want, f"{name}: sent to {indexes}, carbon-relay picks {want}"
            checked += 1
        assert checked == 2 * len(names)
    finally:
        for sink in sinks:
            sink.close()


def test_sigterm_flushes_the_partial_interval_and_drains_it():
    with LineSink() as sink:
        with Metricsgate(f"--graphite.address={sink.address}", "--statsd.flush-interval=1h",
                         tcp=None) as mg:
            mg.send("late.count:5|c\nlate.t:12|ms")
            mg.wait_for_packets(1)
            assert mg.stop() == 0
        flushes = sink.flushes()
        assert len(flushes) == 1, flushes
        (flush,) = flushes.values()
        assert flush["stats_counts.late.count"] == "5"
        assert flush["stats.timers.late.t.upper_90"] == "12"


def test_unreachable_destination_queues_boundedly_and_drops_the_oldest():
    sink = LineSink()
    address = sink.address
    sink.close()  # nothing listens there now: every connection is refused
    with Metricsgate(f"--graphite.address={address}", "--statsd.flush-interval=200ms",
                     "--graphite.queue-points=20", tcp=None) as mg:
        dest = (("destination", address),)
        # Each flush is one piece of 17 points (the self-metrics); the queue keeps one or two.
        samples = wait_until(lambda: (lambda s: s if s[("metricsgate_graphite_points_dropped_total",
                                                         dest)] >= 34 else None)(mg.samples()),
                             "points to be dropped")
        assert samples[("metricsgate_graphite_points_queued", dest)] <= 20
        assert samples[("metricsgate_graphite_points_sent_total", dest)] == 0
        assert samples[("metricsgate_graphite_connect_failures_total", dest)] >= 1


PUSH_BODY = """# TYPE jobs_done_total counter
jobs_done_total{zone="eu"} 3
# TYPE room_temp gauge
room_temp{room="lab 1;b"} 21.5
# TYPE run_seconds histogram
run_seconds_bucket{le="0.5"} 1
run_seconds_bucket{le="+Inf"} 2
run_seconds_sum 1.75
run_seconds_count 2
"""


def pushed_lines(flush):
    """The flush's pushed series: neither Etsy's namespaces nor push times (clocks)."""
    return {k: v for k, v in flush.items()
            if not k.startswith(("stats.", "stats_counts.", "statsd."))
            and not k.startswith(("push_time_seconds;", "push_failure_time_seconds;"))}


def test_pushed_groups_go_to_graphite_as_tagged_series():
    with LineSink() as sink:
        with Metricsgate(f"--graphite.address={sink.address}", "--statsd.flush-interval=1s",
                         tcp=None) as mg:
            status, _, body = mg.request("PUT", "/metrics/job/backup/instance/", PUSH_BODY)
            assert status == 200, body

            def flush_with_push():
                for _, flush in sorted(sink.flushes().items()):
                    if pushed_lines(flush):
                        return flush
                return None
            flush = wait_until(flush_with_push, "a flush with the pushed group")
            # instance="" is left out (empty = absent); ';' and ' ' in a value become '_'.
            assert pushed_lines(flush) == {
                "jobs_done_total;job=backup;zone=eu": "3",
                "room_temp;job=backup;room=lab_1_b": "21.5",
                "run_seconds_bucket;job=backup;le=0.5": "1",
                "run_seconds_bucket;job=backup;le=+Inf": "2",
                "run_seconds_sum;job=backup": "1.75",
                "run_seconds_count;job=backup": "2",
            }
            assert float(flush["push_time_seconds;job=backup"]) > time.time() - 60
            assert flush["push_failure_time_seconds;job=backup"] == "0"
            # Every flush sends the group again, as Prometheus scrapes it again.
            wait_until(lambda: sum(1 for f in sink.flushes().values() if pushed_lines(f)) >= 3,
                       "three flushes with the group")
            # A deleted group is no longer sent.
            status, _, body = mg.request("DELETE", "/metrics/job/backup/instance/")
            assert status == 202, body
            last = max(sink.flushes())
            wait_until(lambda: any(ts > last + 1 and not pushed_lines(f)
                                   for ts, f in sink.flushes().items()), "a flush without it")


def test_pushed_groups_stay_out_of_graphite_when_turned_off():
    with LineSink() as sink:
        with Metricsgate(f"--graphite.address={sink.address}", "--statsd.flush-interval=1s",
                         "--no-graphite.push-groups", tcp=None) as mg:
            status, _, body = mg.request("PUT", "/metrics/job/backup", PUSH_BODY)
            assert status == 200, body
            mg.send("after.push:1|c")
            flush = wait_until(lambda: first_flush_with(sink, "after.push"), "the counter")
            assert pushed_lines(flush) == {}
            assert not any("push_time_seconds" in k for f in sink.flushes().values() for k in f)


def test_spool_keeps_what_the_queue_cannot_hold_through_an_outage_and_a_restart():
    with LineSink(listen=False) as sink, tempfile.TemporaryDirectory() as spool_dir:
        flags = [f"--graphite.address={sink.address}", "--statsd.flush-interval=1s",
                 "--graphite.queue-points=20", f"--graphite.spool-dir={spool_dir}"]
        dest = (("destination", sink.address),)
        with Metricsgate(*flags, tcp=None) as mg:
            def held(samples):
                return (samples[("metricsgate_graphite_points_spooled", dest)]
                        + samples[("metricsgate_graphite_points_queued", dest)])
            for i in range(3):  # one value per flush, while carbon refuses connections
                mg.send(f"spooled.c:{i + 1}|c")
                before = held(mg.wait_for_packets(i + 1))
                wait_until(lambda: held(mg.samples()) > before, f"a flush after value {i + 1}")
            assert mg.samples()[("metricsgate_graphite_points_spooled", dest)] > 0
            samples = mg.samples()
            assert samples[("metricsgate_graphite_points_dropped_total", dest)] == 0
            assert samples[("metricsgate_graphite_points_queued", dest)] <= 20
            assert samples[("metricsgate_graphite_points_sent_total", dest)] == 0
            # Stopping spools what is still queued (after the drain's grace).
            assert mg.stop() == 0
        assert any(name.endswith(".spool") for name in os.listdir(spool_dir))
        sink.start()  # carbon is back
        with Metricsgate(*flags, tcp=None) as mg:
            def all_three():
                values = [f.get("stats_counts.spooled.c") for _, f in sorted(sink.flushes().items())]
                return values if {"1", "2", "3"} <= set(values) else None
            # Etsy sends a counter seen before as 0 in later intervals.
            values = [v for v in wait_until(all_three, "the spooled flushes") if v not in (None, "0")]
            assert values == ["1", "2", "3"]  # in order, each once
            wait_until(lambda: mg.samples()[("metricsgate_graphite_points_spooled", dest)] == 0,
                       "the spool to empty")
            samples = mg.samples()
            assert samples[("metricsgate_graphite_points_dropped_total", dest)] == 0
        assert not any(name.endswith(".spool") for name in os.listdir(spool_dir))


@pytest.mark.parametrize("flags,message", [
    (["--graphite.address=nohostport"], "want host:port[:instance]"),
    (["--graphite.address=127.0.0.1:99999"], "port 1-65535"),
    (["--graphite.address=127.0.0.1:2003:a,127.0.0.1:2004:a"], "repeats the host and instance"),
    (["--graphite.protocol=udp"], "not plaintext or pickle"),
    (["--graphite.hash-type=mmh3_ch"], "not carbon_ch or fnv1a_ch"),
    (["--graphite.spool-bytes=0"], "not a number of bytes above 0"),
    (["--graphite.address=127.0.0.1:2003", "--graphite.spool-dir=/proc/nope"],
     "cannot create spool directory /proc/nope"),
])
def test_bad_graphite_flags_stop_start_up_with_a_message(flags, message):
    with Metricsgate(*flags, tcp=None, wait=False) as mg:
        assert mg.wait() != 0
        assert message in mg.output(), mg.output()


def test_bad_config_file_stops_start_up_naming_the_key():
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as config:
        config.write("graphite:\n  percentThreshold: [90]\n  legacyNamespce: false\n")
        config.flush()
        with Metricsgate(f"--config.file={config.name}", "--graphite.address=127.0.0.1:1",
                         tcp=None, wait=False) as mg:
            assert mg.wait() != 0
            assert "unknown option graphite.legacyNamespce" in mg.output(), mg.output()

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

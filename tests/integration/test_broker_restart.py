"""`hirefire run` carries on through a restart of the Kafka broker.

A broker of its own (the other tests' broker is not touched) and a
redis-server; 60,000 generated events and 25 messages that are not JSON in
an 8-partition topic. While one instance processes them (small batches, so
that the input outlasts the outage), the broker is killed (kill -9, its data
kept) and started again on the same ports a few seconds later. The instance
is not restarted: it must notice the outage, wait, and go on. In the end the
output read with isolation.level=read_committed equals `hirefire replay
--topic` of the input (exactly_once: no loss, no duplicate), or holds every
signal of it (at_least_once: repeats share their ids).
"""

import re
import signal
import time

import pytest

import eos_helpers as eh
import servers

PARTS = 8
EVENTS = 60000


def applied_total(redis, group, topic):
    """How many input messages the stored partitions have applied."""
    total = 0
    for p in range(PARTS):
        a = redis.command("HGET", f"hf:{{{group}:{p}}}:meta", f"applied:{topic}")
        total += int(a) + 1 if a is not None else 0
    return total


@pytest.mark.parametrize("guarantee", ["exactly_once", "at_least_once"])
def test_broker_killed_and_restarted(hirefire, work_dir, guarantee):
    tag = "bx" if guarantee == "exactly_once" else "bl"
    topic, out, dead, group = f"{tag}-in", f"{tag}-out", f"{tag}-dead", f"{tag}-group"
    with servers.kafka() as kafka, servers.redis(aof=True) as redis:
        eh.create_topics(kafka, (topic, PARTS), (out, PARTS), (dead, 1))
        bad = eh.load_input(hirefire, kafka, work_dir, topic, EVENTS, 6000, seed=17)
        config = eh.write_config(work_dir / "run.properties", kafka, redis.url, topic, out,
                                 dead, group, guarantee,
                                 # dynamic membership: librdkafka 2.0 fences a
                                 # static member after a coordinator restart
                                 "batch.max.events=100\n")
        ref = eh.reference(hirefire, config, topic, work_dir)
        assert sum(ref.values()) > 5000

        inst = eh.Instance(hirefire, config, work_dir, "run").start()
        inst.wait_for("assigned ")
        time.sleep(1.0)
        before = applied_total(redis, group, topic)
        kafka.stop(kill=True)
        time.sleep(4.0)
        assert inst.alive(), inst.text()[-4000:]
        kafka.start()
        # It carries on by itself and reaches the end of the input.
        deadline = time.monotonic() + 180
        while applied_total(redis, group, topic) < EVENTS + len(bad):
            assert inst.alive(), inst.text()[-4000:]
            assert time.monotonic() < deadline, inst.text()[-4000:]
            time.sleep(0.5)
        inst.kill(signal.SIGTERM)
        inst.finish(timeout=120)
        log = inst.text()
        # The outage is in the log: librdkafka's connection errors.
        assert re.search(r"warn kafka: .*(Connection refused|Disconnected|transport)", log), \
            log[-4000:]
        # The kill came mid-stream: the instance had input left to process.
        assert 0 < before < EVENTS + len(bad), before

        if guarantee == "exactly_once":
            got = eh.output(kafka, out, read_committed=True)
            missing, extra = ref - got, got - ref
            assert (sum(missing.values()), sum(extra.values())) == (0, 0)
            dl = eh.dead_letters(kafka, dead)
            assert sorted(v for (_, _, _, v), n in dl.items() for _ in range(n)) == \
                sorted(v for _, v in bad)
        else:
            got = eh.output(kafka, out, read_committed=False)
            assert set(got) == set(ref)
            assert all(got[k] >= n for k, n in ref.items())

"""`hirefire run` with Redis state, killed with SIGKILL at random moments and
restarted, on a real broker and a real redis-server.

- exactly_once: 60,000 generated events and 25 messages that are not JSON
  in an 8-partition topic; one instance killed 6 times and restarted, then
  run to the end: the output topic read with isolation.level=read_committed
  holds exactly the signals of `hirefire replay --topic` (as multisets of
  whole messages, so (signal_id, payload) pairs), the dead-letter topic each
  bad message exactly once, and Redis' outboxes are empty.
- at_least_once: the same with no transactions: no signal is missing, every
  message is a signal of the replay (repeats carry the same signal_id).
- A restart with nothing new to do publishes nothing.

HF_CHAOS_SEED repeats the kill moments of a failed run.
"""

import collections
import re

import pytest

import eos_helpers as eh
import servers
from servers import kafka_server  # noqa: F401  (session fixture)

PARTS = 8
EVENTS = 60000
KILLS = 6


@pytest.fixture
def redis():
    with servers.redis(aof=True) as r:
        yield r


def outbox_lengths(redis, group):
    return [redis.command("LLEN", f"hf:{{{group}:{p}}}:outbox") for p in range(PARTS)]


@pytest.mark.parametrize("guarantee", ["exactly_once", "at_least_once"])
def test_kill_and_restart(hirefire, kafka_server, redis, work_dir, guarantee):
    kafka = kafka_server
    tag = "eo" if guarantee == "exactly_once" else "alo"
    topic, out, dead, group = f"{tag}-in", f"{tag}-out", f"{tag}-dead", f"{tag}-group"
    eh.create_topics(kafka, (topic, PARTS), (out, PARTS), (dead, 1))
    bad = eh.load_input(hirefire, kafka, work_dir, topic, EVENTS, 6000, seed=11)
    config = eh.write_config(work_dir / "run.properties", kafka, redis.url, topic, out,
                             dead, group, guarantee,
                             # small batches: the input outlasts the kills
                             "kafka.group.instance.id=one\nbatch.max.events=100\n")
    ref = eh.reference(hirefire, config, topic, work_dir)
    assert sum(ref.values()) > 5000

    rng = eh.new_rng()
    inst = eh.Instance(hirefire, config, work_dir, "run")
    # Without transactions a run gets through the input ~4x faster (the
    # last run had 6,000-11,000 of the 60,000 events left, and none once on
    # a busy machine): its kills come sooner.
    low, high = (0.2, 1.5) if guarantee == "exactly_once" else (0.1, 0.5)
    eh.kill_loop(inst, KILLS, rng, low, high)
    inst.start("--max-idle-ms", "3000")
    inst.finish()
    # Every kill landed mid-stream: the last run still had input to process.
    done = re.findall(r"hirefire run: (\d+) messages", inst.text())
    assert done and int(done[-1]) > 0, inst.text()[-2000:]

    if guarantee == "exactly_once":
        got = eh.output(kafka, out, read_committed=True)
        assert sum(got.values()) == sum(ref.values())
        assert got == ref
        dl = eh.dead_letters(kafka, dead)
        assert sorted(v for (_, _, _, v), n in dl.items() for _ in range(n)) == \
            sorted(v for _, v in bad)
        assert all(n == 1 for n in dl.values())
    else:
        got = eh.output(kafka, out, read_committed=False)
        assert set(got) == set(ref)
        assert all(got[k] >= n for k, n in ref.items())
        dl = eh.dead_letters(kafka, dead)
        assert {v for (_, _, _, v) in dl} == {v for _, v in bad}
    assert outbox_lengths(redis, group) == [0] * PARTS
    # The applied offsets in Redis are the ends of the partitions.
    ends = collections.Counter(r.partition for r in kafka.consume(topic))
    applied = [int(redis.command("HGET", f"hf:{{{group}:{p}}}:meta", f"applied:{topic}"))
               for p in range(PARTS)]
    assert applied == [ends[p] - 1 for p in range(PARTS)]

    # Nothing new: a restart republishes nothing and produces nothing.
    before = sum(eh.output(kafka, out, read_committed=False).values())
    inst.start("--max-idle-ms", "2000")
    inst.finish()
    assert sum(eh.output(kafka, out, read_committed=False).values()) == before
    assert "republished" not in inst.text()

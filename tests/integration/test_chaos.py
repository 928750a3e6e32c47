"""Chaos on `hirefire run` with Redis state and exactly_once, on a real broker
and a real redis-server (AOF on): 200,000 generated events and 25 messages
that are not JSON in one 8-partition topic, processed by a consumer group of
its own in each case:

  (a) one instance killed with SIGKILL 10 times and restarted;
  (b) two instances; one killed and restarted 4 times (partitions move
      between them at each rebalance);
  (c) redis-server stopped and started again (its AOF loaded) twice while
      one instance runs: the input pauses and resumes;
  (d) two instances; one SIGSTOPped until the other has taken its
      partitions (session.timeout.ms 6000), then SIGCONTed: its late Redis
      commits are fenced by the epoch and its Kafka transaction by the group
      generation, so it writes nothing.

Each case ends with a last instance run to the end of the input; then the
output topic read with isolation.level=read_committed (once no transaction
is open: one left by a killed instance stops such readers until the
coordinator aborts it) equals `hirefire replay --topic` of the same input,
as multisets of whole messages, and the dead-letter topic holds each bad
message once. HF_CHAOS_SEED repeats the random moments of a failed run.
"""

import json
import re
import signal
import subprocess
import time

import pytest

import eos_helpers as eh
import servers
from servers import kafka_server  # noqa: F401  (session fixture)

PARTS = 8
EVENTS = 200000
TOPIC = "chaos-in"


@pytest.fixture(scope="module")
def redis():
    with servers.redis(aof=True) as r:
        yield r


@pytest.fixture(scope="module")
def chaos_input(hirefire, kafka_server, tmp_path_factory):
    """The input topic and the reference output (computed once)."""
    work = tmp_path_factory.mktemp("chaos")
    eh.create_topics(kafka_server, (TOPIC, PARTS))
    bad = eh.load_input(hirefire, kafka_server, work, TOPIC, EVENTS, 20000, seed=5)
    config = eh.write_config(work / "ref.properties", kafka_server, "redis://127.0.0.1:1",
                             TOPIC, "unused", "unused", "unused", "exactly_once")
    ref = eh.reference(hirefire, config, TOPIC, work)
    assert sum(ref.values()) > 15000
    return ref, bad


def setup_case(hirefire, kafka, redis, work, name):
    out, dead, group = f"chaos-{name}-out", f"chaos-{name}-dead", f"chaos-{name}"
    eh.create_topics(kafka, (out, PARTS), (dead, 1))

    def config(instance, static=False):
        # Small batches: many transactions, so that the input lasts long
        # enough for the kills and outages to land mid-stream. Two buckets
        # per new partition: ~2500 customers each make the commits split
        # buckets all along (growth under kills, fencing and outages too).
        extra = f"kafka.client.id={instance}\nbatch.max.events=300\nredis.buckets=2\n"
        if static:
            extra += f"kafka.group.instance.id={instance}\n"
        return eh.write_config(work / f"{instance}.properties", kafka, redis.url, TOPIC,
                               out, dead, group, "exactly_once", extra)
    return out, dead, config


def finish_and_check(hirefire, kafka, work, config, out, dead, chaos_input,
                     mid_stream=False):
    ref, bad = chaos_input
    last = eh.Instance(hirefire, config, work, "last").start("--max-idle-ms", "3000")
    last.finish()
    if mid_stream:  # the chaos ended before the input did
        done = re.findall(r"hirefire run: (\d+) messages", last.text())
        assert done and int(done[-1]) > 0, last.text()[-2000:]
    # Every partition's buckets grew from 2 (~2500 customers each).
    for p in range(PARTS):
        res = subprocess.run([hirefire, "inspect", "partition", str(p), "-c", str(config)],
                             capture_output=True, text=True, check=True, timeout=60)
        assert json.loads(res.stdout)["buckets"] > 2, res.stdout
    got = eh.output(kafka, out, read_committed=True)
    missing, extra = ref - got, got - ref
    assert (sum(missing.values()), sum(extra.values())) == (0, 0)
    assert got == ref
    dl = eh.dead_letters(kafka, dead)
    assert sorted(v for (_, _, _, v), n in dl.items() for _ in range(n)) == \
        sorted(v for _, v in bad)


def test_a_sigkill_restarts(hirefire, kafka_server, redis, work_dir, chaos_input):
    out, dead, config = setup_case(hirefire, kafka_server, redis, work_dir, "a")
    cfg = config("solo", static=True)
    inst = eh.Instance(hirefire, cfg, work_dir, "solo")
    eh.kill_loop(inst, 10, eh.new_rng(), 0.2, 1.2)
    finish_and_check(hirefire, kafka_server, work_dir, cfg, out, dead, chaos_input,
                     mid_stream=True)


def test_b_two_instances_one_killed(hirefire, kafka_server, redis, work_dir, chaos_input):
    out, dead, config = setup_case(hirefire, kafka_server, redis, work_dir, "b")
    rng = eh.new_rng()
    steady = eh.Instance(hirefire, config("steady"), work_dir, "steady").start()
    steady.wait_for("assigned ")
    flaky = eh.Instance(hirefire, config("flaky"), work_dir, "flaky")
    for _ in range(4):
        flaky.start()
        flaky.wait_for("assigned ")
        time.sleep(rng.uniform(0.3, 1.5))
        flaky.kill()
    assert steady.alive()
    steady.kill(signal.SIGTERM)
    steady.finish(timeout=60)
    finish_and_check(hirefire, kafka_server, work_dir, config("steady"), out, dead,
                     chaos_input)
    # Partitions moved to the steady instance and back.
    assert steady.text().count("acquired (epoch") > PARTS // 2


def test_c_redis_restarts(hirefire, kafka_server, redis, work_dir, chaos_input):
    out, dead, config = setup_case(hirefire, kafka_server, redis, work_dir, "c")
    cfg = config("solo", static=True)
    inst = eh.Instance(hirefire, cfg, work_dir, "solo").start()
    inst.wait_for("assigned ")
    for restart in range(2):
        time.sleep(0.7)
        redis.stop(keep=True)
        deadline = time.monotonic() + 30
        while inst.text().count("Redis unavailable") <= restart:
            assert time.monotonic() < deadline, inst.text()[-4000:]
            assert inst.alive(), inst.text()[-4000:]
            time.sleep(0.05)
        time.sleep(1.0)
        redis.start()
        deadline = time.monotonic() + 30
        while inst.text().count("Redis available again") <= restart:
            assert time.monotonic() < deadline, inst.text()[-4000:]
            assert inst.alive(), inst.text()[-4000:]
            time.sleep(0.1)
    inst.kill(signal.SIGTERM)
    inst.finish(timeout=60)
    assert "input paused, retrying" in inst.text()
    finish_and_check(hirefire, kafka_server, work_dir, cfg, out, dead, chaos_input)


def test_d_zombie_is_fenced(hirefire, kafka_server, redis, work_dir, chaos_input):
    out, dead, config = setup_case(hirefire, kafka_server, redis, work_dir, "d")
    zombie = eh.Instance(hirefire, config("zombie"), work_dir, "zombie").start()
    zombie.wait_for("assigned ")
    other = eh.Instance(hirefire, config("other"), work_dir, "other").start()
    other.wait_for("assigned ")
    time.sleep(0.5)
    zombie.kill(signal.SIGSTOP)
    # The other instance takes every partition once the session times out.
    deadline = time.monotonic() + 60
    while len(set(re.findall(r"partition (\d+): acquired", other.text()))) < PARTS:
        assert time.monotonic() < deadline, other.text()[-4000:]
        time.sleep(0.2)
    zombie.kill(signal.SIGCONT)
    time.sleep(4)
    assert zombie.alive() or zombie.proc.returncode in (0, 1)
    for inst in (zombie, other):
        if inst.alive():
            inst.kill(signal.SIGTERM)
    other.finish(timeout=60)
    zombie.proc.wait(timeout=60)
    finish_and_check(hirefire, kafka_server, work_dir, config("other"), out, dead,
                     chaos_input)

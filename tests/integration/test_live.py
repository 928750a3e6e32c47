"""`hirefire run` on a real Kafka broker against the replays.

- Events (with the generator's corner cases and invalid lines) in a
  4-partition topic, processed live, give exactly the signals that
  `hirefire replay --topic` gives, and each partition's signals equal a file
  replay of that partition's events in offset order (dumped with kcat).
- Separate purchase and return topics (input.topic.<t>.type) give the
  signals of a file replay of each partition's purchases then returns.
- An event in a partition its customer does not belong to is counted.
- With a consumer queue held past its byte limit, the run still takes
  every message before --max-idle-ms stops it.
- A new group starts where kafka.auto.offset.reset says.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import zlib

import pytest

from servers import kafka_server  # noqa: F401  (session fixture)
import gen_events

PARTS = 4
RUN_TIMEOUT = 120


def keyed(lines):
    """(customer_id key, line) pairs; lines that are not objects with a
    string customer_id get no key (the producer picks a partition)."""
    out = []
    for line in lines:
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            key = obj.get("customer_id") if isinstance(obj, dict) else None
        except ValueError:
            key = None
        out.append((key if isinstance(key, str) and key else None, line))
    return out


def write_config(path, kafka, topics, output, dead_letter, group, extra=""):
    path.write_text(
        f"input.topics={','.join(topics)}\n"
        "input.format=json\n"
        f"output.topic={output}\n"
        "output.format=json\n"
        f"dead_letter.topic={dead_letter}\n"
        "store.backend=memory\n"
        "processing.guarantee=at_least_once\n"
        "http.listen=\n"
        f"kafka.bootstrap.servers={kafka.bootstrap}\n"
        f"kafka.group.id={group}\n" + extra)
    return path


def load_case(kafka, name, case, behaviours, tmp_path):
    """<name>-in (PARTS partitions) holding the case's lines, empty
    <name>-signals and <name>-dead, and a run configuration for them (group
    <name>-1)."""
    kafka.create_topic(f"{name}-in", PARTS)
    kafka.create_topic(f"{name}-signals", PARTS)
    kafka.create_topic(f"{name}-dead", 1)
    kafka.produce(f"{name}-in", keyed(case.lines))
    return write_config(tmp_path / "run.properties", kafka, [f"{name}-in"],
                        f"{name}-signals", f"{name}-dead", f"{name}-1", behaviours)


def run_until_idle(hirefire, config, *args, idle_ms=1500):
    res = subprocess.run([hirefire, "run", "-c", str(config), "--max-idle-ms",
                          str(idle_ms), *args], capture_output=True, text=True,
                         timeout=RUN_TIMEOUT)
    assert res.returncode == 0, f"hirefire run failed:\n{res.stderr}"
    return res.stderr


def counters(stderr):
    """The counters of run's last summary line."""
    m = re.search(r"hirefire run: (\d+) messages \((\d+) re-read\), (\d+) signals, "
                  r"(\d+) dead letters, (\d+) in a foreign partition, (\d+) commits",
                  stderr)
    assert m, f"no counter line in:\n{stderr}"
    keys = ("messages", "restored", "signals", "dead_letters", "wrong_partition",
            "commits")
    return dict(zip(keys, map(int, m.groups())))


def file_replay(hirefire, config, data):
    res = subprocess.run([hirefire, "replay", "-q", "-c", str(config), "-i", "-"],
                         input=data, capture_output=True, timeout=RUN_TIMEOUT)
    assert res.returncode == 0, res.stderr.decode()
    return [json.loads(line) for line in res.stdout.decode().splitlines()]


def without_kafka_trigger(s):
    s = dict(s)
    if s["trigger"] is not None:
        s["trigger"] = {"event_id": s["trigger"]["event_id"]}
    return s


def partition_of(customer_id):
    """librdkafka's consistent partitioner: CRC-32 of the key."""
    return zlib.crc32(customer_id.encode()) % PARTS


def live_signals(kafka, topic):
    """Signals per stream. The output has PARTS partitions and is keyed by
    customer, so stream p's signals are exactly partition p, in order."""
    by_part = {p: [] for p in range(PARTS)}
    for r in kafka.consume(topic):
        s = json.loads(r.value)
        assert r.key == s["customer_id"]
        assert r.partition == partition_of(s["customer_id"])
        by_part[r.partition].append(s)
    return by_part


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    case = gen_events.generate(7, 3000)
    d = tmp_path_factory.mktemp("gen")
    props = d / "behaviours.properties"
    props.write_text(case.properties)
    return case, props.read_text()


def test_live_equals_kafka_replay_and_file_replay(hirefire, kafka_server, generated,
                                                  tmp_path):
    case, behaviours = generated
    k = kafka_server
    cfg = load_case(k, "live", case, behaviours, tmp_path)

    # A batch that waits for more (batch.linger.ms) holds several partitions'
    # messages: the memory store splits such a batch between the loop and a
    # helper thread (by stream); the file replays below check it changed
    # nothing. (Taking only what is fetched, the first batches here hold one
    # partition each, as the partitions' first fetches come back one by one.)
    log = run_until_idle(hirefire, cfg, "-X", "log.level=debug",
                         "-X", "batch.linger.ms=500")
    c = counters(log)
    helped = [int(n) for n in re.findall(r"batch of \d+ messages \((\d+) by the helper", log)]
    assert helped and max(helped) > 0, log
    live = live_signals(k, "live-signals")
    total = sum(len(v) for v in live.values())
    assert total == c["signals"]
    kinds = {(s["kind"], s["cause"]) for v in live.values() for s in v}
    assert ("hire", "purchase") in kinds and ("fire", "expiry") in kinds, kinds

    # Each partition equals a file replay of its events in offset order.
    invalid = 0
    for p in range(PARTS):
        recs = k.consume("live-in", partition=p)
        data = "".join(r.value + "\n" for r in recs).encode()
        expected = file_replay(hirefire, cfg, data)
        assert [without_kafka_trigger(s) for s in live[p]] == expected, f"partition {p}"
        by_offset = {}
        for r in recs:
            try:
                by_offset[r.offset] = json.loads(r.value)
            except ValueError:
                pass
        for s in live[p]:
            t = s["trigger"]
            if t is None:
                assert s["cause"] == "expiry"
                continue
            assert (t["topic"], t["partition"]) == ("live-in", p)
            assert by_offset[t["offset"]]["event_id"] == t["event_id"]
        dl = subprocess.run([hirefire, "replay", "-q", "-c", str(cfg), "-i", "-",
                             "-o", "/dev/null", "-d", "-"], input=data,
                            capture_output=True, timeout=RUN_TIMEOUT)
        invalid += len(dl.stderr.splitlines())
    assert invalid > 0
    assert c["dead_letters"] == invalid
    assert len(k.consume("live-dead")) == invalid
    assert c["messages"] == len(keyed(case.lines))
    assert c["restored"] == 0 and c["wrong_partition"] == 0

    # The Kafka replay gives the same signals, Kafka triggers included.
    res = subprocess.run([hirefire, "replay", "-q", "-c", str(cfg), "--topic", "live-in",
                          "--brokers", k.bootstrap], capture_output=True, text=True,
                         timeout=RUN_TIMEOUT)
    assert res.returncode == 0, res.stderr
    replayed = {p: [] for p in range(PARTS)}
    for line in res.stdout.splitlines():
        s = json.loads(line)
        replayed[partition_of(s["customer_id"])].append(s)
    assert replayed == live

    # A second run of the same group re-reads everything silently.
    c2 = counters(run_until_idle(hirefire, cfg))
    assert (c2["messages"], c2["restored"], c2["signals"], c2["dead_letters"]) == \
        (c["messages"], c["messages"], 0, 0)
    assert len(k.consume("live-signals")) == total


def test_stops_at_the_end_while_librdkafka_holds_back_fetches(hirefire, kafka_server,
                                                              generated, tmp_path):
    """--max-idle-ms with a consumer queue that is always past its byte
    limit: librdkafka 2.0 then sends no fetch, and so no end-of-partition
    event, until its broker thread wakes. The run still takes every message
    before it stops (the end is also seen when what was processed reaches
    the partition's high watermark), and gives each partition's signals."""
    case, behaviours = generated
    k = kafka_server
    cfg = load_case(k, "smallq", case, behaviours, tmp_path)
    c = counters(run_until_idle(hirefire, cfg, "-X", "kafka.queued.max.messages.kbytes=1"))
    assert c["messages"] == len(keyed(case.lines))
    live = live_signals(k, "smallq-signals")
    for p in range(PARTS):
        data = "".join(r.value + "\n" for r in k.consume("smallq-in", partition=p)).encode()
        assert [without_kafka_trigger(s) for s in live[p]] == \
            file_replay(hirefire, cfg, data), f"partition {p}"
    assert c["signals"] == sum(len(v) for v in live.values())


def test_without_committed_offsets_the_start_follows_auto_offset_reset(
        hirefire, kafka_server, generated, tmp_path):
    """A new group starts where kafka.auto.offset.reset says: earliest (the
    default, every other test) or latest: the events already in the topic
    are skipped, those produced once it runs are processed."""
    case, behaviours = generated
    k = kafka_server
    cfg = load_case(k, "latest", case, behaviours, tmp_path)
    proc = subprocess.Popen([hirefire, "run", "-c", str(cfg), "--max-idle-ms", "3000",
                             "-X", "kafka.auto.offset.reset=latest"],
                            stderr=subprocess.PIPE, text=True)
    try:
        log = []
        for line in proc.stderr:
            log.append(line)
            if "assigned latest-in" in line:
                break
        assert any("assigned latest-in" in line for line in log), "".join(log)
        time.sleep(1.0)  # the partitions' end offsets, looked up after the assignment
        new = keyed(case.lines[:200])
        k.produce("latest-in", new)
        log.append(proc.stderr.read())
        assert proc.wait(timeout=RUN_TIMEOUT) == 0, "".join(log)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    c = counters("".join(log))
    assert c["messages"] == len(new)
    assert c["signals"] == len(k.consume("latest-signals"))


def test_separate_purchase_and_return_topics(hirefire, kafka_server, tmp_path):
    k = kafka_server
    gen = subprocess.run([hirefire, "gen", "-q", "--seed", "5", "--customers", "300",
                          "--events", "4000"], capture_output=True, text=True, check=True)
    events = [json.loads(line) for line in gen.stdout.splitlines()]
    purchases = [e for e in events if e["type"] == "purchase"]
    returns = [e for e in events if e["type"] == "return"]
    assert len(returns) > 50
    for t in ("sep-purchases", "sep-returns", "sep-signals"):
        k.create_topic(t, PARTS)
    k.create_topic("sep-dead", 1)
    behaviours = ("behaviour.loyal.window_days=60\nbehaviour.loyal.min_orders=2\n"
                  "behaviour.loyal.max_return_ratio=0.5\n"
                  "input.topic.sep-returns.type=return\n")
    cfg = write_config(tmp_path / "run.properties", k, ["sep-purchases", "sep-returns"],
                       "sep-signals", "sep-dead", "sep-1", behaviours)

    def expected_for(parts_events):
        out = {}
        for p in range(PARTS):
            data = "".join(json.dumps(e) + "\n" for e in parts_events if
                           partition_of(e["customer_id"]) == p).encode()
            out[p] = file_replay(hirefire, cfg, data)
        return out

    # The returns topic fixes the type: its events say "purchase" here.
    disguised = [dict(e, type="purchase") for e in returns]
    k.produce("sep-purchases", [(e["customer_id"], json.dumps(e)) for e in purchases])
    want_first = sum(len(v) for v in expected_for(purchases).values())
    want = expected_for(purchases + returns)  # per partition: purchases, then returns

    proc = subprocess.Popen([hirefire, "run", "-c", str(cfg)], stderr=subprocess.PIPE,
                            text=True)
    try:
        wait_for_count(k, "sep-signals", want_first, proc)
        k.produce("sep-returns", [(e["customer_id"], json.dumps(e)) for e in disguised])
        wait_for_count(k, "sep-signals", sum(len(v) for v in want.values()), proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    got = live_signals(k, "sep-signals")
    for p in range(PARTS):
        assert [without_kafka_trigger(s) for s in got[p]] == want[p], f"partition {p}"
    causes = {s["cause"] for v in got.values() for s in v}
    assert "return" in causes, causes
    assert counters(err)["dead_letters"] == 0


def wait_for_count(kafka, topic, n, proc, timeout=90):
    deadline = time.monotonic() + timeout
    have = -1
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        have = len(kafka.consume(topic))
        if have >= n:
            assert have == n, f"{topic}: {have} signals, expected {n}"
            return
        time.sleep(0.3)
    pytest.fail(f"{topic}: {have} signals after {timeout}s, expected {n}")


def test_event_in_a_foreign_partition_is_counted(hirefire, kafka_server, tmp_path):
    k = kafka_server
    k.create_topic("foreign-in", PARTS)
    k.create_topic("foreign-signals", PARTS)
    k.create_topic("foreign-dead", 1)
    ev = {"event_id": "x1", "type": "purchase", "customer_id": "c0000001",
          "event_time": 1704067200000, "amount_minor": 100, "currency": "EUR", "items": 1}
    home = partition_of("c0000001")
    assert home == 0
    k.produce("foreign-in", [("c0000001", json.dumps(ev))], partition=3)
    k.produce("foreign-in", [("c0000001", json.dumps(dict(ev, event_id="x2")))])
    cfg = write_config(tmp_path / "run.properties", k, ["foreign-in"], "foreign-signals",
                       "foreign-dead", "foreign-1")
    err = run_until_idle(hirefire, cfg)
    c = counters(err)
    assert (c["messages"], c["wrong_partition"], c["dead_letters"]) == (2, 1, 0)
    assert ('customer "c0000001" belongs to partition 0 of foreign-in but arrived in '
            'partition 3 at offset 0') in err
    # Processed where it arrived: a stream of its own, one order each.
    assert k.consume("foreign-signals") == []


def test_gen_rate_spreads_the_events(hirefire, kafka_server):
    """gen --rate N produces at most N events per second: 600 at 1000/s take
    0.6 s, seen in the messages' create times (a lower bound only)."""
    k = kafka_server
    k.create_topic("paced-in", 2)
    subprocess.run([hirefire, "gen", "-q", "--seed", "3", "--customers", "50", "--events",
                    "600", "--rate", "1000", "--topic", "paced-in", "--brokers", k.bootstrap],
                   check=True, timeout=60)
    times = sorted(r.timestamp for r in k.consume("paced-in"))
    assert len(times) == 600
    assert times[-1] - times[0] >= 550


def batches_of_trickle(hirefire, kafka, tmp_path, name, extra):
    """Runs hirefire on an empty one-partition topic, produces three events
    0.4 s apart once the partition is assigned, and returns the sizes of the
    batches (debug log) that took them."""
    kafka.create_topic(f"{name}-in", 1)
    kafka.create_topic(f"{name}-signals", 1)
    kafka.create_topic(f"{name}-dead", 1)
    cfg = write_config(tmp_path / f"{name}.properties", kafka, [f"{name}-in"],
                       f"{name}-signals", f"{name}-dead", name,
                       "log.level=debug\n" + extra)
    log = tmp_path / f"{name}.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([hirefire, "run", "-c", str(cfg)], stderr=err)
    try:
        deadline = time.monotonic() + 60
        while f"assigned {name}-in [0]" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        for i in range(3):
            if i:
                time.sleep(0.4)
            kafka.produce(f"{name}-in", [("c1", json.dumps({
                "event_id": f"e{i}", "customer_id": "c1", "type": "purchase",
                "event_time": "2024-01-0%dT10:00:00Z" % (i + 1),
                "amount_minor": 1000, "currency": "EUR", "items": 1}))])
        wait_for_count(kafka, f"{name}-signals", 1, proc)  # the hire
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    text = log.read_text()
    assert proc.returncode == 0, text
    assert counters(text)["messages"] == 3
    return [int(n) for n in re.findall(r"batch of (\d+) messages", text)]


def test_batches_take_what_is_fetched(hirefire, kafka_server, tmp_path):
    """batch.linger.ms=0 (the default): events 0.4 s apart go in batches of
    their own; lingering 3 s, the three share one batch."""
    assert batches_of_trickle(hirefire, kafka_server, tmp_path, "linger0", "") == [1, 1, 1]
    assert batches_of_trickle(hirefire, kafka_server, tmp_path, "linger3",
                              "batch.linger.ms=3s\ncommit.interval.ms=10s\n") == [3]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__] + sys.argv[1:]))

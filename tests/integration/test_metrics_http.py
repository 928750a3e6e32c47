"""`hirefire run` serves /metrics, /healthz and /readyz on http.listen.

- A known event file (generated, plus duplicates and a late event) loaded
  with `hirefire produce` into a 2-partition topic, plus poison messages of
  each dead-letter class: once the run has caught up, hirefire_events_total,
  hirefire_signals_total and hirefire_dead_letters_total equal EXACTLY the
  file replays of each partition's events, the consumer lag is 0, the batch
  sizes add up to the messages, and customers cached equals the replays'.
- /healthz answers 200 "ok"; /readyz 200 "ready" while partitions are held.
- Readiness without partitions: a second instance of the group on a
  1-partition topic is joined but holds nothing (503 "not ready: no
  partitions assigned"), and becomes ready when the first one leaves.
- A listen address that is taken fails the run with exit status 1.
"""

import json
import re
import signal
import socket
import struct
import subprocess
import time
import urllib.error
import urllib.request
import zlib

import pytest

from servers import free_port, kafka_server  # noqa: F401  (session fixture)

PARTS = 2
TIMEOUT = 120
BEHAVIOURS = ("behaviour.repeat.window_days=60\nbehaviour.repeat.min_orders=2\n"
              "behaviour.big.window_days=90\nbehaviour.big.min_net_minor=20000\n"
              "behaviour.big.max_return_ratio=0.5\n")


def partition_of(customer_id):
    """librdkafka's consistent partitioner: CRC-32 of the key."""
    return zlib.crc32(customer_id.encode()) % PARTS


# --- Avro by hand (schemas/customer_event.avsc), for the poison messages ------

def zigzag(n):
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def a_str(s):
    b = s.encode()
    return zigzag(len(b)) + b


def frame(schema_id, payload):
    return b"\x00" + struct.pack(">i", schema_id) + payload


def avro_event(e):
    return (a_str(e["event_id"]) + zigzag(0 if e["type"] == "purchase" else 1) +
            a_str(e["customer_id"]) + a_str(e["order_id"]) + zigzag(e["event_time"]) +
            zigzag(e["amount_minor"]) + a_str(e["currency"]) + zigzag(e["items"]))


# --- HTTP -----------------------------------------------------------------------

def get(port, path, timeout=5):
    """(status, body) of GET http://127.0.0.1:port/path."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}",
                                    timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')


def scrape(port):
    """{(name, frozenset of (label, value)): value} of /metrics."""
    status, body = get(port, "/metrics")
    assert status == 200, body
    out = {}
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                      m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def series(samples, name):
    """{labels dict as sorted tuple: value} of one metric."""
    return {tuple(sorted(k[1])): v for k, v in samples.items() if k[0] == name}


def one(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def wait_until(what, fn, proc, timeout=90, interval=0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"hirefire run ended early:\n{proc.stderr.read()}"
        ok, last = fn()
        if ok:
            return last
        time.sleep(interval)
    pytest.fail(f"{what}: not reached after {timeout}s (last: {last})")


# --- The expected values: file replays per partition ----------------------------

def replay_partition(hirefire, cfg, events):
    """(outcome counts, signal counts by (behaviour, kind, cause), customers)."""
    data = "".join(json.dumps(e) + "\n" for e in events).encode()
    res = subprocess.run([hirefire, "replay", "-c", str(cfg), "-i", "-"], input=data,
                         capture_output=True, timeout=TIMEOUT)
    err = res.stderr.decode()
    assert res.returncode == 0, err
    m = re.search(r"events +read (\d+) +applied (\d+) +duplicate (\d+) +late (\d+) +"
                  r"invalid (\d+)", err)
    assert m, err
    outcomes = dict(zip(("applied", "duplicate", "late", "invalid"),
                        map(int, m.groups()[1:])))
    customers = int(re.search(r"customers +(\d+)", err).group(1))
    signals = {}
    for line in res.stdout.decode().splitlines():
        s = json.loads(line)
        key = (s["behaviour"], s["kind"], s["cause"])
        signals[key] = signals.get(key, 0) + 1
    return outcomes, signals, customers


def test_metrics_equal_the_replays(hirefire, kafka_server, tmp_path):
    k = kafka_server
    topic, signals_topic, dead_topic = "mh-in", "mh-signals", "mh-dead"
    k.create_topic(topic, PARTS)
    k.create_topic(signals_topic, PARTS)
    k.create_topic(dead_topic, 1)

    # The known events: generated, then duplicates of the last three events
    # (the newest ids of their customers) and an event years too late.
    gen = subprocess.run([hirefire, "gen", "-q", "--seed", "11", "--customers", "300",
                          "--events", "4000"], capture_output=True, text=True, check=True)
    events = [json.loads(line) for line in gen.stdout.splitlines()]
    late = dict(events[0], event_id="late-1", event_time=1577836800000)  # 2020-01-01
    events += [dict(e) for e in events[-3:]] + [late]
    events_file = tmp_path / "events.jsonl"
    events_file.write_text("".join(json.dumps(e) + "\n" for e in events))
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    res = subprocess.run([hirefire, "produce", "-q", "-i", str(events_file), "-t", topic,
                          "-b", k.bootstrap, "--schema-dir", str(schemas)],
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert res.returncode == 0, res.stderr

    good = dict(events[1], event_id="neg-1", amount_minor=-5)
    poisons = [  # (value, reason class)
        (b'{"event_id": "json-1"}', "decode"),         # wrong magic byte
        (frame(1, b"\x06abc\x02"), "decode"),           # truncated Avro datum
        (frame(99, avro_event(events[2])), "schema"),   # unknown schema id
        (frame(1, avro_event(good)), "invalid"),        # negative amount
    ]
    k.produce(topic, [(good["customer_id"], v) for v, _ in poisons])
    n_messages = len(events) + len(poisons)

    port = free_port()
    cfg = tmp_path / "run.properties"
    cfg.write_text(
        f"input.topics={topic}\ninput.format=avro\ninput.schema.dir={schemas}\n"
        f"output.topic={signals_topic}\noutput.format=json\n"
        f"dead_letter.topic={dead_topic}\nstore.backend=memory\n"
        "processing.guarantee=at_least_once\n"
        f"http.listen=127.0.0.1:{port}\n"
        f"kafka.bootstrap.servers={k.bootstrap}\nkafka.group.id=mh-1\n"
        "kafka.statistics.interval.ms=500\n" + BEHAVIOURS)

    # Expected: each partition's events in file (= offset) order, replayed.
    want_outcomes = {"applied": 0, "duplicate": 0, "late": 0, "invalid": 0}
    want_signals, want_customers, max_time = {}, 0, {}
    for p in range(PARTS):
        mine = [e for e in events if partition_of(e["customer_id"]) == p]
        outcomes, sigs, customers = replay_partition(hirefire, cfg, mine)
        for key, n in outcomes.items():
            want_outcomes[key] += n
        for key, n in sigs.items():
            want_signals[key] = want_signals.get(key, 0) + n
        want_customers += customers
        max_time[p] = max(e["event_time"] for e in mine)
    want_outcomes["invalid"] += len(poisons)
    assert want_outcomes["duplicate"] == 3 and want_outcomes["late"] == 1, want_outcomes
    assert sum(want_outcomes.values()) == n_messages
    assert {c for _, _, c in want_signals} == {"purchase", "return", "expiry"}, want_signals

    proc = subprocess.Popen([hirefire, "run", "-c", str(cfg), "--max-idle-ms", "10000"],
                            stderr=subprocess.PIPE, text=True)
    try:
        def caught_up():
            try:
                s = scrape(port)
            except (OSError, urllib.error.URLError) as e:
                return False, repr(e)
            total = sum(series(s, "hirefire_events_total").values())
            lags = series(s, "hirefire_consumer_lag")
            done = (total >= n_messages and len(lags) == PARTS and
                    all(v == 0 for v in lags.values()))
            return done, s if done else (total, lags)

        s = wait_until("caught up", caught_up, proc)
        now = time.time()

        got_events = {o: one(s, "hirefire_events_total", topic=topic, outcome=o)
                      for o in want_outcomes}
        assert got_events == want_outcomes
        got_signals = {(b, kd, c): one(s, "hirefire_signals_total", behaviour=b, kind=kd,
                                       cause=c)
                       for b in ("repeat", "big") for kd in ("hire", "fire")
                       for c in ("purchase", "return", "expiry")}
        assert got_signals == {key: want_signals.get(key, 0) for key in got_signals}
        assert sum(want_signals.values()) == len(k.consume(signals_topic))
        got_dead = {c: one(s, "hirefire_dead_letters_total", topic=topic, reason_class=c)
                    for c in ("decode", "schema", "invalid")}
        assert got_dead == {"decode": 2, "schema": 1, "invalid": 1}
        assert series(s, "hirefire_consumer_lag") == {
            (("partition", str(p)), ("topic", topic)): 0 for p in range(PARTS)}

        assert one(s, "hirefire_batch_size_sum") == n_messages
        assert one(s, "hirefire_batch_size_count") >= PARTS
        assert one(s, "hirefire_rebalances_total", type="assign") >= 1
        assert one(s, "hirefire_rebalances_total", type="revoke") == 0
        assert one(s, "hirefire_rebalances_total", type="lost") == 0
        assert [v for (n, _), v in s.items() if n == "hirefire_build_info"] == [1]

        # Gauges are refreshed about every second.
        def gauges():
            g = scrape(port)
            return one(g, "hirefire_customers_cached") == want_customers, g

        g = wait_until("customers cached", gauges, proc, timeout=10)
        for p in range(PARTS):
            lag = one(g, "hirefire_event_time_lag_seconds", partition=str(p))
            assert lag is not None, p
            assert abs(lag - (now - max_time[p] / 1000)) < 30, (p, lag)

        # Commits happen every commit.interval.ms: wait for one.
        wait_until("a commit", lambda: (
            (one(scrape(port), "hirefire_commit_latency_seconds_count") or 0) >= 1, None),
            proc, timeout=30)

        assert get(port, "/healthz") == (200, "ok\n")
        assert get(port, "/readyz") == (200, "ready\n")
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    m = re.search(r"(\d+) messages \(0 re-read\), (\d+) signals, (\d+) dead letters", err)
    assert m, err
    assert tuple(map(int, m.groups())) == (n_messages, sum(want_signals.values()),
                                          len(poisons))
    # The endpoint is gone with the process.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_ready_only_with_partitions(hirefire, kafka_server, tmp_path):
    k = kafka_server
    k.create_topic("mh1-in", 1)
    k.create_topic("mh1-signals", 1)
    k.create_topic("mh1-dead", 1)
    k.produce("mh1-in", [("c1", json.dumps({
        "event_id": "e1", "type": "purchase", "customer_id": "c1", "order_id": "o1",
        "event_time": 1704067200000, "amount_minor": 100, "currency": "EUR", "items": 1}))])
    ports = [free_port(), free_port()]
    procs = []

    def start(i):
        cfg = tmp_path / f"run{i}.properties"
        cfg.write_text(
            "input.topics=mh1-in\ninput.format=json\noutput.topic=mh1-signals\noutput.format=json\n"
            "dead_letter.topic=mh1-dead\nstore.backend=memory\n"
            "processing.guarantee=at_least_once\n"
            f"http.listen=127.0.0.1:{ports[i]}\n"
            f"kafka.bootstrap.servers={k.bootstrap}\nkafka.group.id=mh1\n"
            "behaviour.repeat.window_days=30\nbehaviour.repeat.min_orders=2\n")
        procs.append(subprocess.Popen([hirefire, "run", "-q", "-c", str(cfg)],
                                      stderr=subprocess.PIPE, text=True))

    def answer(i, path):
        try:
            return get(ports[i], path)
        except (OSError, urllib.error.URLError) as e:
            return None, repr(e)

    try:
        start(0)
        wait_until("first instance ready",
                   lambda: (answer(0, "/readyz") == (200, "ready\n"), answer(0, "/readyz")),
                   procs[0])
        start(1)

        # Joined (its assignment callback ran) and holding nothing: not ready.
        def joined():
            try:
                s = scrape(ports[1])
            except (OSError, urllib.error.URLError) as e:
                return False, repr(e)
            return (one(s, "hirefire_rebalances_total", type="assign") or 0) >= 1, s

        wait_until("second instance joined", joined, procs[1])
        assert answer(1, "/readyz") == (503, "not ready: no partitions assigned\n")
        assert answer(1, "/healthz") == (200, "ok\n")
        assert answer(0, "/readyz") == (200, "ready\n")

        # The first leaves: the second takes the partition over.
        procs[0].send_signal(signal.SIGTERM)
        _, err0 = procs[0].communicate(timeout=60)
        assert procs[0].returncode == 0, err0
        wait_until("second instance ready",
                   lambda: (answer(1, "/readyz") == (200, "ready\n"), answer(1, "/readyz")),
                   procs[1])
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.communicate(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.communicate()
    assert procs[1].returncode == 0, procs[1].stderr


def test_listen_address_in_use_fails_the_run(hirefire, kafka_server, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        res = subprocess.run([hirefire, "run", "-X", "input.topics=none",
                              "-X", "output.topic=x", "-X", "dead_letter.topic=y",
                              "-X", "processing.guarantee=at_least_once",
                              "-X", f"kafka.bootstrap.servers={kafka_server.bootstrap}",
                              "-X", f"http.listen=127.0.0.1:{port}"],
                             capture_output=True, text=True, timeout=TIMEOUT)
    assert res.returncode == 1, res.stderr
    assert res.stderr == (f"hirefire run: cannot listen on 127.0.0.1:{port}: "
                          "Address already in use\n")

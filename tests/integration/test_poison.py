"""Bad input never stops `hirefire run`: every kind of poison message lands in
the dead-letter topic with its original key, value and headers and the
hirefire.* headers, while every good event is processed (the signals, as
Confluent-framed Avro, equal a file replay of the good events).

Input is Confluent-framed Avro with writer schemas from input.schema.dir;
the Avro encoding and decoding here are written by hand from the schemas, so
they check hirefire's codecs independently.
"""

import json
import re
import shutil
import struct
import subprocess
import time
import zlib

from servers import kafka_server  # noqa: F401  (session fixture)

PARTS = 2
SIGNAL_SCHEMA_ID = 7


# --- Avro binary, by hand ----------------------------------------------------

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


def encode_event(e, with_customer=True):
    """A customer_event.avsc datum (or schema 2's: no customer_id field)."""
    return (a_str(e["event_id"]) + zigzag(0 if e["type"] == "purchase" else 1) +
            (a_str(e["customer_id"]) if with_customer else b"") +
            a_str(e.get("order_id", "")) + zigzag(e["event_time"]) +
            zigzag(e["amount_minor"]) + a_str(e.get("currency", "")) + zigzag(e["items"]))


def frame(schema_id, payload):
    return b"\x00" + struct.pack(">i", schema_id) + payload


class Reader:
    def __init__(self, b):
        self.b, self.i = b, 0

    def long(self):
        shift = n = 0
        while True:
            c = self.b[self.i]
            self.i += 1
            n |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                return (n >> 1) ^ -(n & 1)

    def str(self):
        n = self.long()
        s = self.b[self.i:self.i + n].decode()
        self.i += n
        return s


def decode_signal(value):
    """A framed switch_signal.avsc datum as the JSON signal would be."""
    assert value[0] == 0 and struct.unpack(">i", value[1:5])[0] == SIGNAL_SCHEMA_ID
    r = Reader(value[5:])
    s = {"signal_id": r.str(), "behaviour": r.str(), "customer_id": r.str(),
         "kind": ["hire", "fire"][r.long()],
         "cause": ["purchase", "return", "expiry"][r.long()],
         "effective_time": r.long()}
    s["metrics"] = {k: r.long() for k in ("orders", "items", "gross_minor",
                                          "returned_minor", "net_minor", "returns")}
    failing = []
    while True:
        n = r.long()
        if n == 0:
            break
        if n < 0:
            n = -n
            r.long()  # block size in bytes
        failing += [r.str() for _ in range(n)]
    s["failing"] = failing
    if r.long() == 0:
        s["trigger"] = None
    else:
        t = {"event_id": r.str()}
        for name, read in (("topic", r.str), ("partition", r.long), ("offset", r.long)):
            if r.long() == 1:
                t[name] = read()
        s["trigger"] = t
    assert r.i == len(r.b), "trailing bytes after the signal"
    return s


# --- the test ------------------------------------------------------------------

def partition_of(customer_id):
    return zlib.crc32(customer_id.encode()) % PARTS


def test_poison_messages_go_to_the_dead_letter_topic(hirefire, kafka_server, source_dir,
                                                     tmp_path):
    k = kafka_server
    for t, n in (("poison-in", PARTS), ("poison-signals", PARTS), ("poison-dead", 1)):
        k.create_topic(t, n)
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    shutil.copy(source_dir / "schemas" / "customer_event.avsc", schemas / "1.avsc")
    no_customer = json.loads((source_dir / "schemas" / "customer_event.avsc").read_text())
    no_customer["fields"] = [f for f in no_customer["fields"] if f["name"] != "customer_id"]
    (schemas / "2.avsc").write_text(json.dumps(no_customer))

    gen = subprocess.run([hirefire, "gen", "-q", "--seed", "3", "--customers", "60",
                          "--events", "600"], capture_output=True, text=True, check=True)
    good = [json.loads(line) for line in gen.stdout.splitlines()]
    bad_event = dict(good[0], event_id="bad-1", amount_minor=-5)
    poisons = [  # (key, value, exact reason)
        ("c0000001", b"\xff\x13garbage\x00bytes", "wrong magic byte 0xff (expected 0x00)"),
        ("c0000002", b"\x00\x00", "message is too short for the Avro frame (2 bytes)"),
        ("c0000003", json.dumps(good[1]).encode(), "wrong magic byte 0x7b (expected 0x00)"),
        ("c0000004", frame(99, encode_event(good[2])),
         f"unknown schema id 99: cannot read {schemas}/99.avsc: No such file or directory"),
        (bad_event["customer_id"], frame(1, encode_event(bad_event)),
         "amount_minor is negative (-5)"),
        ("c0000005", frame(2, encode_event(good[3], with_customer=False)),
         'schema id 2: writer schema has no field "customer_id"'),
        ("c0000006", frame(1, encode_event(dict(good[4], customer_id=""))),
         "customer_id is empty"),
        ("c0000007", frame(1, b"\x06abc\x02"),  # truncated datum
         "invalid Avro datum: it ends before the lengths it declares (5 bytes)"),
    ]
    chunks = [good[i::len(poisons)] for i in range(len(poisons))]
    produced_poison = []
    started_ms = int(time.time() * 1000)
    for i, (key, value, reason) in enumerate(poisons):
        k.produce("poison-in", [(e["customer_id"], frame(1, encode_event(e)))
                                for e in chunks[i]])
        part = i % PARTS
        k.produce("poison-in", [(key, value)], partition=part, headers=[("trace", f"t{i}")])
        produced_poison.append((key, value, reason, part, f"t{i}"))

    cfg = tmp_path / "run.properties"
    cfg.write_text(
        "input.topics=poison-in\ninput.format=avro\n"
        f"input.schema.dir={schemas}\n"
        "output.topic=poison-signals\noutput.format=avro\n"
        f"output.schema.id={SIGNAL_SCHEMA_ID}\n"
        "dead_letter.topic=poison-dead\nstore.backend=memory\n"
        "processing.guarantee=at_least_once\nhttp.listen=\n"
        f"kafka.bootstrap.servers={k.bootstrap}\nkafka.group.id=poison-1\n"
        "behaviour.repeat.window_days=30\nbehaviour.repeat.min_orders=2\n")
    res = subprocess.run([hirefire, "run", "-c", str(cfg), "--max-idle-ms", "1500"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    finished_ms = int(time.time() * 1000)
    m = re.search(r"(\d+) messages \(0 re-read\), (\d+) signals, (\d+) dead letters",
                  res.stderr)
    assert m, res.stderr
    assert int(m.group(1)) == len(good) + len(poisons)
    assert int(m.group(3)) == len(poisons)

    # Every poison in the dead-letter topic, as it was, with the hirefire headers.
    inputs = k.consume("poison-in", text=False)
    dead = k.consume("poison-dead", text=False)
    assert len(dead) == len(poisons)
    by_trace = {dict(d.headers)["trace"]: d for d in dead}
    for key, value, reason, part, trace in produced_poison:
        d = by_trace[trace]
        h = dict(d.headers)
        src = [r for r in inputs if r.value == value and r.partition == part]
        assert len(src) == 1
        assert d.key == key.encode() and d.value == value
        assert [n for n, _ in d.headers] == [
            "trace", "hirefire.error", "hirefire.source.topic", "hirefire.source.partition",
            "hirefire.source.offset", "hirefire.time"]
        assert h["hirefire.error"] == reason
        assert h["hirefire.source.topic"] == "poison-in"
        assert h["hirefire.source.partition"] == str(part)
        assert h["hirefire.source.offset"] == str(src[0].offset)
        assert started_ms <= int(h["hirefire.time"]) <= finished_ms

    # Every good event processed: the Avro signals equal a file replay.
    signals = {p: [] for p in range(PARTS)}
    for r in k.consume("poison-signals", text=False):
        s = decode_signal(r.value)
        assert r.key.decode() == s["customer_id"]
        signals[r.partition].append(s)
    assert sum(len(v) for v in signals.values()) == int(m.group(2)) > 0
    events = {frame(1, encode_event(e)): e for e in good}
    for p in range(PARTS):
        mine = [events[r.value] for r in inputs if r.partition == p and r.value in events]
        data = "".join(json.dumps(e) + "\n" for e in mine).encode()
        rep = subprocess.run([hirefire, "replay", "-q", "-c", str(cfg), "-i", "-"],
                             input=data, capture_output=True, timeout=60)
        assert rep.returncode == 0, rep.stderr
        expected = [json.loads(line) for line in rep.stdout.decode().splitlines()]
        got = []
        for s in signals[p]:
            if s["trigger"] is not None:
                t = s["trigger"]
                assert (t["topic"], t["partition"]) == ("poison-in", p)
                s = dict(s, trigger={"event_id": t["event_id"]})
            got.append(s)
        assert got == expected, f"partition {p}"

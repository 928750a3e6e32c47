"""`hirefire inspect` against a real redis-server holding a small fixture.

The fixture is written here with the RESP client, in the key layout of
processor/redis/store_redis.h, and its customer states with an encoder of the
state format written from processor/core/state.c's description (so the binary's
decoder is checked against an independent encoder). Partitions get one
bucket, so no XXH3 is needed to place a customer. Output is compared
exactly.
"""

import json
import subprocess

import pytest

import servers

GROUP = "shop"
BEHAVIOURS = [
    "-X", "behaviour.repeat.window_days=90",
    "-X", "behaviour.repeat.min_orders=2",
    "-X", "behaviour.monthly.window_days=30",
    "-X", "behaviour.monthly.min_orders=2",
    "-X", "behaviour.monthly.min_net_minor=2500",
]


# --- the state encoding (state.c, version 1) ---------------------------------

def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def zigzag(v):
    return (v << 1) ^ (v >> 63)


def encode_state(target, flips, recent, days):
    """days: (day, orders, returns, items, gross, returned) ascending."""
    out = bytearray([1])
    out += varint(len(flips)) + varint(target)
    for f in flips:
        out += varint(f)
    out += varint(len(recent))
    for h in recent:
        out += h.to_bytes(6, "little")
    out += varint(len(days))
    prev = None
    for day, orders, returns, items, gross, returned in days:
        out += varint(zigzag(day) if prev is None else day - prev)
        prev = day
        out += varint(orders) + varint(returns)
        if orders:
            out += varint(items) + varint(gross)
        if returns:
            out += varint(returned)
    return bytes(out)


C1 = encode_state(0b01, [1, 0], [0x010203040506, 0xA0B0C0D0E0F0, 7],
                  [(20000, 1, 0, 2, 1999, 0),
                   (20003, 1, 1, 1, 500, 300),
                   (20010, 0, 1, 0, 0, 200)])
C2 = encode_state(0b11, [3, 1], [], [(20020, 3, 0, 3, 9000, 0)])


@pytest.fixture(scope="module")
def redis():
    with servers.redis() as r:
        t0, t1 = f"hf:{{{GROUP}:0}}", f"hf:{{{GROUP}:1}}"
        r.command("HSET", f"{t0}:meta", "layout", "1", "epoch", "3", "batch", "2",
                  "clock", "20027", "outbox_seq", "5", "buckets", "1",
                  "customers", "2", "applied:purchases", "41",
                  "applied:returns", "7")
        r.command("HSET", f"{t0}:c:0", "c1", C1)
        r.command("HSET", f"{t0}:big:0", "c2", C2)
        r.command("RPUSH", f"{t0}:outbox", b"0000000000000005\x02c2{}")
        r.command("HSET", f"{t1}:meta", "layout", "1", "epoch", "1", "batch", "0",
                  "buckets", "1")
        # another group, and a partition of ours that is not a number
        r.command("HSET", "hf:{other:0}:meta", "epoch", "1", "buckets", "1")
        r.command("HSET", "hf:{other:0}:c:0", "c9", C2)
        r.command("HSET", f"hf:{{{GROUP}:x}}:meta", "epoch", "1", "buckets", "1")
        yield r


def inspect(hirefire, redis, *args, group=GROUP):
    argv = [hirefire, "inspect", *args, "-X", f"redis.url={redis.url}",
            "-X", f"kafka.group.id={group}", *BEHAVIOURS]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def dumps(obj):
    return json.dumps(obj, indent=2) + "\n"


def day(d, date):
    return {"day": d, "date": date}


C1_JSON = {
    "customer_id": "c1",
    "group": GROUP,
    "partition": 0,
    "key": f"hf:{{{GROUP}:0}}:c:0",
    "state_bytes": len(C1),
    "clock": day(20027, "2024-10-31"),
    "recent_event_ids": 3,
    "days": [
        {**day(20000, "2024-10-04"), "orders": 1, "items": 2, "gross_minor": 1999,
         "returns": 0, "returned_minor": 0},
        {**day(20003, "2024-10-07"), "orders": 1, "items": 1, "gross_minor": 500,
         "returns": 1, "returned_minor": 300},
        {**day(20010, "2024-10-14"), "orders": 0, "items": 0, "gross_minor": 0,
         "returns": 1, "returned_minor": 200},
    ],
    "behaviours": [
        {"name": "repeat", "window_days": 90, "class": "target",
         "metrics": {"orders": 2, "items": 3, "gross_minor": 2499,
                     "returned_minor": 500, "net_minor": 1999, "returns": 2},
         "failing": [], "next_expiry": day(20090, "2025-01-02"), "flips": 1},
        {"name": "monthly", "window_days": 30, "class": "non-target",
         "metrics": {"orders": 2, "items": 3, "gross_minor": 2499,
                     "returned_minor": 500, "net_minor": 1999, "returns": 2},
         # the days leaving on 20030, 20033 and 20040 leave net 0, -200 and
         # 0: never 2500, so no expiry can hire c1 and none is due
         "failing": ["min_net_minor"], "next_expiry": None,
         "flips": 0},
    ],
}


def test_customer_exact(hirefire, redis):
    res = inspect(hirefire, redis, "customer", "c1")
    assert res.stderr == ""
    assert res.returncode == 0
    assert res.stdout == dumps(C1_JSON)


def test_customer_one_behaviour_in_a_given_partition(hirefire, redis):
    res = inspect(hirefire, redis, "customer", "c1", "--behaviour", "monthly",
                  "--partition", "0")
    assert res.returncode == 0, res.stderr
    want = dict(C1_JSON, behaviours=[C1_JSON["behaviours"][1]])
    assert res.stdout == dumps(want)


def test_customer_in_a_big_hash(hirefire, redis):
    res = inspect(hirefire, redis, "customer", "c2", "-b", "repeat")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["key"] == f"hf:{{{GROUP}:0}}:big:0"
    assert out["days"] == [{**day(20020, "2024-10-24"), "orders": 3, "items": 3,
                            "gross_minor": 9000, "returns": 0,
                            "returned_minor": 0}]
    assert out["recent_event_ids"] == 0
    assert out["behaviours"] == [
        {"name": "repeat", "window_days": 90, "class": "target",
         "metrics": {"orders": 3, "items": 3, "gross_minor": 9000,
                     "returned_minor": 0, "net_minor": 9000, "returns": 0},
         "failing": [], "next_expiry": day(20110, "2025-01-22"), "flips": 3}]


def test_partition_exact(hirefire, redis):
    res = inspect(hirefire, redis, "partition", "0")
    assert res.stderr == ""
    assert res.returncode == 0
    assert res.stdout == dumps({
        "group": GROUP, "partition": 0, "key_tag": f"hf:{{{GROUP}:0}}",
        "epoch": 3, "batch": 2, "clock": day(20027, "2024-10-31"),
        "applied": {"purchases": 41, "returns": 7},
        "outbox_seq": 5, "outbox_length": 1, "customers": 2,
        "customers_compact": 1, "customers_big": 1, "buckets": 1})


def test_partition_without_clock(hirefire, redis):
    res = inspect(hirefire, redis, "partition", "1")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["clock"] is None
    assert out["applied"] == {}
    assert out["customers"] == 0


def test_not_found(hirefire, redis):
    res = inspect(hirefire, redis, "customer", "nobody")
    assert (res.returncode, res.stdout) == (1, "")
    assert res.stderr == ('hirefire inspect: customer "nobody" not found in group '
                          '"shop" (partitions searched: 0, 1)\n')
    res = inspect(hirefire, redis, "customer", "c1", "--partition", "1")
    assert res.returncode == 1
    assert res.stderr == ('hirefire inspect: customer "c1" not found in partition 1 '
                          'of group "shop"\n')
    res = inspect(hirefire, redis, "partition", "7")
    assert res.returncode == 1
    assert res.stderr == (f'hirefire inspect: partition 7 of group "shop" has no state '
                          f'in Redis at 127.0.0.1:{redis.port} (redis.key.prefix "hf")\n')
    res = inspect(hirefire, redis, "customer", "c1", group="nogroup")
    assert res.returncode == 1
    assert res.stderr == (f'hirefire inspect: group "nogroup" has no state in Redis at '
                          f'127.0.0.1:{redis.port} (redis.key.prefix "hf")\n')


def test_usage_errors(hirefire, redis):
    cases = [
        (["customer", "c1", "--behaviour", "nope"],
         'hirefire inspect: unknown behaviour "nope" (configured: repeat, monthly)\n'),
        (["customer", "c1", "--partition", "-1"],
         'hirefire inspect: --partition must be a partition number (0 or more), '
         'got "-1"\n'),
        (["partition", "x"],
         'hirefire inspect: partition must be a partition number (0 or more), got "x"\n'),
        (["partition", "0", "--behaviour", "repeat"],
         "hirefire inspect: --behaviour and --partition are for inspect customer\n"),
        (["customer"], "hirefire inspect: customer needs a customer id\n"),
        (["partition"], "hirefire inspect: partition needs a partition number\n"),
        (["customers", "c1"],
         'hirefire inspect: unknown subject "customers": expected customer or partition\n'),
        ([], "hirefire inspect: say what to inspect: customer ID or partition P "
             "(see hirefire inspect --help)\n"),
        (["customer", "c1", "c2"], 'hirefire inspect: unexpected argument "c2"\n'),
        (["customer", "c1", "--bogus"],
         "hirefire inspect: unknown option --bogus (see hirefire inspect --help)\n"),
    ]
    for args, err in cases:
        res = inspect(hirefire, redis, *args)
        assert (res.returncode, res.stdout, res.stderr) == (2, "", err), args


def test_configuration_and_connection_errors(hirefire, redis):
    res = subprocess.run([hirefire, "inspect", "partition", "0", "-X",
                          "redis.url=redis://:secret@127.0.0.1:99999"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert res.stderr == (
        'hirefire inspect: redis.url "redis://:***@127.0.0.1:99999": bad port "99999"; '
        "expected redis://[[user]:password@]host[:port][/db] or unix:///path[?db=N]\n")
    port = servers.free_port()
    res = subprocess.run([hirefire, "inspect", "partition", "0", "-X",
                          f"redis.url=redis://127.0.0.1:{port}"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert res.stderr == (f"hirefire inspect: cannot connect to Redis at "
                          f"127.0.0.1:{port}: Connection refused\n")
    res = subprocess.run([hirefire, "inspect", "partition", "0", "-X", "nope=1"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert res.stderr == 'hirefire: -X: unknown key "nope"\n'


def test_help(hirefire):
    res = subprocess.run([hirefire, "inspect", "--help"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0
    assert res.stdout.startswith(
        "Usage: hirefire inspect customer ID [--behaviour B] [--partition P]\n")
    assert "Exit status: 0 found, 1 not found or Redis failed" in res.stdout

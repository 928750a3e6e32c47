"""Tests of scripts/import: the real data sets (exact, pinned counts and
lines) and small hand-made inputs (grouping, returns, pence rounding, UK
summer time, skipped rows, errors).

The real data is read from $HF_DATA_DIR, else <source>/../shared/data; the
tests that need it are skipped when it is not there. The hand-made tests need
nothing. The last tests feed the output to `hirefire replay` (skipped without
a binary, see conftest.py).
"""

import collections
import hashlib
import json
import lzma
import os
import pathlib
import subprocess
import sys
import time

import pytest

from conftest import SOURCE_DIR

SCRIPT = SOURCE_DIR / "scripts" / "import"
DATA_DIR = pathlib.Path(os.environ.get("HF_DATA_DIR") or SOURCE_DIR.parent / "shared" / "data")


def run_import(*args, env=None, check=True):
    """Runs scripts/import; returns the CompletedProcess (text)."""
    full_env = dict(os.environ)
    full_env.pop("HF_DATA_DIR", None)
    full_env.update(env or {})
    proc = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True,
                          env=full_env, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def data_file(name):
    path = DATA_DIR / name
    if not path.is_file():
        pytest.skip(f"real data not found: {path} (set HF_DATA_DIR)")
    return path


def events_of(stdout):
    return [json.loads(line) for line in stdout.splitlines()]


def check_stream(events):
    """Properties every output has: the SEMANTICS.md fields, valid values,
    sorted by time, unique ids. Returns (purchases, returns, customers)."""
    fields = ["event_id", "type", "customer_id", "order_id", "event_time",
              "amount_minor", "currency", "items"]
    for e in events:
        assert list(e) == fields
        assert e["type"] in ("purchase", "return")
        assert e["customer_id"] != ""
        assert isinstance(e["event_time"], int)
        assert isinstance(e["amount_minor"], int) and e["amount_minor"] >= 0
        assert isinstance(e["items"], int) and e["items"] >= 0
    times = [e["event_time"] for e in events]
    assert times == sorted(times)
    assert len({e["event_id"] for e in events}) == len(events)
    kinds = collections.Counter(e["type"] for e in events)
    return kinds["purchase"], kinds["return"], len({e["customer_id"] for e in events})


#--- the real data -----------------------------------------------------------

def test_online_retail_real_data():
    path = data_file("online_retail.csv.xz")
    start = time.monotonic()
    proc = run_import("online-retail")
    elapsed = time.monotonic() - start
    print(f"online-retail import: {elapsed:.2f} s")
    assert elapsed < 60, f"import took {elapsed:.1f} s"

    assert proc.stderr == (
        f"import online-retail: {path}\n"
        "rows read: 541909\n"
        "rows skipped: 135087\n"
        "  no_customer: 135080\n"
        "  negative_price: 0\n"
        "  malformed: 0\n"
        "  adjustment: 0 (0 invoices)\n"
        "  mixed_customers: 0 (0 invoices)\n"
        "  zero_amount: 7 (4 invoices)\n"
        "events written: 22186 (purchases 18532, returns 3654)\n"
        "customers: 4371\n"
        "time range: 2010-12-01T08:26:00Z .. 2011-12-09T12:50:00Z\n")
    lines = proc.stdout.splitlines()
    assert len(lines) == 22186
    assert lines[0] == (
        '{"event_id":"or-536365","type":"purchase","customer_id":"17850",'
        '"order_id":"536365","event_time":1291191960000,"amount_minor":13912,'
        '"currency":"GBP","items":40}')
    assert lines[-1] == (
        '{"event_id":"or-581587","type":"purchase","customer_id":"12680",'
        '"order_id":"581587","event_time":1323435000000,"amount_minor":24945,'
        '"currency":"GBP","items":105}')
    events = events_of(proc.stdout)
    assert check_stream(events) == (18532, 3654, 4371)
    assert sum(e["amount_minor"] for e in events if e["type"] == "purchase") == 891140790
    assert sum(e["amount_minor"] for e in events if e["type"] == "return") == 61134209
    # A summer invoice: 2011-06-01 07:37 in London is 06:37 UTC.
    by_id = {e["event_id"]: e for e in events}
    assert by_id["or-555156"]["event_time"] == 1306910220000
    # The zero-amount invoices are left out.
    for number in ("543599", "564651", "568384", "578841"):
        assert "or-" + number not in by_id
    assert hashlib.sha256(proc.stdout.encode()).hexdigest() == \
        "4fc97193aceeacc158aa4aab95780f910fb719008d9804103383ab28fd386d25"


def test_cdnow_master_real_data():
    path = data_file("cdnow_master.txt.xz")
    proc = run_import("cdnow")
    assert proc.stderr == (
        f"import cdnow: {path}\n"
        "rows read: 69659\n"
        "rows skipped: 0\n"
        "  malformed: 0\n"
        "events written: 67591 (purchases 67591, returns 0)\n"
        "customers: 23570\n"
        "time range: 1997-01-01T12:00:00Z .. 1998-06-30T12:00:00Z\n")
    lines = proc.stdout.splitlines()
    assert len(lines) == 67591
    assert lines[0] == (
        '{"event_id":"cd-00001-19970101","type":"purchase","customer_id":"00001",'
        '"order_id":"cd-00001-19970101","event_time":852120000000,"amount_minor":1177,'
        '"currency":"USD","items":1}')
    assert lines[-1] == (
        '{"event_id":"cd-23149-19980630","type":"purchase","customer_id":"23149",'
        '"order_id":"cd-23149-19980630","event_time":899208000000,"amount_minor":3048,'
        '"currency":"USD","items":2}')
    events = events_of(proc.stdout)
    assert check_stream(events) == (67591, 0, 23570)
    # Customer 00002 bought twice on 1997-01-12: 1 + 5 CDs, 12.00 + 77.00.
    day = [e for e in events if e["event_id"] == "cd-00002-19970112"]
    assert [(d["items"], d["amount_minor"]) for d in day] == [(6, 8900)]
    assert sum(1 for e in events if e["amount_minor"] == 0) == 80
    assert hashlib.sha256(proc.stdout.encode()).hexdigest() == \
        "9fd105f9badcc0c9455ed32e77ac4f06eac24492892dbc7516e4adb4cf93441d"


def test_cdnow_sample_real_data():
    path = data_file("cdnow_sample.txt")
    proc = run_import("cdnow", "--sample")
    assert proc.stderr == (
        f"import cdnow --sample: {path}\n"
        "rows read: 6919\n"
        "rows skipped: 0\n"
        "  malformed: 0\n"
        "events written: 6696 (purchases 6696, returns 0)\n"
        "customers: 2357\n"
        "time range: 1997-01-01T12:00:00Z .. 1998-06-30T12:00:00Z\n")
    lines = proc.stdout.splitlines()
    assert len(lines) == 6696
    assert lines[0] == (
        '{"event_id":"cd-00004-19970101","type":"purchase","customer_id":"00004",'
        '"order_id":"cd-00004-19970101","event_time":852120000000,"amount_minor":2933,'
        '"currency":"USD","items":2}')
    assert lines[-1] == (
        '{"event_id":"cd-08022-19980630","type":"purchase","customer_id":"08022",'
        '"order_id":"cd-08022-19980630","event_time":899208000000,"amount_minor":20057,'
        '"currency":"USD","items":10}')
    assert check_stream(events_of(proc.stdout)) == (6696, 0, 2357)
    assert hashlib.sha256(proc.stdout.encode()).hexdigest() == \
        "a0c7157b414569bf7d82feb551bf40e2d1afef42eef07f72e4e285337a0a8c38"


#--- hand-made Online Retail input -------------------------------------------

RETAIL_CSV = """\
InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
1001,22001,"PENS, BLUE",3,2011-06-15 10:01:00,0.29,12345.0,United Kingdom
1001,22002,CUP,2,2011-06-15 10:00:00,1.25,12345.0,United Kingdom
1002,22003,PEN,1,2011-01-10 10:00:00,0.005,777,France
1002,22004,PENCIL,1,2011-01-10 10:00:00,0.015,777,France
C1001,22001,"PENS, BLUE",-2,2011-06-16 09:30:00,0.29,12345,United Kingdom
C1001,22002,CUP,-1,2011-06-16 09:30:00,1.25,12345,United Kingdom
1001,POST,FREE GIFT,1,2011-06-15 10:01:00,0,12345.0,United Kingdom
1003,22005,ANON,1,2011-06-15 11:00:00,1.00,,United Kingdom
A1004,B,Adjust bad debt,1,2011-06-15 11:00:00,-5.00,12345,United Kingdom
1005,22006,BOX,x,2011-06-15 11:00:00,1.00,555,United Kingdom
1005,22006,BOX,1,2011-13-15 11:00:00,1.00,555,United Kingdom
1005,22006,BOX,1,2011-06-15 11:00:00,1.00,555
1006,22007,LAMP,-3,2011-06-15 12:00:00,1.00,555,United Kingdom
1006,22008,BULB,2,2011-06-15 12:00:00,1.00,555,United Kingdom
C1007,22007,LAMP,4,2011-06-15 12:00:00,1.00,555,United Kingdom
1008,22009,MUG,1,2011-06-15 12:00:00,1.00,1,United Kingdom
1008,22009,MUG,1,2011-06-15 12:00:00,1.00,2,United Kingdom
1009,22010,SAMPLE,16,2011-06-15 12:00:00,0,888,United Kingdom
1011,22011,BAG,1,2011-07-01 12:00:00,2.00,999,United Kingdom
1010,22012,HAT,2,2011-07-01 12:00:00,3.50,998,United Kingdom
1012,22013,CLOCK,1,2011-10-30 01:30:00,10.00,12345,United Kingdom
"""


def ev(eid, typ, cust, order, t, amount, items, currency="GBP"):
    return (f'{{"event_id":"{eid}","type":"{typ}","customer_id":"{cust}",'
            f'"order_id":"{order}","event_time":{t},"amount_minor":{amount},'
            f'"currency":"{currency}","items":{items}}}')


RETAIL_EVENTS = [
    # 2011-01-10 10:00 GMT; 1 x 0.005 = 0.5p -> 1 and 1 x 0.015 = 1.5p -> 2
    # (half up, line by line).
    ev("or-1002", "purchase", "777", "1002", 1294653600000, 3, 2),
    # Lines 2, 3 and 8 (not adjacent): 3 x 0.29 = 87p, 2 x 1.25 = 250p, a
    # free gift of 0p; the earliest time, 10:00 BST, is 09:00 UTC.
    ev("or-1001", "purchase", "12345", "1001", 1308128400000, 337, 6),
    # The cancellation: positive amount and items, 09:30 BST = 08:30 UTC.
    ev("or-C1001", "return", "12345", "C1001", 1308213000000, 183, 3),
    # Same time: file order (1011 before 1010).
    ev("or-1011", "purchase", "999", "1011", 1309518000000, 200, 1),
    ev("or-1010", "purchase", "998", "1010", 1309518000000, 700, 2),
    # 01:30 on 2011-10-30 happens twice in London: the first (BST) is taken.
    ev("or-1012", "purchase", "12345", "1012", 1319934600000, 1000, 1),
]


def retail_stderr(path):
    return (
        f"import: {path}:11: bad number in 'x'/'1.00'\n"
        f"import: {path}:12: bad InvoiceDate '2011-13-15 11:00:00'\n"
        f"import: {path}:13: 7 columns, expected 8\n"
        f"import online-retail: {path}\n"
        "rows read: 21\n"
        "rows skipped: 11\n"
        "  no_customer: 1\n"
        "  negative_price: 1\n"
        "  malformed: 3\n"
        "  adjustment: 3 (2 invoices)\n"
        "  mixed_customers: 2 (1 invoices)\n"
        "  zero_amount: 1 (1 invoices)\n"
        "events written: 6 (purchases 5, returns 1)\n"
        "customers: 4\n"
        "time range: 2011-01-10T10:00:00Z .. 2011-10-30T00:30:00Z\n")


def test_online_retail_hand_made_csv(work_dir):
    path = work_dir / "retail.csv"
    path.write_text(RETAIL_CSV)
    proc = run_import("online-retail", "--input", str(path))
    assert proc.stdout.splitlines() == RETAIL_EVENTS
    assert proc.stderr == retail_stderr(path)


def test_online_retail_xz_to_output_file(work_dir):
    path = work_dir / "retail.csv.xz"
    path.write_bytes(lzma.compress(RETAIL_CSV.encode()))
    out = work_dir / "events.jsonl"
    proc = run_import("online-retail", "--input", str(path), "--output", str(out))
    assert proc.stdout == ""
    assert proc.stderr == retail_stderr(path)
    assert out.read_text() == "".join(line + "\n" for line in RETAIL_EVENTS)
    assert not (work_dir / "events.jsonl.tmp").exists()


def test_online_retail_data_dir_from_env_and_input_dir(work_dir):
    path = work_dir / "online_retail.csv.xz"
    path.write_bytes(lzma.compress(RETAIL_CSV.encode()))
    by_env = run_import("online-retail", env={"HF_DATA_DIR": str(work_dir)})
    by_dir = run_import("online-retail", "--input", str(work_dir))
    assert by_env.stdout.splitlines() == RETAIL_EVENTS
    assert by_dir.stdout.splitlines() == RETAIL_EVENTS
    assert by_env.stderr == by_dir.stderr == retail_stderr(path)


def test_online_retail_errors(work_dir):
    missing = work_dir / "nope"
    proc = run_import("online-retail", "--input", str(missing), check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == \
        (1, "", f"import: {missing}: no such file\n")

    bad = work_dir / "bad.csv"
    bad.write_text("Invoice,Stock\n1,2\n")
    proc = run_import("online-retail", "--input", str(bad), check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", (
        f"import: {bad}: unexpected header 'Invoice,Stock', expected "
        "'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,"
        "CustomerID,Country'\n"))

    corrupt = work_dir / "corrupt.csv.xz"
    corrupt.write_bytes(b"not xz at all")
    proc = run_import("online-retail", "--input", str(corrupt), check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == \
        (1, "", f"import: {corrupt}: Input format not supported by decoder\n")

    out = work_dir / "no-such-dir" / "events.jsonl"
    good = work_dir / "retail.csv"
    good.write_text(RETAIL_CSV)
    proc = run_import("online-retail", "--input", str(good), "--output", str(out),
                      check=False)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.endswith(f"import: {out}: No such file or directory\n")


def test_usage_errors_and_help():
    proc = run_import(check=False)
    assert proc.returncode == 2
    assert proc.stderr.endswith(
        "error: the following arguments are required: DATASET\n")
    proc = run_import("cdnow", "--bogus", check=False)
    assert proc.returncode == 2
    assert proc.stderr.endswith("error: unrecognized arguments: --bogus\n")
    proc = run_import("online-retail", "--help")
    assert "hirefire replay --input FILE" in proc.stdout
    assert "zero_amount" in proc.stdout and "adjustment" in proc.stdout


def test_missing_time_zone_data_is_a_clear_error(work_dir):
    probe = subprocess.run([sys.executable, "-c", "import tzdata"],
                           capture_output=True)
    if probe.returncode == 0:
        pytest.skip("the Python package tzdata is installed: zones always load")
    path = work_dir / "retail.csv"
    path.write_text(RETAIL_CSV)
    proc = run_import("online-retail", "--input", str(path), check=False,
                      env={"PYTHONTZPATH": str(work_dir / "no-zones")})
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.startswith(
        "import: cannot load the time zone Europe/London (ZoneInfoNotFoundError: ")
    assert proc.stderr.endswith(
        "install the system time zone data (Debian: apt-get install tzdata) "
        "or the Python package tzdata\n")


#--- hand-made CDNOW input ---------------------------------------------------

CDNOW_MASTER = """\
 customer_id  date number_of_cds  dollar_value
 00002 19970112  1   12.00
 00001 19970101  1   11.77
 00002 19970112  5   77.005
 00003 1997xx01  1    1.00
 00003 19970230  1    1.00
 00004 19970105 -1    5.00
 00005 19970101  1    0.00
 00006 19970101  1
"""


def test_cdnow_hand_made(work_dir):
    path = work_dir / "master.txt.xz"
    path.write_bytes(lzma.compress(CDNOW_MASTER.encode()))
    proc = run_import("cdnow", "--input", str(path))
    assert proc.stdout.splitlines() == [
        ev("cd-00001-19970101", "purchase", "00001", "cd-00001-19970101",
           852120000000, 1177, 1, "USD"),
        # Zero dollars: kept (a recorded purchase).
        ev("cd-00005-19970101", "purchase", "00005", "cd-00005-19970101",
           852120000000, 0, 1, "USD"),
        # Two rows of one day summed: 12.00 + 77.005 = 89.005 -> 8901 cents.
        ev("cd-00002-19970112", "purchase", "00002", "cd-00002-19970112",
           853070400000, 8901, 6, "USD"),
    ]
    assert proc.stderr == (
        f"import: {path}:5: bad date '1997xx01'\n"
        f"import: {path}:6: bad date '19970230'\n"
        f"import: {path}:7: negative value in '-1'/'5.00'\n"
        f"import: {path}:9: 3 columns, expected 4\n"
        f"import cdnow: {path}\n"
        "rows read: 8\n"
        "rows skipped: 4\n"
        "  malformed: 4\n"
        "events written: 3 (purchases 3, returns 0)\n"
        "customers: 3\n"
        "time range: 1997-01-01T12:00:00Z .. 1997-01-12T12:00:00Z\n")


def test_cdnow_sample_format(work_dir):
    path = work_dir / "sample.txt"
    path.write_text(" 00004 0001 19970118  2   29.73\n"
                    " 00004 0001 19970101  2   29.33\n"
                    " 00021 0002 19970101  3   63.34\n")
    proc = run_import("cdnow", "--sample", "--input", str(path))
    assert proc.stdout.splitlines() == [
        ev("cd-00004-19970101", "purchase", "00004", "cd-00004-19970101",
           852120000000, 2933, 2, "USD"),
        ev("cd-00021-19970101", "purchase", "00021", "cd-00021-19970101",
           852120000000, 6334, 3, "USD"),
        ev("cd-00004-19970118", "purchase", "00004", "cd-00004-19970118",
           853588800000, 2973, 2, "USD"),
    ]
    assert proc.stderr.splitlines()[1:3] == ["rows read: 3", "rows skipped: 0"]
    # The master format rejects the sample's five columns.
    proc = run_import("cdnow", "--input", str(path))
    assert proc.stdout == ""
    assert proc.stderr.splitlines()[0] == f"import: {path}:1: 5 columns, expected 4"


#--- the output through hirefire ---------------------------------------------

def test_hirefire_replay_reads_the_output(hirefire, work_dir):
    src = work_dir / "retail.csv"
    src.write_text(RETAIL_CSV)
    events = work_dir / "events.jsonl"
    run_import("online-retail", "--input", str(src), "--output", str(events))
    dead = work_dir / "dead.jsonl"
    proc = subprocess.run([hirefire, "replay", "--input", str(events), "--output",
                           str(work_dir / "signals.jsonl"), "--dead-letter", str(dead),
                           "--quiet"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert dead.read_text() == ""


def test_hirefire_replay_reads_the_real_data(hirefire, work_dir):
    data_file("online_retail.csv.xz")
    events = work_dir / "events.jsonl"
    run_import("online-retail", "--output", str(events))
    dead = work_dir / "dead.jsonl"
    proc = subprocess.run([hirefire, "replay", "--input", str(events), "--output",
                           str(work_dir / "signals.jsonl"), "--dead-letter", str(dead),
                           "--quiet"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert dead.read_text() == ""

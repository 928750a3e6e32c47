"""`hirefire audience` against an independent computation of the same lists.

The expected rows come from the reference model of SEMANTICS.md
(tests/model/semantics_model.py): it replays the same lines (up to the first
valid event after --as-of, then advances its clock to that day), and this
file reads the audience off the model's pairs and signals: the class at the
day, the window metrics at the day, the thresholds that fail, the time of
the signal that put the customer there, and the days since its last
accepted event while that is inside the longest window. Inputs: the Online
Retail year (real data, with returns) and generated adversarial streams.
"""

import csv
import datetime
import io
import json
import subprocess

import pytest

import gen_events
import semantics_model
from semantics_model import MS_PER_DAY, Behaviour

COLUMNS = ["behaviour", "customer_id", "status", "since", "orders", "items", "gross_minor",
           "returned_minor", "net_minor", "returns", "failing", "days_since_last_event"]
RETAIL_BEHAVIOURS = [
    Behaviour("repeat", window_days=90, min_orders=2),
    Behaviour("valuable", window_days=90, min_orders=None, min_net_minor=50000,
              max_return_ratio=0.5),
    Behaviour("loyal", window_days=365, min_orders=4),
]


# --- the independent computation ----------------------------------------------

def day_of_date(text):
    return (datetime.date.fromisoformat(text) - datetime.date(1970, 1, 1)).days


def iso(ms):
    t = datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def rank(seed, customer):
    """splitmix64(fnv1a64(seed as 8 little-endian bytes, customer_id bytes))."""
    h = 0xcbf29ce484222325
    for byte in seed.to_bytes(8, "little") + customer.encode():
        h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    h = (h + 0x9e3779b97f4a7c15) & 0xFFFFFFFFFFFFFFFF
    h = ((h ^ (h >> 30)) * 0xbf58476d1ce4e5b9) & 0xFFFFFFFFFFFFFFFF
    h = ((h ^ (h >> 27)) * 0x94d049bb133111eb) & 0xFFFFFFFFFFFFFFFF
    return h ^ (h >> 31)


class Run:
    """The model after the lines of one audience run."""

    def __init__(self, behaviours, lines, as_of=None):
        self.behaviours = behaviours
        self.model = semantics_model.Model(behaviours)
        self.last_day = {}
        for line in lines:
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            valid = line.strip(" \t\r") != "" and semantics_model.validate(obj) is None
            if valid and as_of is not None and obj["event_time"] // MS_PER_DAY > as_of:
                break
            duplicates = self.model.duplicates
            self.model.process_line(line)
            if valid and self.model.duplicates == duplicates:
                c, d = obj["customer_id"], obj["event_time"] // MS_PER_DAY
                self.last_day[c] = max(self.last_day.get(c, d), d)
        if as_of is not None:
            self.model.advance_to(as_of)
        self.day = self.model.clock

    def rows(self, status="target", behaviours=None, since=None, until=None, limit=None,
             sample=None, seed=1):
        m, day = self.model, self.day
        if day is None:
            return []
        max_window = max(b.window_days for b in self.behaviours)
        last = {}    # (customer, behaviour name, kind) -> effective time of the last signal
        period = {}  # the same, for signals effective in [since, until]
        for s in m.signals:
            key = (s["customer_id"], s["behaviour"], s["kind"])
            last[key] = s["effective_time"]
            d = s["effective_time"] // MS_PER_DAY
            if (since is None or d >= since) and (until is None or d <= until):
                period[key] = s["effective_time"]
        out = []
        for b, beh in enumerate(self.behaviours):
            if behaviours is not None and beh.name not in behaviours:
                continue
            picked = []
            for customer in m.recent:
                pair = m.pairs.get((customer, b))
                target = pair is not None and pair.target
                if status == "target" and target:
                    when = last.get((customer, beh.name, "hire"))
                elif status == "non-target" and not target:
                    when = last.get((customer, beh.name, "fire"))
                elif status in ("hired", "fired") and (customer, beh.name,
                                                       status[:4]) in period:
                    when = period[(customer, beh.name, status[:4])]
                else:
                    continue
                picked.append((customer, when))
            if sample is not None and len(picked) > sample:
                picked = sorted(picked, key=lambda p: (rank(seed, p[0]), p[0].encode()))[:sample]
            picked.sort(key=lambda p: p[0].encode())
            if limit is not None:
                picked = picked[:limit]
            for customer, when in picked:
                pair = m.pairs.get((customer, b))
                metrics = m.metrics(pair, b, day) if pair is not None else dict(
                    orders=0, items=0, gross_minor=0, returned_minor=0, net_minor=0, returns=0)
                quiet = day - self.last_day[customer]
                out.append({
                    "behaviour": beh.name, "customer_id": customer, "status": status,
                    "since": "" if when is None else iso(when),
                    **{k: str(metrics[k]) for k in COLUMNS[4:10]},
                    "failing": ";".join(beh.failing(metrics)),
                    "days_since_last_event": str(quiet) if quiet < max_window else "",
                })
        return out


# --- running hirefire ------------------------------------------------------------

def audience(hirefire, events, config, *args, check=True):
    p = subprocess.run([hirefire, "audience", "--input", str(events), "--config", str(config),
                        "--quiet", *args], capture_output=True, timeout=300)
    if check:
        assert p.returncode == 0, p.stderr.decode(errors="replace")
    return p


def csv_rows(out):
    reader = csv.DictReader(io.StringIO(out.decode("utf-8"), newline=""))
    assert reader.fieldnames == COLUMNS
    return list(reader)


@pytest.fixture(scope="module")
def retail(retail_events, source_dir):
    lines = retail_events.read_text(encoding="utf-8").splitlines()
    return retail_events, source_dir / "config" / "hirefire.properties", lines


# --- tests -------------------------------------------------------------------------

@pytest.mark.parametrize("as_of", [None, "2011-03-31", "2011-08-15"])
@pytest.mark.parametrize("status", ["target", "non-target"])
def test_retail_members_at_a_day_equal_the_model(hirefire, retail, as_of, status):
    events, config, lines = retail
    want = Run(RETAIL_BEHAVIOURS, lines, None if as_of is None else day_of_date(as_of))
    args = ["--status", status] + ([] if as_of is None else ["--as-of", as_of])
    got = csv_rows(audience(hirefire, events, config, *args).stdout)
    expected = want.rows(status)
    assert len(got) == len(expected)
    assert got == expected
    if status == "target":
        # Every behaviour has members; a target customer always came by a hire.
        assert {r["behaviour"] for r in got} == {"repeat", "valuable", "loyal"}
        assert all(r["since"] and r["failing"] == "" for r in got)


@pytest.mark.parametrize("status", ["hired", "fired"])
def test_retail_who_hired_or_fired_in_a_period_equal_the_model(hirefire, retail, status):
    events, config, lines = retail
    want = Run(RETAIL_BEHAVIOURS, lines)
    since, until = day_of_date("2011-10-01"), day_of_date("2011-11-30")
    got = csv_rows(audience(hirefire, events, config, "--status", status, "--since",
                            "2011-10-01", "--until", "2011-11-30").stdout)
    expected = want.rows(status, since=since, until=until)
    assert len(expected) > 100
    assert got == expected
    assert all("2011-10-01" <= r["since"][:10] <= "2011-11-30" for r in got)


def test_retail_sample_and_limit_per_behaviour(hirefire, retail):
    events, config, lines = retail
    want = Run(RETAIL_BEHAVIOURS, lines)
    got = csv_rows(audience(hirefire, events, config, "--behaviour", "loyal", "--behaviour",
                            "repeat", "--sample", "25", "--seed", "2011", "--limit",
                            "20").stdout)
    expected = want.rows("target", behaviours={"loyal", "repeat"}, sample=25, seed=2011,
                         limit=20)
    assert [r["behaviour"] for r in got] == ["repeat"] * 20 + ["loyal"] * 20
    assert got == expected
    # Another seed, another sample; the same seed, the same bytes.
    other = csv_rows(audience(hirefire, events, config, "-B", "loyal", "--sample", "25",
                              "--seed", "7").stdout)
    assert {r["customer_id"] for r in other} != {r["customer_id"] for r in got[20:]}
    again = audience(hirefire, events, config, "-B", "loyal", "--sample", "25", "--seed", "7")
    assert [r["customer_id"] for r in csv_rows(again.stdout)] == [
        r["customer_id"] for r in other]


def test_jsonl_holds_the_same_rows_as_csv(hirefire, retail, tmp_path):
    events, config, _ = retail
    out = tmp_path / "fired.jsonl"
    audience(hirefire, events, config, "--status", "fired", "--format", "jsonl",
             "--output", str(out))
    got = [json.loads(line) for line in out.read_text().splitlines()]
    rows = csv_rows(audience(hirefire, events, config, "--status", "fired").stdout)
    assert len(got) == len(rows) > 0
    for j, c in zip(got, rows):
        assert list(j) == COLUMNS
        assert [j["behaviour"], j["customer_id"], j["status"], j["since"] or ""] == [
            c["behaviour"], c["customer_id"], c["status"], c["since"]]
        assert [str(j[k]) for k in COLUMNS[4:10]] == [c[k] for k in COLUMNS[4:10]]
        assert ";".join(j["failing"]) == c["failing"]
        quiet = j["days_since_last_event"]
        assert ("" if quiet is None else str(quiet)) == c["days_since_last_event"]


@pytest.mark.parametrize("seed", range(12))
def test_generated_streams_equal_the_model(hirefire, tmp_path, seed):
    case = gen_events.generate(seed, 1500)
    case.write(str(tmp_path))
    events, config = tmp_path / "events.jsonl", tmp_path / "cfg.properties"
    days = sorted({json.loads(line)["event_time"] // MS_PER_DAY for line in case.lines
                   if semantics_model.validate(_obj(line)) is None})
    as_of = days[len(days) // 2]
    date = gen_events.day_to_date(as_of)
    for run_as_of, args in ((None, []), (as_of, ["--as-of", date])):
        want = Run(case.behaviours, case.lines, run_as_of)
        for status in ("target", "non-target", "hired", "fired"):
            extra = ["--since", gen_events.day_to_date(days[len(days) // 4])] \
                if status in ("hired", "fired") else []
            since = days[len(days) // 4] if extra else None
            got = csv_rows(audience(hirefire, events, config, "--status", status, *args,
                                    *extra).stdout)
            assert got == want.rows(status, since=since), (seed, run_as_of, status)
            got = csv_rows(audience(hirefire, events, config, "--status", status, *args,
                                    *extra, "--sample", "3", "--seed", str(seed)).stdout)
            assert got == want.rows(status, since=since, sample=3, seed=seed)


def _obj(line):
    try:
        return json.loads(line)
    except ValueError:
        return None


def test_an_as_of_day_before_the_input_lists_no_one(hirefire, retail):
    events, config, _ = retail
    p = subprocess.run([hirefire, "audience", "-i", str(events), "-c", str(config),
                        "--as-of", "2010-01-01"], capture_output=True, timeout=60)
    assert p.returncode == 0
    assert p.stdout.decode() == ",".join(COLUMNS) + "\n"
    assert p.stderr.decode() == ("hirefire audience: 0 rows (target), day 2010-01-01, "
                                 "0 events read, 0 customers\n")


@pytest.mark.parametrize("args, message", [
    (["--status", "gone"],
     'hirefire audience: --status wants target, non-target, hired or fired, got "gone"\n'),
    (["--since", "2011-01-01"],
     "hirefire audience: --since and --until select hired or fired customers: add "
     "--status hired or --status fired\n"),
    (["--status", "hired", "--since", "2011-02-01", "--until", "2011-01-01"],
     "hirefire audience: --since is after --until\n"),
    (["--as-of", "yesterday"],
     'hirefire audience: --as-of wants a day as YYYY-MM-DD, got "yesterday"\n'),
    (["--behaviour", "vip"],
     'hirefire audience: no behaviour "vip" in the configuration (it has: repeat valuable '
     "loyal)\n"),
    (["--format", "xlsx"], 'hirefire audience: --format wants csv or jsonl, got "xlsx"\n'),
    (["--sample", "0"], 'hirefire audience: --sample wants a positive number, got "0"\n'),
])
def test_usage_errors_exit_2_and_say_what_to_fix(hirefire, retail, args, message):
    events, config, _ = retail
    p = audience(hirefire, events, config, *args, check=False)
    assert (p.returncode, p.stdout, p.stderr.decode()) == (2, b"", message)


def test_the_output_may_not_be_the_input(hirefire, retail, tmp_path):
    events, config, _ = retail
    copy = tmp_path / "events.jsonl"
    copy.write_bytes(events.read_bytes())
    p = audience(hirefire, copy, config, "--output", str(copy), check=False)
    assert (p.returncode, p.stderr.decode()) == (
        2, f'hirefire audience: --output "{copy}" is the input file; refusing to overwrite it\n')
    assert copy.read_bytes() == events.read_bytes()


def test_a_failed_write_exits_1_with_the_reason(hirefire, retail):
    events, config, _ = retail
    p = audience(hirefire, events, config, "--output", "/dev/full", check=False)
    assert p.returncode == 1
    assert p.stderr.decode() == ('hirefire audience: cannot write "/dev/full": '
                                 "No space left on device\n")

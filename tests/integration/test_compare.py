"""`hirefire replay --compare`: two configurations in one pass.

Each comparison is checked against two separate replays, one with A and one
with B: the signals of A (--output) and of B (signals_b.jsonl) are those
replays' bytes, the counts in comparison.json are their signals', the target
lists are the sets of `hirefire audience` of each, the first difference is
the first index at which the two signal sequences of a behaviour differ, and
B's rows of --history are B's own history. Inputs: the Online Retail year and
generated adversarial streams with random configurations.
"""

import csv
import json
import subprocess

import pytest

import gen_events

B_CONFIG = ("behaviour.repeat.window_days=60\nbehaviour.repeat.min_orders=2\n"
            "behaviour.big.window_days=90\nbehaviour.big.min_orders=off\n"
            "behaviour.big.min_net_minor=100000\n")


def hf(hirefire, *args, check=True):
    p = subprocess.run([hirefire, *map(str, args)], capture_output=True, timeout=300)
    if check:
        assert p.returncode == 0, p.stderr.decode(errors="replace")
    return p


def signals(path):
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def behaviours_of(config_path):
    """Behaviour names in configuration order, as `validate` reports them."""
    names = []
    for line in open(config_path, encoding="utf-8"):
        line = line.strip()
        if line.startswith("behaviour.") and "=" in line:
            name = line.split(".")[1]
            if name not in names:
                names.append(name)
    return names or ["repeat"]


def first_difference(a, b, name):
    sa = [{k: v for k, v in s.items() if k != "signal_id"} for s in a if s["behaviour"] == name]
    sb = [{k: v for k, v in s.items() if k != "signal_id"} for s in b if s["behaviour"] == name]
    i = 0
    while i < len(sa) and i < len(sb) and sa[i] == sb[i]:
        i += 1
    if i == len(sa) and i == len(sb):
        return i, None
    return i, (sa[i] if i < len(sa) else None, sb[i] if i < len(sb) else None)


def counts(sigs, name):
    out = {k: {c: 0 for c in ("purchase", "return", "expiry")} for k in ("hire", "fire")}
    for s in sigs:
        if s["behaviour"] == name:
            out[s["kind"]][s["cause"]] += 1
    return out


def targets(hirefire, events, config, name, tmp_path):
    out = tmp_path / "aud.csv"
    hf(hirefire, "audience", "--quiet", "-i", events, "-c", config, "-B", name, "-o", out)
    return {r["customer_id"] for r in csv.DictReader(open(out, newline=""))}


def id_list(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["customer_id"]
    ids = [r[0] for r in rows[1:]]
    assert ids == sorted(ids, key=lambda s: s.encode())
    return ids


def check(hirefire, events, config_a, config_b, tmp_path, advance=None):
    extra = [] if advance is None else ["--advance-to", advance]
    a_out, b_out = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    hf(hirefire, "replay", "--quiet", "-i", events, "-c", config_a, "-o", a_out, *extra)
    hf(hirefire, "replay", "--quiet", "-i", events, "-c", config_b, "-o", b_out, *extra)
    out, d = tmp_path / "both.jsonl", tmp_path / "cmp"
    d.mkdir()
    hist = tmp_path / "history.csv"
    hf(hirefire, "replay", "--quiet", "-i", events, "-c", config_a, "-o", out, "--compare",
       config_b, "--compare-output", d, "--history", hist, *extra)
    assert out.read_bytes() == a_out.read_bytes()
    assert (d / "signals_b.jsonl").read_bytes() == b_out.read_bytes()
    sa, sb = signals(a_out), signals(b_out)
    names_a, names_b = behaviours_of(config_a), behaviours_of(config_b)
    names = names_a + [n for n in names_b if n not in names_a]
    result = json.loads((d / "comparison.json").read_text())
    assert [r["behaviour"] for r in result["behaviours"]] == names
    for r in result["behaviours"]:
        name = r["behaviour"]
        assert (r["in_a"], r["in_b"]) == (name in names_a, name in names_b)
        assert r["signals"]["a"] == (counts(sa, name) if name in names_a else None)
        assert r["signals"]["b"] == (counts(sb, name) if name in names_b else None)
        same, diff = first_difference(sa, sb, name)
        assert r["same_signals"] == same
        if diff is None:
            assert r["first_difference"] is None
        else:
            got = r["first_difference"]
            assert [None if x is None else {k: v for k, v in x.items() if k != "signal_id"}
                    for x in (got["a"], got["b"])] == list(diff)
        ta = targets(hirefire, events, config_a, name, tmp_path) if name in names_a else set()
        tb = targets(hirefire, events, config_b, name, tmp_path) if name in names_b else set()
        if advance is None:
            assert id_list(d / f"{name}.target_only_a.csv") == sorted(
                ta - tb, key=lambda s: s.encode())
            assert id_list(d / f"{name}.target_only_b.csv") == sorted(
                tb - ta, key=lambda s: s.encode())
            assert id_list(d / f"{name}.target_both.csv") == sorted(
                ta & tb, key=lambda s: s.encode())
            assert (r["target_only_a"], r["target_only_b"], r["target_both"]) == (
                len(ta - tb), len(tb - ta), len(ta & tb))
    # B's rows of the history are B's own history, labelled B.
    own = tmp_path / "history_b.csv"
    hf(hirefire, "replay", "--quiet", "-i", events, "-c", config_b, "-o", "/dev/null",
       "--history", own, *extra)
    rows = list(csv.DictReader(open(hist, newline="")))
    b_rows = [dict(r, configuration="A") for r in rows if r["configuration"] == "B"]
    assert b_rows == list(csv.DictReader(open(own, newline="")))
    assert {r["configuration"] for r in rows} == ({"A", "B"} if b_rows else {"A"})
    return result


@pytest.fixture(scope="module")
def retail(retail_events, source_dir, tmp_path_factory):
    b = tmp_path_factory.mktemp("compare") / "b.properties"
    b.write_text(B_CONFIG)
    return retail_events, source_dir / "config" / "hirefire.properties", b


def test_retail_a_60_day_repeat_and_a_big_spender_rule(hirefire, retail, tmp_path):
    events, a, b = retail
    result = check(hirefire, events, a, b, tmp_path)
    by = {r["behaviour"]: r for r in result["behaviours"]}
    assert list(by) == ["repeat", "valuable", "loyal", "big"]
    # A shorter window keeps fewer customers: B's repeaters are A's too.
    assert by["repeat"]["target_only_b"] == 0 and by["repeat"]["target_only_a"] > 0
    assert by["big"]["in_a"] is False and by["loyal"]["in_b"] is False


@pytest.mark.parametrize("seed", range(8))
def test_generated_streams_with_two_random_configurations(hirefire, tmp_path, seed):
    case = gen_events.generate(seed, 1500)
    other = gen_events.generate(seed + 1000, 10)
    case.write(str(tmp_path))
    b = tmp_path / "b.properties"
    b.write_text(other.properties)
    check(hirefire, tmp_path / "events.jsonl", tmp_path / "cfg.properties", b, tmp_path,
          case.advance_arg())


def test_the_same_configuration_twice_differs_nowhere(hirefire, retail, tmp_path):
    events, a, _ = retail
    result = check(hirefire, events, a, a, tmp_path)
    for r in result["behaviours"]:
        assert r["first_difference"] is None
        assert r["target_only_a"] == r["target_only_b"] == 0


@pytest.mark.parametrize("args, message", [
    (["--compare-output", "."],
     "hirefire replay: --compare-output DIR goes with --compare FILE\n"),
    (["--compare", "/nonexistent.properties"],
     "hirefire replay: --compare: cannot read config file \"/nonexistent.properties\": "
     "No such file or directory\n"),
])
def test_usage_errors(hirefire, retail, args, message):
    events, a, _ = retail
    p = hf(hirefire, "replay", "--quiet", "-i", events, "-c", a, "-o", "/dev/null", *args,
           check=False)
    assert (p.returncode, p.stderr.decode()) == (2, message)


def test_compare_output_must_be_a_directory(hirefire, retail, tmp_path):
    events, a, b = retail
    p = hf(hirefire, "replay", "--quiet", "-i", events, "-c", a, "-o", "/dev/null",
           "--compare", b, "--compare-output", tmp_path / "missing", check=False)
    assert (p.returncode, p.stderr.decode()) == (
        2, f'hirefire replay: --compare-output "{tmp_path / "missing"}" is not a directory\n')


def test_a_topic_replay_refuses_the_analyst_outputs(hirefire):
    p = hf(hirefire, "replay", "--topic", "t", "--brokers", "127.0.0.1:1", "--history",
           "h.csv", check=False)
    assert (p.returncode, p.stderr.decode()) == (
        2, "hirefire replay: --history, --report and --compare replay a file: give "
           "--input FILE\n")

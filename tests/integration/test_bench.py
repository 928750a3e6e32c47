"""bench/latency.sh on a fresh machine: with small sizes it starts its own
broker and redis-server, measures both maxima and the latency at half the
live one, prints them in the documented form, and leaves nothing behind.
Its figures are not judged here (speed targets live in bench/README.md);
what is asserted is that they are there, consistent and derived as the
script says (the latency rate is exactly half the chosen maximum).
"""

import os
import re
import subprocess

import pytest

MAXIMA = re.compile(
    r"^Maximum rate, catching up on a backlog \(hirefire alone\): ([\d,]+) events/s\n"
    r"Maximum rate, live \(the generator producing as fast as the machine lets it\): "
    r"([\d,]+) events/s  \(hirefire done (-?[\d.]+) s after the generator\)$", re.M)
LATENCY = re.compile(
    r"^  at ([\d,]+) events/s \((half the (?:live|catch-up) maximum|given rate)\): "
    r"p50 (\d+) ms  p90 (\d+) ms  p99 (\d+) ms  max (\d+) ms  \(([\d,]+) signals\)"
    r"   target p99 < 300 ms$", re.M)
REACHED = re.compile(r"^  produced at ([\d,]+) events/s over the measured part", re.M)
MADE = re.compile(r"^  of which event produced -> signal produced by hirefire: "
                  r"p50 (\d+) ms  p99 (\d+) ms$", re.M)


def num(s):
    return int(s.replace(",", ""))


def latency_sh(source_dir, hirefire, tmp_path, *args, timeout=300):
    env = dict(os.environ, TMPDIR=str(tmp_path))
    return subprocess.run([str(source_dir / "bench" / "latency.sh"), "--bin", hirefire, *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.parametrize("half_of", ["live", "catch-up"])
def test_latency_script_measures_at_half_a_maximum(hirefire, source_dir, tmp_path, half_of):
    res = latency_sh(source_dir, hirefire, tmp_path, "--broker-warmup", "0",
                     "--max-events", "20000", "--live-max-events", "60000",
                     "--partitions", "2", "--warmup", "1", "--seconds", "2",
                     "--half-of", half_of)
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout
    maxima = MAXIMA.search(out)
    latency = LATENCY.search(out)
    assert maxima and latency and REACHED.search(out) and MADE.search(out), out
    catch_up, live = num(maxima.group(1)), num(maxima.group(2))
    assert catch_up > 0 and live > 0
    rate = num(latency.group(1))
    assert latency.group(2) == f"half the {half_of} maximum"
    assert rate == (live if half_of == "live" else catch_up) // 2
    p50, p90, p99, top = (int(latency.group(i)) for i in range(3, 7))
    assert 0 <= p50 <= p90 <= p99 <= top
    assert num(latency.group(7)) > 0
    made = MADE.search(out)
    assert int(made.group(1)) <= int(made.group(2))
    # Everything it started is stopped and its temporary directory removed.
    assert list(tmp_path.iterdir()) == []


def test_latency_script_at_a_given_rate(hirefire, source_dir, tmp_path):
    res = latency_sh(source_dir, hirefire, tmp_path, "--broker-warmup", "0", "--rate", "5000",
                     "--partitions", "2", "--warmup", "1", "--seconds", "2")
    assert res.returncode == 0, res.stderr[-3000:]
    assert MAXIMA.search(res.stdout) is None, res.stdout
    latency = LATENCY.search(res.stdout)
    assert latency, res.stdout
    assert (num(latency.group(1)), latency.group(2)) == (5000, "given rate")
    assert "at 5000 events/s (the given rate)" in res.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args,message", [
    (["--half-of", "max"], "--half-of must be live or catch-up, not 'max'"),
    (["--live-max-events", "0"], "--live-max-events must be a positive integer, not '0'"),
    (["--rate", "fast"], "--rate must be a positive integer, not 'fast'"),
])
def test_latency_script_refuses_bad_arguments(hirefire, source_dir, tmp_path, args, message):
    res = latency_sh(source_dir, hirefire, tmp_path, *args, timeout=30)
    assert (res.returncode, res.stdout) == (1, "")
    assert res.stderr == f"bench/latency.sh: {message}\n"
    assert list(tmp_path.iterdir()) == []

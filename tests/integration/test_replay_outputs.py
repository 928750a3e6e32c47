"""`hirefire replay` never loses output without an error: a signal or dead-letter
write that fails stops the run with exit 1, the file and the OS error; an
output that is the input file is refused before anything is opened."""

import json
import os
import subprocess

import pytest


def replay(hirefire, *args):
    return subprocess.run([hirefire, "replay", "--quiet", *map(str, args)],
                          capture_output=True, timeout=120)


def events(path, n=2000):
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({"event_id": f"e{i}", "type": "purchase",
                                "customer_id": f"c{i % 50}", "event_time": 1600000000000 + i,
                                "amount_minor": 100, "items": 1}) + "\n")
    return path


def test_a_signal_write_that_fails_says_why_and_exits_1(hirefire, tmp_path):
    p = replay(hirefire, "-i", events(tmp_path / "e.jsonl"), "-o", "/dev/full")
    assert (p.returncode, p.stdout) == (1, b"")
    assert p.stderr.decode() == ('hirefire replay: cannot write signals to "/dev/full": '
                                 "No space left on device\n")


def test_a_dead_letter_write_that_fails_says_why_and_exits_1(hirefire, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"no":"event"}\n' * 3000)
    p = replay(hirefire, "-i", bad, "-o", "/dev/null", "--dead-letter", "/dev/full")
    assert p.returncode == 1
    assert p.stderr.decode() == ('hirefire replay: cannot write dead letters to "/dev/full": '
                                 "No space left on device\n")
    # The same input with a dead-letter file that takes them: every one is there.
    dl = tmp_path / "dl.jsonl"
    p = replay(hirefire, "-i", bad, "-o", "/dev/null", "--dead-letter", dl)
    assert p.returncode == 0
    assert [json.loads(x)["line"] for x in dl.read_text().splitlines()] == list(range(1, 3001))


@pytest.mark.parametrize("option", ["--output", "--dead-letter", "--history", "--report"])
def test_an_output_that_is_the_input_is_refused(hirefire, tmp_path, option):
    src = events(tmp_path / "e.jsonl")
    before = src.read_bytes()
    p = replay(hirefire, "-i", src, "-o", "/dev/null", option, src)
    assert (p.returncode, p.stderr.decode()) == (
        2, f'hirefire replay: {option} "{src}" is the input file; refusing to overwrite it\n')
    assert src.read_bytes() == before
    # Through another name of the same file (a hard link) too.
    other = tmp_path / "other.jsonl"
    os.link(src, other)
    p = replay(hirefire, "-i", src, "-o", "/dev/null", option, other)
    assert p.returncode == 2
    assert src.read_bytes() == before

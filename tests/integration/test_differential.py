"""Differential test: `hirefire replay` against the reference model of
SEMANTICS.md (tests/model/semantics_model.py) on generated inputs
(tests/model/gen_events.py).

For every seed: the signals must equal the model's, one by one (signal_id
aside), in order; signal ids must be 32 lowercase hex digits and unique; a
second run must write the same bytes; the dead-letter lines must be the
model's. On a mismatch the input is shrunk and printed.

Environment: HF_DIFF_SEEDS (default 200), HF_DIFF_EVENTS (default 2000),
HF_DIFF_SEED_BASE (default 0), HF_DIFF_SHRINK_S (shrink time budget, 60).
"""

import json
import os
import re
import subprocess
import time

import pytest

import gen_events
import semantics_model

SEEDS = int(os.environ.get("HF_DIFF_SEEDS", "200"))
EVENTS = int(os.environ.get("HF_DIFF_EVENTS", "2000"))
SEED_BASE = int(os.environ.get("HF_DIFF_SEED_BASE", "0"))
SHRINK_S = float(os.environ.get("HF_DIFF_SHRINK_S", "60"))
SIGNAL_ID = re.compile(r"^[0-9a-f]{32}$")


def replay(hirefire, directory, lines, properties, advance_arg, tag="run"):
    """Runs hirefire replay; returns (output bytes, dead-letter bytes)."""
    ev = os.path.join(directory, "events.jsonl")
    cfg = os.path.join(directory, "cfg.properties")
    out = os.path.join(directory, tag + ".out.jsonl")
    dl = os.path.join(directory, tag + ".dl.jsonl")
    with open(ev, "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
    with open(cfg, "w", encoding="utf-8") as f:
        f.write(properties)
    cmd = [hirefire, "replay", "--quiet", "--input", ev, "--config", cfg,
           "--output", out, "--dead-letter", dl]
    if advance_arg is not None:
        cmd += ["--advance-to", advance_arg]
    p = subprocess.run(cmd, capture_output=True, timeout=120)
    assert p.returncode == 0, (
        f"{' '.join(cmd)} exited with {p.returncode}: {p.stderr.decode(errors='replace')}")
    with open(out, "rb") as f:
        out_bytes = f.read()
    with open(dl, "rb") as f:
        dl_bytes = f.read()
    return out_bytes, dl_bytes


def parse_signals(out_bytes):
    return [json.loads(line) for line in out_bytes.decode("utf-8").splitlines()]


def strip_id(s):
    return {k: v for k, v in s.items() if k != "signal_id"}


def dead_letter_lines(dl_bytes):
    return [json.loads(line)["line"] for line in dl_bytes.decode("utf-8").splitlines()]


def compare(model, out, dl):
    """None when hirefire's output (out, dl bytes) agrees with the model, else why not."""
    got = [strip_id(s) for s in parse_signals(out)]
    for i, (g, w) in enumerate(zip(got, model.signals)):
        if g != w:
            return (f"signal #{i} differs\n  hirefire: {json.dumps(g, sort_keys=True)}\n"
                    f"  model:    {json.dumps(w, sort_keys=True)}")
    if len(got) != len(model.signals):
        i = min(len(got), len(model.signals))
        extra = got[i] if len(got) > i else model.signals[i]
        who = "hirefire" if len(got) > i else "model"
        return (f"{len(got)} signals from hirefire, {len(model.signals)} from the model; "
                f"first extra (#{i}, {who}): {json.dumps(extra, sort_keys=True)}")
    got_dl = dead_letter_lines(dl)
    if got_dl != model.dead_letter_lines:
        return (f"dead-letter lines differ: hirefire {got_dl[:20]} "
                f"model {model.dead_letter_lines[:20]}")
    return None


def first_difference(case, hirefire, directory):
    model = semantics_model.run(case.behaviours, case.lines, case.advance_to)
    out, dl = replay(hirefire, directory, case.lines, case.properties, case.advance_arg())
    return compare(model, out, dl)


def shrink(case, hirefire, directory, budget_s):
    """Removes lines (ddmin style) while hirefire and the model still differ."""
    deadline = time.monotonic() + budget_s
    lines = list(case.lines)

    def fails(candidate):
        c = gen_events.Case(candidate, case.behaviours, case.properties, case.advance_to)
        return first_difference(c, hirefire, directory) is not None

    chunk = max(1, len(lines) // 2)
    while chunk >= 1 and time.monotonic() < deadline:
        i, removed = 0, False
        while i < len(lines) and time.monotonic() < deadline:
            candidate = lines[:i] + lines[i + chunk:]
            if candidate and fails(candidate):
                lines, removed = candidate, True
            else:
                i += chunk
        if not removed:
            chunk //= 2
    small = gen_events.Case(lines, case.behaviours, case.properties, case.advance_to)
    if small.advance_to is not None:
        without = gen_events.Case(lines, case.behaviours, case.properties, None)
        if first_difference(without, hirefire, directory) is not None:
            small = without
    return small


def check_seed(seed, hirefire, directory, events=EVENTS):
    case = gen_events.generate(seed, events)
    model = semantics_model.run(case.behaviours, case.lines, case.advance_to)
    out, dl = replay(hirefire, directory, case.lines, case.properties, case.advance_arg())
    out2, dl2 = replay(hirefire, directory, case.lines, case.properties, case.advance_arg(),
                       tag="again")
    assert out == out2, f"seed {seed}: a second run wrote different signals"
    assert dl == dl2, f"seed {seed}: a second run wrote different dead letters"
    signals = parse_signals(out)
    ids = [s.get("signal_id") for s in signals]
    bad = [x for x in ids if not (isinstance(x, str) and SIGNAL_ID.match(x))]
    assert not bad, f"seed {seed}: signal ids that are not 32 lowercase hex digits: {bad[:5]}"
    assert len(set(ids)) == len(ids), f"seed {seed}: signal ids are not unique"
    diff = compare(model, out, dl)
    if diff is None:
        assert len(signals) == len(model.signals)
        assert len(dead_letter_lines(dl)) == model.dead_letters
        return len(signals)
    small = shrink(case, hirefire, directory, SHRINK_S)
    small_diff = first_difference(small, hirefire, directory)
    pytest.fail(
        f"seed {seed} ({events} events): {diff}\n\n"
        f"shrunk to {len(small.lines)} lines: {small_diff}\n"
        f"--- cfg.properties\n{small.properties}"
        f"--- events.jsonl\n" + "\n".join(small.lines) +
        f"\n--- --advance-to {small.advance_arg()}\n")


@pytest.mark.parametrize("seed", range(SEED_BASE, SEED_BASE + SEEDS))
def test_replay_matches_model(seed, hirefire, work_dir):
    check_seed(seed, hirefire, str(work_dir))


@pytest.mark.parametrize("seed", [1000001, 1000002])
def test_replay_matches_model_long_input(seed, hirefire, work_dir):
    """Long inputs: many ids per customer, long histories, many clock jumps."""
    check_seed(seed, hirefire, str(work_dir), events=20000)


def test_generator_covers_the_corners():
    """The generated inputs do reach the cases they exist for (else this test is weak)."""
    kinds, late, dups, dead = set(), 0, 0, 0
    for seed in range(20):
        case = gen_events.generate(seed, EVENTS)
        m = semantics_model.run(case.behaviours, case.lines, case.advance_to)
        kinds |= {(s["kind"], s["cause"]) for s in m.signals}
        late += m.late
        dups += m.duplicates
        dead += m.dead_letters
    assert {("hire", "purchase"), ("fire", "expiry"), ("fire", "return"),
            ("hire", "expiry"), ("hire", "return")} <= kinds
    assert late > 0 and dups > 0 and dead > 0

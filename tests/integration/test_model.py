"""Self-tests of the reference model (tests/model/semantics_model.py): small
hand-written inputs whose exact signals follow from SEMANTICS.md step by step.
The differential test trusts the model only as far as these cases go.
"""

import json

from semantics_model import MS_PER_DAY, Behaviour, run

DAY = MS_PER_DAY


def ev(eid, typ, cust, day, ms=0, amount=100, items=1):
    return json.dumps({"event_id": eid, "type": typ, "customer_id": cust,
                       "order_id": "o-" + eid, "event_time": day * DAY + ms,
                       "amount_minor": amount, "currency": "EUR", "items": items})


def P(eid, cust, day, **kw):
    return ev(eid, "purchase", cust, day, **kw)


def R(eid, cust, day, **kw):
    return ev(eid, "return", cust, day, **kw)


def M(orders=0, items=0, gross=0, returned=0, returns=0):
    return {"orders": orders, "items": items, "gross_minor": gross,
            "returned_minor": returned, "net_minor": gross - returned,
            "returns": returns}


def sig(kind, cause, cust, eff, metrics, failing=(), trigger=None, behaviour="repeat"):
    return {"behaviour": behaviour, "customer_id": cust, "kind": kind, "cause": cause,
            "effective_time": eff, "metrics": metrics, "failing": list(failing),
            "trigger": None if trigger is None else {"event_id": trigger}}


REPEAT = [Behaviour("repeat")]  # the default: 90 days, 2 orders


def test_hire_on_second_purchase_then_fire_and_empty_expiry():
    m = run(REPEAT, [P("e1", "c1", 0, ms=5), P("e2", "c1", 10, ms=7, items=3)],
            advance_to=200)
    assert m.signals == [
        sig("hire", "purchase", "c1", 10 * DAY + 7, M(2, 4, 200), trigger="e2"),
        # due = min(0, 10) + 90 = 90; window (0, 90] holds day 10 only
        sig("fire", "expiry", "c1", 90 * DAY, M(1, 3, 100), ["min_orders"]),
    ]
    # then due 100 empties the window: already non-target, nothing emitted
    assert m.pairs[("c1", 0)].due is None


def test_expiry_runs_before_the_event_that_moves_the_clock():
    b = [Behaviour("w7", window_days=7)]
    m = run(b, [P("e1", "x", 0), P("e2", "x", 6), P("e3", "x", 7, ms=1)])
    assert m.signals == [
        sig("hire", "purchase", "x", 6 * DAY, M(2, 2, 200), trigger="e2", behaviour="w7"),
        sig("fire", "expiry", "x", 7 * DAY, M(1, 1, 100), ["min_orders"], behaviour="w7"),
        sig("hire", "purchase", "x", 7 * DAY + 1, M(2, 2, 200), trigger="e3", behaviour="w7"),
    ]


def test_first_non_target_emits_nothing_and_last_ms_of_day_counts_as_that_day():
    b = [Behaviour("w1", window_days=1)]
    m = run(b, [P("e1", "x", 3, ms=DAY - 1), P("e2", "x", 4)], advance_to=10)
    assert m.signals == []  # day 3 left at day 4: never two orders in one window


def test_too_late_is_per_behaviour():
    b = [Behaviour("short", window_days=3), Behaviour("long", window_days=30)]
    lines = [P("e1", "x", 10), P("e2", "x", 7), P("e3", "x", 8)]
    m = run(b, lines)
    # e2: 7 <= 10 - 3 is late for "short" only; it hires "long"
    # e3: 8 > 7 counts for both: "short" gets its 2nd order
    assert m.signals == [
        sig("hire", "purchase", "x", 7 * DAY, M(2, 2, 200), trigger="e2", behaviour="long"),
        sig("hire", "purchase", "x", 8 * DAY, M(2, 2, 200), trigger="e3", behaviour="short"),
    ]
    assert m.late == 1


def test_late_event_is_evaluated_at_the_clock_and_moves_the_due_day():
    b = [Behaviour("w7", window_days=7)]
    m = run(b, [P("e1", "x", 10), P("e2", "x", 4, ms=9)], advance_to=30)
    assert m.signals == [
        sig("hire", "purchase", "x", 4 * DAY + 9, M(2, 2, 200), trigger="e2", behaviour="w7"),
        sig("fire", "expiry", "x", 11 * DAY, M(1, 1, 100), ["min_orders"], behaviour="w7"),
    ]


def test_duplicates_last_32_ids_per_customer():
    lines = [P("e1", "x", 0), P("e1", "x", 1)]          # duplicate: ignored
    assert run(REPEAT, lines).signals == []
    lines = [P("e1", "x", 0), P("e1", "y", 1), P("y2", "y", 1)]  # ids are per customer
    assert [s["customer_id"] for s in run(REPEAT, lines).signals] == ["y"]
    # e1 is pushed out by 32 later ids of x: then it counts again
    lines = [P("e1", "x", 0)] + [R(f"r{i}", "x", 0, amount=0) for i in range(32)]
    m = run([Behaviour("b", min_orders=2)], lines + [P("e1", "x", 0)])
    assert [s["trigger"] for s in m.signals] == [{"event_id": "e1"}]
    assert m.duplicates == 0
    # 31 later ids are not enough
    lines = [P("e1", "x", 0)] + [R(f"r{i}", "x", 0, amount=0) for i in range(31)]
    m = run([Behaviour("b", min_orders=2)], lines + [P("e1", "x", 0)])
    assert m.signals == [] and m.duplicates == 1


def test_duplicates_are_not_counted_in_the_last_32():
    lines = ([P("e1", "x", 0)] + [R(f"r{i}", "x", 0, amount=0) for i in range(31)] +
             [R("r0", "x", 0)] * 5 + [P("e1", "x", 0)])
    m = run(REPEAT, lines)
    assert m.signals == [] and m.duplicates == 6


def test_invalid_events_change_nothing():
    lines = [
        P("e1", "x", 0),
        json.dumps({"event_id": "e2", "type": "purchase", "event_time": 0,
                    "amount_minor": 1, "items": 1}),                # no customer
        P("e3", "x", 0, amount=-1),
        P("e4", "x", 0, items=-1),
        ev("e5", "refund", "x", 0),
        P("", "x", 0),
        P("e7", "", 0),
        '{"event_id": "e8", "type": "purchase",',                   # broken JSON
        P("e9", "x", 500),                                          # valid, moves clock
        "   ",                                                      # blank: skipped
    ]
    m = run(REPEAT, lines + [P("e1", "x", 1)])
    assert m.dead_letters == 7
    assert m.signals == [] and m.duplicates == 1 and m.clock == 500
    # an invalid event does not occupy a dedupe slot nor move the clock
    m = run(REPEAT, [P("e1", "x", 0), P("e2", "x", 1, amount=-5), P("e2", "x", 1)])
    assert m.signals == [sig("hire", "purchase", "x", DAY, M(2, 2, 200), trigger="e2")]


def test_return_ratio():
    b = [Behaviour("rr", min_orders=None, max_return_ratio=0.5)]
    m = run(b, [R("e1", "only-returns", 0, amount=1),           # inf: stays non-target
                P("e2", "zero", 0, amount=0, items=0),          # 0/0 = 0: hire
                P("e3", "x", 1, amount=100),
                R("e4", "x", 1, amount=50),                     # 0.5 <= 0.5
                R("e5", "x", 1, amount=1)])                     # 0.51: fire
    assert m.signals == [
        sig("hire", "purchase", "zero", 0, M(1, 0, 0), trigger="e2", behaviour="rr"),
        sig("hire", "purchase", "x", DAY, M(1, 1, 100), trigger="e3", behaviour="rr"),
        sig("fire", "return", "x", DAY, M(1, 1, 100, 51, 2), ["max_return_ratio"],
            trigger="e5", behaviour="rr"),
    ]


def test_negative_min_net_minor_and_several_failing():
    b = [Behaviour("net", min_orders=None, min_net_minor=-50),
         Behaviour("both", min_orders=2, min_items=3)]
    m = run(b, [R("e1", "x", 0, amount=30), R("e2", "x", 0, amount=30),
                P("e3", "y", 0, items=2), P("e4", "y", 0, items=1),
                R("e5", "y", 0)],
            advance_to=90)
    assert m.signals == [
        sig("hire", "return", "x", 0, M(0, 0, 0, 30, 1), trigger="e1", behaviour="net"),
        sig("fire", "return", "x", 0, M(0, 0, 0, 60, 2), ["min_net_minor"],
            trigger="e2", behaviour="net"),
        sig("hire", "purchase", "y", 0, M(1, 2, 100), trigger="e3", behaviour="net"),
        sig("hire", "purchase", "y", 0, M(2, 3, 200), trigger="e4", behaviour="both"),
        # day 90 empties every window: net 0 >= -50 hires x again, by expiry;
        # y stays target for "net" and fires for "both"
        sig("hire", "expiry", "x", 90 * DAY, M(), behaviour="net"),
        sig("fire", "expiry", "y", 90 * DAY, M(), ["min_orders", "min_items"],
            behaviour="both"),
    ]


def test_expiry_order_due_then_customer_bytes_then_behaviour_then_chains():
    b = [Behaviour("one", window_days=3, min_orders=1), Behaviour("two", window_days=3)]
    lines = [P("a1", "ab", 1), P("a2", "ab", 1),
             P("b1", "B", 1), P("b2", "B", 1),
             P("c1", "a", 0), P("c2", "a", 1), P("c3", "a", 2)]
    m = run(b, lines + [P("z", "zz", 20)])
    expiries = [(s["effective_time"] // DAY, s["customer_id"], s["behaviour"])
                for s in m.signals if s["cause"] == "expiry"]
    # "a": due 3 keeps it target for "two" (days 1, 2 left); then due 4 (day 1
    # leaves, "two" fires) and due 5 ("one" fires): chained in the same pass
    assert expiries == [
        (4, "B", "one"),
        (4, "B", "two"),
        (4, "a", "two"),
        (4, "ab", "one"),
        (4, "ab", "two"),
        (5, "a", "one"),
    ]


def test_advance_to_not_beyond_clock_does_nothing():
    m = run(REPEAT, [P("e1", "x", 0), P("e2", "x", 100)], advance_to=50)
    assert m.signals == [] and m.clock == 100
    m = run(REPEAT, [P("e1", "x", 100), P("e2", "x", 100)], advance_to=189)
    assert [s["kind"] for s in m.signals] == ["hire"]
    m = run(REPEAT, [P("e1", "x", 100), P("e2", "x", 100)], advance_to=190)
    assert [s["kind"] for s in m.signals] == ["hire", "fire"]


def test_negative_times_use_floor_days():
    b = [Behaviour("w1", window_days=1)]
    m = run(b, [P("e1", "x", 0, ms=-1), P("e2", "x", -1)], advance_to=0)
    assert m.signals == [
        sig("hire", "purchase", "x", -DAY, M(2, 2, 200), trigger="e2", behaviour="w1"),
        sig("fire", "expiry", "x", 0, M(), ["min_orders"], behaviour="w1"),
    ]


def test_clock_jump_processes_every_due_day_in_order():
    b = [Behaviour("w3", window_days=3, min_orders=1)]
    m = run(b, [P("e1", "x", 0), P("e2", "x", 1), P("e3", "y", 2), P("e4", "z", 500)])
    assert [(s["customer_id"], s["kind"], s["effective_time"] // DAY) for s in m.signals] == [
        ("x", "hire", 0), ("y", "hire", 2), ("x", "fire", 4), ("y", "fire", 5), ("z", "hire", 500)]


def test_dead_letter_lines_are_file_line_numbers():
    lines = [P("e1", "x", 0), "", '{"event_id": ', P("e3", "x", 0, amount=-1), P("e4", "x", 0)]
    assert run(REPEAT, lines).dead_letter_lines == [3, 4]


def test_pruning_changes_nothing():
    """Dropping events that left a window is the model's only shortcut: check it
    against keeping everything, on generated inputs."""
    import gen_events
    for seed in range(8):
        case = gen_events.generate(seed, 1500)
        fast = run(case.behaviours, case.lines, case.advance_to)
        slow = run(case.behaviours, case.lines, case.advance_to, prune=False)
        assert fast.signals == slow.signals, f"seed {seed}"
        assert len(fast.signals) > 50

"""An independent, deliberately simple model of SEMANTICS.md (the contract).

It is the oracle of the differential test: it shares no code and no data
structure with the C engine. It keeps every accepted event, evaluates a
window by filtering that list, and finds expiries by scanning every
(customer, behaviour) pair. The only concession to speed: events that have
left a behaviour's window are dropped from that behaviour's list (evaluation
days of a pair never go back, so they can never count again), and the due
day of a pair is cached and recomputed whenever the pair is re-evaluated.

Usage:
    m = Model(behaviours)              # list of Behaviour, in config order
    for line in lines: m.process_line(line)
    m.advance_to(day)                  # optional
    m.signals, m.dead_letters, m.duplicates, m.late
"""

import json
from collections import deque

MS_PER_DAY = 86400000
RECENT_IDS = 32
THRESHOLD_NAMES = ("min_orders", "min_items", "min_net_minor", "max_return_ratio")


class Behaviour:
    """A behaviour; a threshold set to None is off."""

    def __init__(self, name, window_days=90, min_orders=2, min_items=None,
                 min_net_minor=None, max_return_ratio=None):
        self.name = name
        self.window_days = window_days
        self.min_orders = min_orders
        self.min_items = min_items
        self.min_net_minor = min_net_minor
        self.max_return_ratio = max_return_ratio

    def failing(self, m):
        """Names of the thresholds that do not hold, in table order."""
        out = []
        if self.min_orders is not None and not m["orders"] >= self.min_orders:
            out.append("min_orders")
        if self.min_items is not None and not m["items"] >= self.min_items:
            out.append("min_items")
        if self.min_net_minor is not None and not m["net_minor"] >= self.min_net_minor:
            out.append("min_net_minor")
        if self.max_return_ratio is not None:
            gross, returned = m["gross_minor"], m["returned_minor"]
            if gross == 0:
                ratio = 0.0 if returned == 0 else float("inf")
            else:
                ratio = returned / gross
            if not ratio <= self.max_return_ratio:
                out.append("max_return_ratio")
        return out


def day_of(event_time):
    return event_time // MS_PER_DAY  # Python floors, also for negative times


MAX_AMOUNT_MINOR = 10**15
MAX_ITEMS = 10**9
MAX_ABS_DAY = 100_000_000


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def validate(obj):
    """Returns None when obj (a decoded JSON value) is a valid event, else a reason."""
    if not isinstance(obj, dict):
        return "not a JSON object"
    f = {k: v for k, v in obj.items() if v is not None}  # null means absent
    for k in ("event_id", "type", "customer_id", "event_time", "amount_minor", "items"):
        if k not in f:
            return "missing field: " + k
    if not isinstance(f["event_id"], str):
        return "event_id not a string"
    if f["type"] not in ("purchase", "return"):
        return "bad type"
    if not isinstance(f["customer_id"], str):
        return "customer_id not a string"
    if "order_id" in f and not isinstance(f["order_id"], str):
        return "order_id not a string"
    if not _is_int(f["event_time"]):
        return "event_time not an integer"  # the generator never writes RFC 3339
    if not _is_int(f["amount_minor"]):
        return "amount_minor not an integer"
    if "currency" in f:
        if not isinstance(f["currency"], str):
            return "currency not a string"
        if len(f["currency"].encode()) > 3:
            return "currency too long"
    if not _is_int(f["items"]):
        return "items not an integer"
    if f["event_id"] == "":
        return "event_id is empty"
    if f["customer_id"] == "":
        return "customer_id is empty"
    if f["amount_minor"] < 0:
        return "amount_minor is negative"
    if f["items"] < 0:
        return "items is negative"
    # hirefire's documented bounds (README, "Events"): sums stay exact in 64 bits
    if f["amount_minor"] > MAX_AMOUNT_MINOR:
        return "amount_minor too large"
    if f["items"] > MAX_ITEMS:
        return "items too large"
    if not -MAX_ABS_DAY <= f["event_time"] // MS_PER_DAY <= MAX_ABS_DAY:
        return "event_time out of range"
    return None


class _Pair:
    """One customer under one behaviour."""

    def __init__(self):
        self.events = []      # accepted events (dicts) that may still count
        self.target = False
        self.due = None       # pending expiry day, None when the window is empty


class Model:
    def __init__(self, behaviours, prune=True):
        self.behaviours = list(behaviours)
        self.prune = prune     # False keeps every event (for the self-test)
        self.clock = None
        self.pairs = {}        # (customer_id, behaviour index) -> _Pair
        self.recent = {}       # customer_id -> deque of the last 32 event ids
        self.signals = []
        self.dead_letters = 0
        self.dead_letter_lines = []  # line numbers given to process_line
        self.duplicates = 0
        self.late = 0          # (event, behaviour) pairs that were too late

    # --- windows -----------------------------------------------------------

    def metrics(self, pair, b, day):
        w = self.behaviours[b].window_days
        m = dict(orders=0, items=0, gross_minor=0, returned_minor=0,
                 net_minor=0, returns=0)
        for e in pair.events:
            if day - w < e["day"] <= day:
                if e["type"] == "purchase":
                    m["orders"] += 1
                    m["items"] += e["items"]
                    m["gross_minor"] += e["amount_minor"]
                else:
                    m["returns"] += 1
                    m["returned_minor"] += e["amount_minor"]
        m["net_minor"] = m["gross_minor"] - m["returned_minor"]
        return m

    def evaluate(self, customer, b, day, cause, effective_time, trigger):
        """Re-evaluates the pair at day; emits a signal on a class change."""
        pair = self.pairs[(customer, b)]
        beh = self.behaviours[b]
        m = self.metrics(pair, b, day)
        failing = beh.failing(m)
        target = not failing
        if target != pair.target:
            pair.target = target
            self.signals.append({
                "behaviour": beh.name,
                "customer_id": customer,
                "kind": "hire" if target else "fire",
                "cause": cause,
                "effective_time": effective_time,
                "metrics": m,
                "failing": failing,
                "trigger": trigger,
            })
        w = beh.window_days
        if self.prune:
            pair.events = [e for e in pair.events if e["day"] > day - w]
        in_window = [e["day"] for e in pair.events if day - w < e["day"] <= day]
        pair.due = min(in_window) + w if in_window else None

    # --- expiries ----------------------------------------------------------

    def process_expiries(self, up_to):
        # Every pair due by up_to, keyed by (due, customer bytes, behaviour).
        # Processing one pair changes only that pair's due day, so after each
        # step only its entry is replaced; the minimum is taken afresh each time.
        due = {}
        for (customer, b), pair in self.pairs.items():
            if pair.due is not None and pair.due <= up_to:
                due[(customer, b)] = (pair.due, customer.encode(), b)
        while due:
            customer, b = min(due, key=due.get)
            day = due.pop((customer, b))[0]
            self.evaluate(customer, b, day, "expiry", day * MS_PER_DAY, None)
            pair = self.pairs[(customer, b)]
            if pair.due is not None and pair.due <= up_to:
                due[(customer, b)] = (pair.due, customer.encode(), b)

    def advance_to(self, day):
        if self.clock is None or day > self.clock:
            self.process_expiries(day)
            self.clock = day

    # --- events ------------------------------------------------------------

    def process_line(self, line, lineno=None):
        """One line of a JSON-lines file (without its newline)."""
        if line.strip(" \t\r") == "":
            return  # blank lines carry no event
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None  # not JSON: invalid
        if not self.process_event(obj):
            self.dead_letter_lines.append(lineno)

    def process_event(self, obj):
        """One decoded event; returns False when it is invalid."""
        # 1. invalid
        if validate(obj) is not None:
            self.dead_letters += 1
            return False
        customer = obj["customer_id"]
        # 2. duplicates
        recent = self.recent.setdefault(customer, deque(maxlen=RECENT_IDS))
        if obj["event_id"] in recent:
            self.duplicates += 1
            return True
        recent.append(obj["event_id"])
        e = {"type": obj["type"], "day": day_of(obj["event_time"]),
             "amount_minor": obj["amount_minor"], "items": obj["items"]}
        d = e["day"]
        # 3. clock
        if self.clock is None or d > self.clock:
            self.advance_to(d)
        c = self.clock
        # 4 and 5, behaviour by behaviour in configuration order
        for b, beh in enumerate(self.behaviours):
            if d <= c - beh.window_days:
                self.late += 1
                continue
            pair = self.pairs.setdefault((customer, b), _Pair())
            pair.events.append(e)
            self.evaluate(customer, b, c, obj["type"], obj["event_time"],
                          {"event_id": obj["event_id"]})
        return True


def run(behaviours, lines, advance_to=None, prune=True):
    """Runs the model over JSON lines; returns the model."""
    m = Model(behaviours, prune)
    for lineno, line in enumerate(lines, 1):
        m.process_line(line, lineno)
    if advance_to is not None:
        m.advance_to(advance_to)
    return m

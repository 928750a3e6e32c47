"""`hirefire replay --history` and `--report` on the Online Retail year.

The history CSV is checked against the reference model of SEMANTICS.md (the
same signals, attributed to the stream's clock day); the report is rendered
in a real headless browser (Debian's chromium) to a PNG and to its DOM: it
loads with no console message, has one section per behaviour with one line
per configuration, and the numbers in its tables are the history's.
"""

import csv
import datetime
import html.parser
import shutil
import struct
import subprocess

import pytest

import semantics_model
from semantics_model import MS_PER_DAY, Behaviour

RETAIL = [
    Behaviour("repeat", window_days=90, min_orders=2),
    Behaviour("valuable", window_days=90, min_orders=None, min_net_minor=50000,
              max_return_ratio=0.5),
    Behaviour("loyal", window_days=365, min_orders=4),
]
B_CONFIG = ("behaviour.repeat.window_days=60\nbehaviour.repeat.min_orders=2\n"
            "behaviour.big.window_days=90\nbehaviour.big.min_orders=off\n"
            "behaviour.big.min_net_minor=100000\n")
B_BEHAVIOURS = [Behaviour("repeat", window_days=60, min_orders=2),
                Behaviour("big", window_days=90, min_orders=None, min_net_minor=100000)]


@pytest.fixture(scope="module")
def retail(retail_events, source_dir):
    return retail_events, source_dir / "config" / "hirefire.properties"


def model_history(behaviours, lines):
    """{(day, behaviour): row} from the model: the signals of an expiry count on
    its due day, those of an event on the clock day it was applied at."""
    m = semantics_model.Model(behaviours)
    attributed = []
    for line in lines:
        before = len(m.signals)
        m.process_line(line)
        for s in m.signals[before:]:
            day = s["effective_time"] // MS_PER_DAY if s["cause"] == "expiry" else m.clock
            attributed.append((day, s))
    running = {b.name: 0 for b in behaviours}
    keys = [f"{k}_{c}" for k in ("hire", "fire") for c in ("purchase", "return", "expiry")]
    out, i = {}, 0
    for day in range(attributed[0][0], m.clock + 1):
        counts = {b.name: dict.fromkeys(keys, 0) for b in behaviours}
        while i < len(attributed) and attributed[i][0] <= day:
            s = attributed[i][1]
            counts[s["behaviour"]][f"{s['kind']}_{s['cause']}"] += 1
            running[s["behaviour"]] += 1 if s["kind"] == "hire" else -1
            i += 1
        for b in behaviours:
            out[(day, b.name)] = {"target": running[b.name], **counts[b.name]}
    assert i == len(attributed)
    return out


def replay(hirefire, events, config, *args):
    p = subprocess.run([hirefire, "replay", "--quiet", "--input", str(events), "--config",
                        str(config), "--output", "/dev/null", *args], capture_output=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    return p


def read_history(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return rows


def test_history_equals_the_model(hirefire, retail, tmp_path):
    events, config = retail
    hist = tmp_path / "history.csv"
    replay(hirefire, events, config, "--history", str(hist))
    rows = read_history(hist)
    want = model_history(RETAIL, events.read_text().splitlines())
    assert len(rows) == len(want)
    for r in rows:
        key = ((datetime.date.fromisoformat(r["day"]) - datetime.date(1970, 1, 1)).days,
               r["behaviour"])
        w = want[key]
        assert r["configuration"] == "A"
        assert int(r["target"]) == w["target"], r
        for k in ("hire_purchase", "hire_return", "hire_expiry", "fire_purchase",
                  "fire_return", "fire_expiry"):
            assert int(r[k]) == w[k], (r, k)
        assert int(r["hires"]) == w["hire_purchase"] + w["hire_return"] + w["hire_expiry"]
        assert int(r["fires"]) == w["fire_purchase"] + w["fire_return"] + w["fire_expiry"]
    # The year in days, three behaviours a day, in order.
    days = [r["day"] for r in rows[::3]]
    assert days == sorted(days) and len(set(days)) == len(days)
    assert days[0] == "2010-12-01" and days[-1] == "2011-12-09"


class Dom(html.parser.HTMLParser):
    """What the tests read off the rendered DOM."""

    def __init__(self):
        super().__init__()
        self.sections = []     # behaviour names
        self.series = {}       # behaviour -> [config of each polyline]
        self.cells = {}        # (behaviour, config, key) -> text
        self.scripts = 0
        self._beh = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self._beh = a.get("data-behaviour")
            self.sections.append(self._beh)
            self.series[self._beh] = []
        elif tag == "polyline" and "series" in a.get("class", ""):
            self.series[self._beh].append(a["data-config"])
        elif tag == "tr" and "data-config" in a:
            self._config = a["data-config"]
        elif tag == "td" and "data-k" in a:
            self._cell = (self._beh, self._config, a["data-k"])
        elif tag == "script":
            self.scripts += 1

    def handle_data(self, data):
        if self._cell is not None:
            self.cells[self._cell] = data
            self._cell = None


def chromium():
    exe = shutil.which("chromium")
    assert exe, "chromium is not installed (scripts/setup installs Debian's chromium)"
    return exe


def render(page, png, width, height):
    """Renders page to png; returns (DOM text, browser log)."""
    base = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--enable-logging=stderr", "--v=0", f"--window-size={width},{height}"]
    shot = subprocess.run(base + [f"--screenshot={png}", page.as_uri()],
                          capture_output=True, timeout=120, text=True)
    dom = subprocess.run(base + ["--dump-dom", page.as_uri()], capture_output=True,
                         timeout=120, text=True)
    assert dom.returncode == 0 and shot.returncode == 0, shot.stderr + dom.stderr
    return dom.stdout, shot.stderr + dom.stderr


def png_size(path):
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def check_tables(dom, hist_rows, label, behaviours):
    for name in behaviours:
        rows = [r for r in hist_rows if r["behaviour"] == name and r["configuration"] == label]
        sums = {k: sum(int(r[k]) for r in rows) for k in (
            "hires", "fires", "hire_purchase", "hire_return", "hire_expiry",
            "fire_purchase", "fire_return", "fire_expiry")}
        sums["target_end"] = int(rows[-1]["target"])
        sums["peak"] = max(int(r["target"]) for r in rows)
        for k, v in sums.items():
            assert dom.cells[(name, label, k)] == str(v), (name, label, k)


def test_the_report_renders_in_a_browser_with_the_history_numbers(hirefire, retail, tmp_path):
    events, config = retail
    hist, page = tmp_path / "history.csv", tmp_path / "report.html"
    replay(hirefire, events, config, "--history", str(hist), "--report", str(page))
    text = page.read_text()
    assert "<script" not in text and "http://" not in text and "https://" not in text
    dom_text, log = render(page, tmp_path / "laptop.png", 1280, 2400)
    assert "CONSOLE" not in log, log
    assert png_size(tmp_path / "laptop.png") == (1280, 2400)
    dom = Dom()
    dom.feed(dom_text)
    assert dom.sections == ["repeat", "valuable", "loyal"]
    assert dom.series == {"repeat": ["A"], "valuable": ["A"], "loyal": ["A"]}
    assert dom.scripts == 0
    check_tables(dom, read_history(hist), "A", ["repeat", "valuable", "loyal"])
    # A phone's width renders too, and the page prints: a section a page or two.
    render(page, tmp_path / "phone.png", 390, 1600)
    assert png_size(tmp_path / "phone.png") == (390, 1600)
    pdf = tmp_path / "report.pdf"
    p = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                        "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri()],
                       capture_output=True, timeout=120, text=True)
    assert p.returncode == 0, p.stderr
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-"
    pages = data.count(b"/Type /Page") - data.count(b"/Type /Pages")
    assert 3 <= pages <= 6, pages


def test_a_compared_report_has_a_line_per_configuration(hirefire, retail, tmp_path):
    events, config = retail
    b = tmp_path / "b.properties"
    b.write_text(B_CONFIG)
    hist, page = tmp_path / "history.csv", tmp_path / "report.html"
    replay(hirefire, events, config, "--compare", str(b), "--history", str(hist),
           "--report", str(page))
    dom_text, log = render(page, tmp_path / "laptop.png", 1280, 2400)
    assert "CONSOLE" not in log, log
    dom = Dom()
    dom.feed(dom_text)
    assert dom.sections == ["repeat", "valuable", "loyal", "big"]
    assert dom.series == {"repeat": ["A", "B"], "valuable": ["A"], "loyal": ["A"],
                          "big": ["B"]}
    rows = read_history(hist)
    check_tables(dom, rows, "A", ["repeat", "valuable", "loyal"])
    check_tables(dom, rows, "B", ["repeat", "big"])
    # B's history is that of B's own replay.
    own = tmp_path / "own.csv"
    replay(hirefire, events, b, "--history", str(own))
    assert [dict(r, configuration="A") for r in rows if r["configuration"] == "B"] == \
        read_history(own)

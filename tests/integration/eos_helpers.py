"""Helpers of the exactly-once and chaos tests (test_exactly_once.py,
test_chaos.py): generated input in a topic, `hirefire run` instances that
are killed, stopped and restarted, and the reference output of
`hirefire replay --topic` to compare with, as multisets."""

import collections
import os
import random
import signal
import subprocess
import time

import servers

RUN_TIMEOUT = 240


def write_config(path, kafka, redis_url, topic, output, dead, group, guarantee,
                 extra=""):
    path.write_text(
        f"input.topics={topic}\n"
        "input.format=json\n"
        f"output.topic={output}\n"
        "output.format=json\n"
        f"dead_letter.topic={dead}\n"
        "store.backend=redis\n"
        f"redis.url={redis_url}\n"
        f"processing.guarantee={guarantee}\n"
        "http.listen=\n"
        "log.level=info\n"
        f"kafka.bootstrap.servers={kafka.bootstrap}\n"
        f"kafka.group.id={group}\n"
        "kafka.session.timeout.ms=6000\n"
        "kafka.heartbeat.interval.ms=500\n" + extra)
    return path


BAD = [(f"bad{i}", f"not json {i}") for i in range(25)]


def load_input(hirefire, kafka, work, topic, events, customers, seed):
    """Generated events (keyed by customer) then 25 messages that are not
    JSON (dead letters), in topic. Returns the bad messages."""
    data = work / f"{topic}.json"
    subprocess.run([hirefire, "gen", "-s", str(seed), "-n", str(customers), "-e",
                    str(events), "-o", str(data), "-q"], check=True, timeout=120)
    subprocess.run([hirefire, "produce", "-i", str(data), "-t", topic, "-b",
                    kafka.bootstrap, "-f", "json", "-q"], check=True, timeout=300)
    kafka.produce(topic, BAD)
    return BAD


def reference(hirefire, config, topic, work):
    """Multiset of the signals `hirefire replay --topic` gives."""
    out = work / "reference.json"
    subprocess.run([hirefire, "replay", "-c", str(config), "--topic", topic, "-q", "-o",
                    str(out), "-X", "store.backend=memory"], check=True, timeout=300)
    return collections.Counter(line for line in out.read_text().splitlines() if line)


def output(kafka, topic, read_committed=True):
    return collections.Counter(r.value for r in kafka.consume(
        topic, read_committed=read_committed, timeout=180))


def dead_letters(kafka, topic):
    """(source offset header, key, value) of each committed dead letter."""
    recs = kafka.consume(topic, read_committed=True)
    return collections.Counter(
        (dict(r.headers).get("hirefire.source.partition"), dict(r.headers).get(
            "hirefire.source.offset"), r.key, r.value) for r in recs)


_running = []  # every Instance process started, for kill_leftovers()


def kill_leftovers():
    """SIGKILLs the Instance processes still running (after a failed test)."""
    while _running:
        proc = _running.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class Instance:
    """One `hirefire run` process, its log in work/<name>-<n>.log."""

    def __init__(self, hirefire, config, work, name, extra=()):
        self.hirefire, self.config, self.work, self.name = hirefire, config, work, name
        self.extra = list(extra)
        self.proc = None
        self.starts = 0
        self.log = None

    def start(self, *args):
        self.starts += 1
        self.log = self.work / f"{self.name}-{self.starts}.log"
        with open(self.log, "wb") as f:
            self.proc = subprocess.Popen(
                [self.hirefire, "run", "-c", str(self.config), *self.extra, *args],
                stdout=subprocess.DEVNULL, stderr=f)
        _running.append(self.proc)
        return self

    def text(self):
        return self.log.read_text(errors="replace") if self.log else ""

    def wait_for(self, needle, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if needle in self.text():
                return True
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited {self.proc.returncode}:\n"
                                     + self.text()[-4000:])
            time.sleep(0.05)
        raise AssertionError(f"{self.name}: no {needle!r} within {timeout} s:\n"
                             + self.text()[-4000:])

    def kill(self, sig=signal.SIGKILL):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            if sig == signal.SIGKILL:
                self.proc.wait(timeout=30)

    def finish(self, timeout=RUN_TIMEOUT):
        """Waits for a run started with --max-idle-ms; asserts exit 0."""
        rc = self.proc.wait(timeout=timeout)
        assert rc == 0, f"{self.name} exited {rc}:\n" + self.text()[-6000:]

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


def kill_loop(inst, kills, rng, low=0.2, high=1.5):
    """Starts inst, and kill -9s it `kills` times at random moments once it
    holds partitions, restarting it each time."""
    for _ in range(kills):
        inst.start()
        inst.wait_for("assigned ")
        time.sleep(rng.uniform(low, high))
        inst.kill()
    return inst


def new_rng(seed_env="HF_CHAOS_SEED"):
    seed = int(os.environ.get(seed_env, str(random.randrange(1 << 30))))
    print(f"random seed {seed} (set {seed_env} to repeat)")
    return random.Random(seed)


def create_topics(kafka, *specs):
    """specs: (name, partitions) pairs, created with one tool start."""
    servers._run([str(kafka.script), "topic", "--dir", str(kafka.dir),
                  *[str(x) for spec in specs for x in spec]], 180,
                 what="scripts/kafka topic")

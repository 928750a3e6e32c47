"""/readyz follows Redis: `hirefire run` with Redis state is ready while it
holds partitions and Redis answers; it turns "not ready: redis unavailable"
while redis-server is stopped (the input paused, /healthz still ok), ready
again when Redis is back, and its output is still exactly the replay's."""

import signal
import time
import urllib.error
import urllib.request

import pytest

import eos_helpers as eh
import servers
from servers import free_port, kafka_server  # noqa: F401  (session fixture)

PARTS = 2


@pytest.fixture
def redis():
    with servers.redis(aof=True) as r:
        yield r


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return None, ""


def wait_answer(port, path, want, inst, timeout=60):
    end = time.monotonic() + timeout
    got = None
    while time.monotonic() < end:
        got = get(port, path)
        if got == want:
            return
        assert inst.alive(), inst.text()[-4000:]
        time.sleep(0.1)
    raise AssertionError(f"{path}: {got!r}, want {want!r}\n" + inst.text()[-4000:])


def test_readyz_turns_not_ready_while_redis_is_stopped(hirefire, kafka_server, redis,
                                                       work_dir):
    kafka = kafka_server
    topic, out, dead, group = "ready-in", "ready-out", "ready-dead", "ready-group"
    eh.create_topics(kafka, (topic, PARTS), (out, PARTS), (dead, 1))
    first = work_dir / "first.json"
    second = work_dir / "second.json"
    for path, seed in ((first, 21), (second, 22)):
        eh.subprocess.run([hirefire, "gen", "-s", str(seed), "-n", "300", "-e", "3000",
                           "-o", str(path), "-q"], check=True, timeout=60)
    eh.subprocess.run([hirefire, "produce", "-i", str(first), "-t", topic, "-b",
                       kafka.bootstrap, "-f", "json", "-q"], check=True, timeout=120)
    port = free_port()
    config = eh.write_config(work_dir / "run.properties", kafka, redis.url, topic, out,
                             dead, group, "exactly_once")
    config.write_text(config.read_text().replace("http.listen=\n",
                                                 f"http.listen=127.0.0.1:{port}\n"))
    inst = eh.Instance(hirefire, config, work_dir, "run").start()
    wait_answer(port, "/readyz", (200, "ready\n"), inst)

    redis.stop(keep=True)
    # new input makes the next batch need Redis
    eh.subprocess.run([hirefire, "produce", "-i", str(second), "-t", topic, "-b",
                       kafka.bootstrap, "-f", "json", "-q"], check=True, timeout=120)
    wait_answer(port, "/readyz", (503, "not ready: redis unavailable\n"), inst)
    assert get(port, "/healthz") == (200, "ok\n")

    redis.start()
    wait_answer(port, "/readyz", (200, "ready\n"), inst)
    inst.wait_for("Redis available again")

    # the transactions and Redis calls are in the metrics
    status, text = get(port, "/metrics")
    assert status == 200
    values = dict(line.rsplit(" ", 1) for line in text.splitlines()
                  if line and not line.startswith("#"))
    assert int(values['hirefire_transactions_total{result="committed"}']) >= 1
    assert int(values['hirefire_transactions_total{result="aborted"}']) == 0
    assert int(values["hirefire_redis_call_seconds_count"]) >= 2

    # stop, run to the end, then the output is exactly the replay's
    inst.kill(signal.SIGTERM)
    inst.finish(timeout=60)
    inst.start("--max-idle-ms", "2000")
    inst.finish(timeout=120)
    ref = eh.reference(hirefire, config, topic, work_dir)
    assert sum(ref.values()) > 100
    assert eh.output(kafka, out, read_committed=True) == ref

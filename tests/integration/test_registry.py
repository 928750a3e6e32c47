"""`hirefire produce` with a schema registry (the fake one in this folder):
the event schema is registered under <topic>-value and the registry's id is
used; basic auth from the URL; exact errors when the registry is down or
refuses. Kafka is librdkafka's in-process mock cluster, so no broker is
needed. (The registry client's cache is tested in tests/unit/test_registry.c
against the same fake server.)
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_registry import FakeRegistry  # noqa: E402

HIREFIRE = os.environ.get("HIREFIRE", "hirefire")
SOURCE = Path(os.environ.get("HF_SOURCE_DIR", Path(__file__).resolve().parents[2]))
MOCK = ["-X", "kafka.test.mock.num.brokers=1"]


def run(*args, stdin=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIREFIRE_")}
    return subprocess.run([HIREFIRE, *args], input=stdin, capture_output=True,
                          text=True, timeout=120, env=env)


def stderr_lines(p):
    """stderr without librdkafka's log lines (the mock cluster announces itself)."""
    return [line for line in p.stderr.splitlines() if " kafka: " not in line]


@pytest.fixture
def events(tmp_path):
    path = tmp_path / "events.json"
    p = run("gen", "--events", "200", "--customers", "50", "--seed", "3",
            "--output", str(path), "--quiet")
    assert p.returncode == 0, p.stderr
    assert len(path.read_text().splitlines()) == 200
    return path


@pytest.fixture
def registry():
    reg = FakeRegistry().start()
    yield reg
    reg.stop()


def counts(reg):
    with reg.state.lock:
        return dict(reg.state.paths)


def test_registers_the_event_schema_and_uses_its_id(events, registry, tmp_path):
    # another schema first, so the event schema gets id 2, not the default 1
    registry.state.add('{"type": "string"}', 1)
    p = run("produce", "--input", str(events), "--topic", "orders",
            "--schema-dir", str(tmp_path / "schemas"),
            "-X", f"schema.registry.url={registry.url}", *MOCK)
    assert p.returncode == 0, p.stderr
    lines = stderr_lines(p)
    assert lines[0] == f"schema id 2 for subject orders-value (schema registry {registry.url})"
    assert lines[1] == "produced to topic orders:"
    assert lines[-1] == "200 messages produced, 0 invalid events skipped"
    assert sum(int(l.split(": ")[1].split()[0]) for l in lines[2:-1]) == 200
    assert counts(registry) == {"POST /subjects/orders-value/versions": 1}
    schema = (SOURCE / "schemas" / "customer_event.avsc").read_text()
    assert registry.state.subjects == {"orders-value": [2]}
    assert json.loads(registry.state.schemas[2]) == json.loads(schema)
    # --schema-dir holds the schema under the registry's id
    assert (tmp_path / "schemas" / "2.avsc").read_text() == registry.state.schemas[2]

    # the same schema again: the same id
    p = run("produce", "--input", str(events), "--topic", "orders", "--quiet",
            "-X", f"schema.registry.url={registry.url}", *MOCK)
    assert p.returncode == 0, p.stderr
    assert registry.state.subjects == {"orders-value": [2]}
    assert counts(registry) == {"POST /subjects/orders-value/versions": 2}


def test_explicit_schema_id_and_json_ask_nothing(events, registry):
    for extra in (["--schema-id", "9"], ["--format", "json"]):
        p = run("produce", "--input", str(events), "--topic", "orders", "--quiet",
                "-X", f"schema.registry.url={registry.url}", *MOCK, *extra)
        assert p.returncode == 0, p.stderr
    assert counts(registry) == {}


def test_basic_auth_from_the_url_and_no_password_in_output():
    reg = FakeRegistry(auth="svc:pa:ss").start()
    try:
        events = run("gen", "--events", "10", "--quiet").stdout
        url = f"http://svc:pa%3Ass@127.0.0.1:{reg.port}"
        p = run("produce", "--input", "-", "--topic", "t",
                "-X", f"schema.registry.url={url}", *MOCK, stdin=events)
        assert p.returncode == 0, p.stderr
        assert stderr_lines(p)[0] == \
            f"schema id 1 for subject t-value (schema registry http://127.0.0.1:{reg.port})"
        assert "pa:ss" not in p.stderr and "pa%3Ass" not in p.stderr

        p = run("produce", "--input", "-", "--topic", "t",
                "-X", f"schema.registry.url=http://127.0.0.1:{reg.port}", *MOCK,
                stdin=events)
        assert p.returncode == 1
        assert stderr_lines(p) == [
            "hirefire produce: schema registry returned 401 for subject t-value: Unauthorized"]
    finally:
        reg.stop()


def test_registry_down():
    p = run("produce", "--input", "-", "--topic", "t",
            "-X", "schema.registry.url=http://127.0.0.1:1", *MOCK, stdin="")
    assert p.returncode == 1
    assert stderr_lines(p) == [
        "hirefire produce: schema registry http://127.0.0.1:1/subjects/t-value/versions: "
        "Couldn't connect to server"]

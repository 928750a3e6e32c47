"""Tests of the test servers themselves: scripts/kafka, scripts/redis and the
helpers in servers.py. They start a real Kafka broker and a real
redis-server; a missing Java, Maven, kcat or redis-server fails them with the
scripts' message (nothing is skipped)."""

import os
import signal
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import servers
from servers import Record, ServerError

TOPIC = "hf.servers.test"


def loopback_listeners():
    """Ports in LISTEN state on 127.0.0.1, and ports listening elsewhere."""
    lo, other = set(), set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            next(f)
            for line in f:
                cols = line.split()
                addr, port = cols[1].split(":")
                if cols[3] != "0A":  # LISTEN
                    continue
                # 127.0.0.1, also as an IPv4-mapped IPv6 address (Java).
                loop = addr in ("0100007F", "0000000000000000FFFF00000100007F")
                (lo if loop else other).add(int(port, 16))
    return lo, other


def script(kind, *args, env=None):
    return subprocess.run([str(servers.SCRIPTS_DIR / kind), *args],
                          capture_output=True, text=True, timeout=60,
                          env=env)


# --- helpers without servers --------------------------------------------------

def test_read_env_parses_assignments(tmp_path):
    p = tmp_path / "env"
    p.write_text("# made by a test\nA=1\n\nB=redis://127.0.0.1:5/0\nC=\n")
    assert servers.read_env(p) == {"A": "1", "B": "redis://127.0.0.1:5/0",
                                   "C": ""}


def test_read_env_rejects_a_line_without_equals(tmp_path):
    p = tmp_path / "env"
    p.write_text("A=1\nnonsense\n")
    with pytest.raises(ValueError) as e:
        servers.read_env(p)
    assert str(e.value) == f"{p}:2: not KEY=VALUE: 'nonsense'"


def test_free_port_can_be_bound():
    import socket
    port = servers.free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_parse_records_reads_lengths_nulls_binary_and_headers():
    out = (b"2\x1f7\x1f1000\x1f2\x1f3\x1fk1v\x1ez" + b"a=1,b=x y\x1e"
           b"0\x1f0\x1f5\x1f-1\x1f0\x1f\x1e")
    recs = servers._parse_records(out, text=False)
    assert recs == [
        Record(2, 7, b"k1", b"v\x1ez", (("a", "1"), ("b", "x y")), 1000),
        Record(0, 0, None, b"", (), 5),
    ]


def test_pid_alive_is_false_for_a_reaped_and_true_for_a_live_process():
    p = subprocess.Popen(["sleep", "30"])
    try:
        assert servers.pid_alive(p.pid) is True
    finally:
        p.kill()
        p.wait()
    assert servers.pid_alive(p.pid) is False


def test_kafka_refuses_java_older_than_17(tmp_path):
    fake = tmp_path / "jdk" / "bin"
    fake.mkdir(parents=True)
    (fake / "java").write_text(
        "#!/bin/sh\necho '    java.specification.version = 11' >&2\n")
    (fake / "java").chmod(0o755)
    env = dict(os.environ, JAVA_HOME=str(tmp_path / "jdk"))
    res = script("kafka", "start", "--dir", str(tmp_path / "k"), env=env)
    assert res.returncode == 1
    assert res.stderr == (f"scripts/kafka: {fake}/java is Java 11; "
                          "Kafka 4 needs Java 17 or newer\n")
    assert not (tmp_path / "k").exists()


def test_a_failed_start_raises_the_scripts_message_and_leaves_no_dir(
        tmp_path, monkeypatch):
    fake = tmp_path / "jdk" / "bin"
    fake.mkdir(parents=True)
    (fake / "java").write_text(
        "#!/bin/sh\necho '    java.specification.version = 11' >&2\n")
    (fake / "java").chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    with pytest.raises(ServerError) as e:
        servers.start_kafka()
    assert str(e.value) == ("scripts/kafka start failed (exit 1): "
                            f"scripts/kafka: {fake}/java is Java 11; "
                            "Kafka 4 needs Java 17 or newer")
    assert os.listdir(tmp_path / "tmp") == []


@pytest.mark.parametrize("kind", ["kafka", "redis"])
def test_scripts_leave_foreign_directories_alone(tmp_path, kind):
    d = tmp_path / "d"
    d.mkdir()
    (d / "precious").write_text("keep me")
    res = script(kind, "start", "--dir", str(d))
    assert res.returncode == 1
    assert res.stderr == (f"scripts/{kind}: {d} exists and is not empty; "
                          "give an empty or new --dir\n")
    res = script(kind, "stop", "--dir", str(d))
    assert res.returncode == 1
    assert res.stderr == (f"scripts/{kind}: {d} is not a directory made by "
                          f"scripts/{kind}; not touching it\n")
    assert (d / "precious").read_text() == "keep me"


# --- real servers ---------------------------------------------------------------

def test_both_servers_start_serve_and_stop_cleanly():
    k = servers.start_kafka()
    try:
        r = servers.start_redis()
    except BaseException:
        k.stop()
        raise
    kdir, rdir, kpid, rpid = k.dir, r.dir, k.pid, r.pid
    try:
        # The env files.
        kport = int(k.env["KAFKA_PORT"])
        cport = int(k.env["KAFKA_CONTROLLER_PORT"])
        assert sorted(k.env) == ["KAFKA_BOOTSTRAP", "KAFKA_CONTROLLER_PORT",
                                 "KAFKA_DIR", "KAFKA_LIBS", "KAFKA_PID",
                                 "KAFKA_PORT", "KAFKA_VERSION"]
        assert k.bootstrap == f"127.0.0.1:{kport}"
        assert k.env["KAFKA_DIR"] == str(kdir)
        assert sorted(r.env) == ["REDIS_DIR", "REDIS_PID", "REDIS_PORT",
                                 "REDIS_URL"]
        assert r.url == f"redis://127.0.0.1:{r.port}/0"
        assert r.env["REDIS_DIR"] == str(rdir)
        assert servers.pid_alive(kpid) and servers.pid_alive(rpid)

        # Listening on loopback only.
        lo, other = loopback_listeners()
        assert {kport, cport, r.port} <= lo
        assert not {kport, cport, r.port} & other

        # Settings that transactions and consumer groups need on one broker.
        props = (kdir / "server.properties").read_text().splitlines()
        for line in ("transaction.state.log.replication.factor=1",
                     "transaction.state.log.min.isr=1",
                     "offsets.topic.replication.factor=1",
                     "auto.create.topics.enable=false"):
            assert line in props

        res = script("kafka", "status", "--dir", str(kdir))
        assert res.returncode == 0
        assert res.stdout.splitlines()[0] == f"running (pid {kpid})"

        # A topic with 4 partitions, messages in each, read back exactly.
        k.create_topic(TOPIC, 4)
        assert k.topics()[TOPIC] == 4
        for p in range(4):
            k.produce(TOPIC, [(f"c{p}", f"purchase:{10 * p}"),
                              (f"c{p}", f"return:{p}")], partition=p)
        k.produce(TOPIC, [(None, "no key"), ("", "empty key")], partition=0,
                  headers=[("source", "test"), ("n", "2")])
        recs = k.consume(TOPIC)
        assert [(x.partition, x.offset, x.key, x.value, x.headers)
                for x in recs] == [
            (0, 0, "c0", "purchase:0", ()),
            (0, 1, "c0", "return:0", ()),
            (0, 2, None, "no key", (("source", "test"), ("n", "2"))),
            (0, 3, "", "empty key", (("source", "test"), ("n", "2"))),
            (1, 0, "c1", "purchase:10", ()),
            (1, 1, "c1", "return:1", ()),
            (2, 0, "c2", "purchase:20", ()),
            (2, 1, "c2", "return:2", ()),
            (3, 0, "c3", "purchase:30", ()),
            (3, 1, "c3", "return:3", ()),
        ]
        # No transaction: the last stable offsets are the high watermarks.
        assert servers.last_offsets(k.bootstrap, TOPIC, False) == {0: 4, 1: 2, 2: 2, 3: 2}
        assert servers.last_offsets(k.bootstrap, TOPIC, True) == {0: 4, 1: 2, 2: 2, 3: 2}
        assert k.consume(TOPIC, read_committed=True) == recs
        assert [x.value for x in k.consume(TOPIC, partition=1)] == [
            "purchase:10", "return:1"]

        # Bytes that are kcat's delimiters go through unchanged.
        blob = bytes(range(256))
        k.produce(TOPIC, [(b"bin\x1f", blob)], partition=3)
        last = k.consume(TOPIC, partition=3, offset="2", text=False)
        assert [(x.offset, x.key, x.value) for x in last] == [
            (2, b"bin\x1f", blob)]

        # No topic is created by accident.
        with pytest.raises(ServerError) as e:
            k.consume("hf.missing")
        assert str(e.value) == ("kcat -C failed (exit 1): % ERROR: Topic "
                                "hf.missing error: Broker: Unknown topic or "
                                "partition")
        assert "hf.missing" not in k.topics()
        with pytest.raises(ServerError) as e:
            k.create_topic(TOPIC, 4)
        assert f"Topic '{TOPIC}' already exists." in str(e.value)

        # Redis.
        assert r.command("PING") == "PONG"
        assert r.command("SET", "hf:k", "v1") == "OK"
        assert r.command("GET", "hf:k") == b"v1"
        assert r.command("CONFIG", "GET", "bind") == [b"bind", b"127.0.0.1"]
        assert r.command("CONFIG", "GET", "appendonly") == [b"appendonly",
                                                            b"no"]
        with pytest.raises(servers.RedisReplyError) as e:
            r.command("INCR", "hf:k")
        assert str(e.value) == "ERR value is not an integer or out of range"
    finally:
        k.stop()
        r.stop()
    assert servers.wait_gone(kpid) and servers.wait_gone(rpid)
    assert not kdir.exists()
    assert not rdir.exists()
    res = script("kafka", "status", "--dir", str(kdir))
    assert (res.returncode, res.stdout) == (3, f"not running ({kdir})\n")
    res = script("redis", "status", "--dir", str(rdir))
    assert (res.returncode, res.stdout) == (3, f"not running ({rdir})\n")


def test_killed_servers_restart_with_their_data_and_ports():
    with servers.redis(aof=True) as r:
        port, pid = r.port, r.pid
        assert r.command("SET", "hf:survives", "yes") == "OK"
        r.stop(kill=True)
        assert servers.wait_gone(pid)
        assert r.dir.is_dir()
        r.start()
        assert (r.port, r.pid != pid) == (port, True)
        assert r.command("GET", "hf:survives") == b"yes"

    with servers.kafka() as k:
        port, pid = k.bootstrap, k.pid
        k.create_topic("hf.restart", 1)
        k.produce("hf.restart", [("a", "1"), ("b", "2")])
        k.stop(kill=True)
        assert servers.wait_gone(pid)
        k.start()
        assert (k.bootstrap, k.pid != pid) == (port, True)
        assert [(x.key, x.value) for x in k.consume("hf.restart")] == [
            ("a", "1"), ("b", "2")]


def assert_stopped(*started):
    """Each server's directory is removed and its process gone (40 s)."""
    deadline = time.monotonic() + 40
    while any(s.dir.exists() for s in started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(s.dir.exists() for s in started)
    assert all(servers.wait_gone(s.pid) for s in started)


def test_servers_stop_when_the_watched_process_ends(tmp_path):
    parent = subprocess.Popen(["sleep", "600"])
    try:
        r = servers.Redis(tmp_path / "r")
        k = servers.Kafka(tmp_path / "k")
        for s in (r, k):
            res = script(s.kind, "start", "--dir", str(s.dir), "--watch",
                         str(parent.pid))
            assert res.returncode == 0, res.stderr
            s.env = servers.read_env(res.stdout.strip())
    finally:
        parent.kill()
        parent.wait()
    assert_stopped(r, k)


def test_servers_stop_when_their_process_group_is_signalled(tmp_path):
    """Ctrl-C, timeout(1) or a cancelled CI job signal the whole process
    group, the watchdogs included: they stop the servers all the same."""
    r, k = servers.Redis(tmp_path / "r"), servers.Kafka(tmp_path / "k")
    starts = " && ".join(
        f"'{servers.SCRIPTS_DIR / s.kind}' start --dir '{s.dir}' --watch $$ "
        f"> '{tmp_path / s.kind}.env'" for s in (r, k))
    group = subprocess.Popen(["bash", "-c", starts + " && exec sleep 600"],
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"{s.kind}.env").read_text().strip()
                      if (tmp_path / f"{s.kind}.env").exists() else False
                      for s in (r, k)):
            assert group.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        for s in (r, k):
            s.env = servers.read_env((tmp_path / f"{s.kind}.env").read_text().strip())
    finally:
        os.killpg(group.pid, signal.SIGTERM)
        group.wait()
    assert_stopped(r, k)


def test_a_tls_redis_speaks_tls_only_with_the_certificates_it_made():
    r = servers.start_redis(None, "--tls")
    rdir, rpid = r.dir, r.pid
    try:
        tls = rdir / "tls"
        assert sorted(r.env) == ["REDIS_DIR", "REDIS_PID", "REDIS_PORT", "REDIS_TLS_CA",
                                 "REDIS_TLS_CERT", "REDIS_TLS_KEY", "REDIS_URL"]
        assert r.url == f"rediss://127.0.0.1:{r.port}/0"
        assert (r.env["REDIS_TLS_CA"], r.env["REDIS_TLS_CERT"], r.env["REDIS_TLS_KEY"]) == (
            str(tls / "ca.crt"), str(tls / "client.crt"), str(tls / "client.key"))
        assert r.command("PING") == "PONG"
        assert r.command("SET", "hf:k", "v") == "OK"
        assert r.command("CONFIG", "GET", "port") == [b"port", b"0"]
        assert r.command("CONFIG", "GET", "tls-auth-clients") == [b"tls-auth-clients",
                                                                   b"optional"]
        # The server certificate names 127.0.0.1 and localhost, signed by the CA.
        res = subprocess.run(["openssl", "verify", "-CAfile", str(tls / "ca.crt"),
                              str(tls / "server.crt"), str(tls / "client.crt")],
                             capture_output=True, text=True, check=True)
        assert res.stdout == f"{tls / 'server.crt'}: OK\n{tls / 'client.crt'}: OK\n"
        san = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName",
                              "-in", str(tls / "server.crt")],
                             capture_output=True, text=True, check=True).stdout
        assert san.splitlines()[1].strip() == "IP Address:127.0.0.1, DNS:localhost"
        # Plain RESP on the TLS port gets no answer.
        with pytest.raises((ConnectionError, OSError)):
            servers.redis_command(r.port, "PING", timeout=3)
        # A client that trusts another CA is refused by its own TLS check.
        with pytest.raises(ssl.SSLCertVerificationError):
            servers.redis_command(r.port, "PING", tls_ca=str(tls / "client.crt"))
    finally:
        r.stop()
    assert servers.wait_gone(rpid)
    assert not rdir.exists()


def test_a_cluster_of_three_masters_with_a_replica_each_starts_and_stops():
    c = servers.start_redis_cluster()
    cdir, pids = c.dir, c.pids
    try:
        assert sorted(c.env) == ["REDIS_CLUSTER_NODES", "REDIS_DIR", "REDIS_PIDS",
                                 "REDIS_PORTS", "REDIS_URL"]
        assert len(c.nodes) == 6 and len(set(c.nodes)) == 6
        assert sorted(c.ports) == sorted(int(p) for p in c.env["REDIS_PORTS"].split())
        assert c.url == f"redis://{c.nodes[0]}/0"
        lo, other = loopback_listeners()
        assert set(c.ports) | {p + 10000 for p in c.ports} <= lo
        assert not set(c.ports) & other
        for port in c.ports:
            info = c.command(port, "CLUSTER", "INFO").decode()
            assert "cluster_state:ok" in info.splitlines()
            assert "cluster_known_nodes:6" in info.splitlines()
            assert c.command(port, "CONFIG", "GET", "appendonly") == [b"appendonly", b"yes"]
        # Masters first: three masters owning all 16384 slots, three replicas.
        roles = [c.command(p, "ROLE")[0] for p in c.ports]
        assert roles == [b"master"] * 3 + [b"slave"] * 3
        slots = c.command(c.ports[0], "CLUSTER", "SLOTS")
        owners = {f"{s[2][0].decode()}:{s[2][1]}" for s in slots}
        assert owners == set(c.nodes[:3])
        assert sum(s[1] - s[0] + 1 for s in slots) == 16384
        # A key lives on the master of its slot; the others redirect.
        slot = c.command(c.ports[0], "CLUSTER", "KEYSLOT", "hf:{g:0}:meta")
        owner = next(f"{s[2][0].decode()}:{s[2][1]}" for s in slots if s[0] <= slot <= s[1])
        other_master = next(n for n in c.nodes[:3] if n != owner)
        with pytest.raises(servers.RedisReplyError) as e:
            c.command(int(other_master.rpartition(":")[2]), "SET", "hf:{g:0}:meta", "x")
        assert str(e.value) == f"MOVED {slot} {owner}"
        assert c.command(int(owner.rpartition(":")[2]), "SET", "hf:{g:0}:meta", "x") == "OK"
    finally:
        c.stop()
    for pid in pids:
        assert servers.wait_gone(pid)
    assert not cdir.exists()


def test_cluster_start_refuses_fewer_than_three_masters(tmp_path):
    res = script("redis", "cluster", "start", "--dir", str(tmp_path / "c"), "--masters", "2")
    assert res.returncode == 1
    assert res.stderr == ("scripts/redis: cluster start: Redis Cluster needs at least 3 "
                          "masters, got 2\n")
    assert not (tmp_path / "c").exists()

"""Real servers for the integration tests: a Kafka broker and a Redis server.

Wraps scripts/kafka and scripts/redis (which start a server on free
127.0.0.1 ports in a directory and stop it by pid) and talks to the servers
with kcat (Kafka) and a minimal RESP client (Redis). Standard library only;
the pytest fixtures are defined only when pytest is importable.

    from servers import kafka_server, redis_server   # session fixtures

    def test_x(kafka_server, redis_server):
        kafka_server.create_topic("events", 4)
        kafka_server.produce("events", [("c1", "v1")], partition=0)
        recs = kafka_server.consume("events", read_committed=True)
        redis_server.command("GET", "k")

or, for a server of one test's own:

    with servers.kafka() as k, servers.redis(aof=True) as r:
        ...

Every server is started with --watch <this process>: if the test process
dies without its teardown, the scripts stop the servers anyway.
"""

import contextlib
import os
import re
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

SOURCE_DIR = Path(os.environ.get("HF_SOURCE_DIR")
                  or Path(__file__).resolve().parents[2])
SCRIPTS_DIR = SOURCE_DIR / "scripts"

# A cold start fetches Kafka's jars with Maven first.
START_TIMEOUT = 300
STOP_TIMEOUT = 60

Bytes = Union[bytes, str]


class ServerError(RuntimeError):
    """A script or a kcat call failed; the message carries its stderr."""


# --- small helpers ----------------------------------------------------------

def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_env(path: Union[str, Path]) -> Dict[str, str]:
    """Parses an env file of KEY=VALUE lines (as the scripts write them).
    Blank lines and lines starting with # are skipped; anything else without
    '=' is an error."""
    env = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{path}:{n}: not KEY=VALUE: {line!r}")
        env[key.strip()] = value
    return env


def pid_alive(pid: int) -> bool:
    """True if process pid runs. A zombie (dead, not yet reaped) is dead."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    state = stat[stat.rindex(b")") + 2:][:1]
    return state not in (b"Z", b"X")


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    """Waits until /proc/<pid> is gone (dead and reaped); True if it is."""
    deadline = time.monotonic() + timeout
    while os.path.exists(f"/proc/{pid}"):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _run(argv: Sequence[str], timeout: float, stdin: Optional[bytes] = None,
         what: str = "") -> subprocess.CompletedProcess:
    try:
        res = subprocess.run(list(argv), input=stdin, capture_output=True,
                             timeout=timeout)
    except FileNotFoundError as e:
        raise ServerError(f"{argv[0]} not found: {e}") from None
    except subprocess.TimeoutExpired:
        raise ServerError(f"{what or argv[0]} timed out after {timeout}s: "
                          f"{' '.join(map(str, argv))}") from None
    if res.returncode != 0:
        raise ServerError(
            f"{what or argv[0]} failed (exit {res.returncode}): "
            f"{res.stderr.decode(errors='replace').strip()}")
    return res


def _b(x: Bytes) -> bytes:
    return x.encode() if isinstance(x, str) else bytes(x)


# --- servers ------------------------------------------------------------------

@dataclass
class Server:
    """A server started by scripts/<kind> in dir; env is its env file."""
    kind: str
    dir: Path
    env: Dict[str, str] = field(default_factory=dict)

    @property
    def script(self) -> Path:
        return SCRIPTS_DIR / self.kind

    @property
    def pid(self) -> int:
        return int(self.env[f"{self.kind.upper()}_PID"])

    @property
    def running(self) -> bool:
        return pid_alive(self.pid)

    def start(self, *args: str, watch: bool = True) -> "Server":
        """Runs `scripts/<kind> start --dir DIR ARGS` and reads the env file.
        On a directory kept by stop(keep=True) or stop(kill=True) this is a
        restart with the same ports and data."""
        argv = [str(self.script), "start", "--dir", str(self.dir)]
        if watch:
            argv += ["--watch", str(os.getpid())]
        res = _run(argv + list(args), START_TIMEOUT,
                   what=f"scripts/{self.kind} start")
        self.env = read_env(res.stdout.decode().strip().splitlines()[-1])
        return self

    def stop(self, keep: bool = False, kill: bool = False) -> None:
        """Stops the server by pid (TERM, then KILL if it hangs) and removes
        its directory unless keep. kill=True: KILL at once (a crash); the
        directory is kept."""
        argv = [str(self.script), "stop", "--dir", str(self.dir)]
        if keep:
            argv.append("--keep")
        if kill:
            argv.append("--kill")
        _run(argv, STOP_TIMEOUT, what=f"scripts/{self.kind} stop")


# Format of one consumed record: the lengths come first, so keys and values
# are read binary-safe; headers follow up to a record separator.
_KCAT_FMT = r"%p\x1f%o\x1f%T\x1f%K\x1f%S\x1f%k%s%h\x1e"


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    key: Optional[Bytes]
    value: Optional[Bytes]
    headers: Tuple[Tuple[str, str], ...] = ()
    timestamp: int = 0


def _parse_records(out: bytes, text: bool) -> List[Record]:
    recs = []
    pos = 0
    while pos < len(out):
        fields = []
        for _ in range(5):
            end = out.index(b"\x1f", pos)
            fields.append(int(out[pos:end]))
            pos = end + 1
        part, off, ts, klen, vlen = fields
        key = value = None
        if klen >= 0:
            key = out[pos:pos + klen]
            pos += klen
        if vlen >= 0:
            value = out[pos:pos + vlen]
            pos += vlen
        end = out.index(b"\x1e", pos)
        hdr = out[pos:end].decode(errors="replace")
        pos = end + 1
        headers = tuple(tuple(h.split("=", 1)) if "=" in h else (h, "")
                        for h in hdr.split(",")) if hdr else ()
        if text:
            key = key.decode() if key is not None else None
            value = value.decode() if value is not None else None
        recs.append(Record(part, off, key, value, headers, ts))
    return recs


def produce(bootstrap: str, topic: str,
            messages: Iterable[Tuple[Optional[Bytes], Bytes]],
            partition: Optional[int] = None,
            headers: Sequence[Tuple[str, str]] = (),
            timeout_ms: int = 20000) -> None:
    """Produces (key, value) pairs with kcat and waits for their delivery.
    key None: no key. headers go on every message. Without partition, the
    partitioner chooses by key. Raises ServerError if a message fails."""
    msgs = [(None if k is None else _b(k), _b(v)) for k, v in messages]
    base = ["kcat", "-P", "-b", bootstrap, "-t", topic,
            "-X", f"message.timeout.ms={timeout_ms}"]
    if partition is not None:
        base += ["-p", str(partition)]
    for name, val in headers:
        base += ["-H", f"{name}={val}"]
    timeout = timeout_ms / 1000 + 30
    if not any(b"\x1e" in x or b"\x1f" in x
               for k, v in msgs for x in (k or b"", v)):
        # One kcat for all: \x1f ends a key, \x1e a message.
        data = b"\x1e".join(v if k is None else k + b"\x1f" + v
                            for k, v in msgs)
        if msgs:
            _run(base + ["-K", r"\x1f", "-D", r"\x1e"], timeout, stdin=data,
                 what="kcat -P")
        return
    # Some bytes collide with the delimiters: one kcat per message, the
    # value read from a file (sent whole), the key as an argument.
    with tempfile.TemporaryDirectory(prefix="hf-kcat-") as tmp:
        path = os.path.join(tmp, "value")
        for k, v in msgs:
            if k is not None and b"\0" in k:
                raise ValueError("a key with a NUL byte cannot be produced with kcat")
            with open(path, "wb") as f:
                f.write(v)
            argv = list(base)
            if k is not None:
                argv += ["-k", k.decode("utf-8", "surrogateescape")]
            _run(argv + [path], timeout, what="kcat -P")


def last_offsets(bootstrap: str, topic: str, read_committed: bool) -> Dict[int, int]:
    """Partition -> the offset after its last message: the high watermark, or
    with read_committed the last stable offset (below the first message of a
    transaction still open)."""
    parts = topics(bootstrap).get(topic)
    if parts is None:
        raise ServerError(f"topic {topic} does not exist")
    argv = ["kcat", "-Q", "-b", bootstrap, "-X", "isolation.level=" +
            ("read_committed" if read_committed else "read_uncommitted")]
    for p in range(parts):
        argv += ["-t", f"{topic}:{p}:-1"]
    res = _run(argv, 30, what="kcat -Q")
    found = re.findall(r"^\S+ \[(\d+)\] offset (-?\d+)$", res.stdout.decode(), re.M)
    offsets = {int(p): int(o) for p, o in found}
    if sorted(offsets) != list(range(parts)):
        raise ServerError(f"kcat -Q {topic}: unexpected answer {res.stdout!r}")
    return offsets


def wait_stable(bootstrap: str, topic: str, timeout: float = 90) -> None:
    """Waits until no transaction is open on the topic (every partition's last
    stable offset is its high watermark). A producer killed mid-transaction
    leaves one open until the coordinator aborts it (transaction.timeout.ms,
    checked every 10 s) or its transactional.id is used again; until then a
    read_committed reader stops at the open transaction's first message and
    does not see what later transactions committed."""
    deadline = time.monotonic() + timeout
    while True:
        stable = last_offsets(bootstrap, topic, True)
        high = last_offsets(bootstrap, topic, False)
        if stable == high:
            return
        if time.monotonic() > deadline:
            raise ServerError(f"{topic}: a transaction is still open after {timeout} s "
                              f"(last stable offsets {stable}, high watermarks {high})")
        time.sleep(0.5)


def consume(bootstrap: str, topic: str, partition: Optional[int] = None,
            offset: str = "beginning", read_committed: bool = False,
            count: Optional[int] = None, text: bool = True,
            timeout: float = 60) -> List[Record]:
    """Reads the topic (or one partition) from offset to its current end with
    kcat and returns the records ordered by partition, then offset.
    read_committed: first waits until no transaction is open on the topic
    (wait_stable), then skips aborted ones. text: keys and values as str
    (UTF-8), else bytes.
    Headers are parsed from kcat's n=v CSV (no ',' or '=' in names)."""
    if read_committed:
        wait_stable(bootstrap, topic, max(timeout, 60))
    argv = ["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", offset, "-e",
            "-q", "-f", _KCAT_FMT]
    if partition is not None:
        argv += ["-p", str(partition)]
    if count is not None:
        argv += ["-c", str(count)]
    argv += ["-X", "isolation.level=" +
             ("read_committed" if read_committed else "read_uncommitted")]
    res = _run(argv, timeout, what="kcat -C")
    recs = _parse_records(res.stdout, text)
    return sorted(recs, key=lambda r: (r.partition, r.offset))


def metadata(bootstrap: str) -> dict:
    """The broker's metadata as kcat -L -J gives it."""
    import json
    res = _run(["kcat", "-L", "-J", "-b", bootstrap], 30, what="kcat -L")
    return json.loads(res.stdout)


def topics(bootstrap: str) -> Dict[str, int]:
    """Topic name -> partition count, internal topics included."""
    return {t["topic"]: len(t["partitions"])
            for t in metadata(bootstrap)["topics"] if "error" not in t}


class Kafka(Server):
    """A broker started by scripts/kafka."""

    def __init__(self, dir: Path, env: Optional[Dict[str, str]] = None):
        super().__init__("kafka", Path(dir), env or {})

    @property
    def bootstrap(self) -> str:
        return self.env["KAFKA_BOOTSTRAP"]

    def create_topic(self, name: str, partitions: int) -> None:
        """Creates a topic (replication factor 1) with Kafka's topic tool."""
        _run([str(self.script), "topic", "--dir", str(self.dir), name,
              str(partitions)], 120, what="scripts/kafka topic")

    def produce(self, topic: str, messages, **kw) -> None:
        produce(self.bootstrap, topic, messages, **kw)

    def consume(self, topic: str, **kw) -> List[Record]:
        return consume(self.bootstrap, topic, **kw)

    def topics(self) -> Dict[str, int]:
        return topics(self.bootstrap)


class RedisReplyError(Exception):
    """An error reply (-ERR ...) from Redis."""


def _resp_read(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("connection closed by Redis")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RedisReplyError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_resp_read(f) for _ in range(n)]
    raise ConnectionError(f"unexpected reply from Redis: {line!r}")


def redis_command(port: int, *args: Bytes, timeout: float = 10,
                  tls_ca: Optional[str] = None):
    """Sends one command to Redis on 127.0.0.1:port and returns its reply:
    str (status), int, bytes (bulk), None, or a list. Raises
    RedisReplyError on an error reply. tls_ca: speak TLS, trusting that CA
    file."""
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = _b(str(a) if isinstance(a, int) else a)
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        s = raw
        if tls_ca is not None:
            s = ssl.create_default_context(cafile=tls_ca).wrap_socket(
                raw, server_hostname="127.0.0.1")
        with s:
            s.sendall(b"".join(parts))
            with s.makefile("rb") as f:
                return _resp_read(f)


class Redis(Server):
    """A redis-server started by scripts/redis."""

    def __init__(self, dir: Path, env: Optional[Dict[str, str]] = None):
        super().__init__("redis", Path(dir), env or {})

    @property
    def url(self) -> str:
        return self.env["REDIS_URL"]

    @property
    def port(self) -> int:
        return int(self.env["REDIS_PORT"])

    @property
    def tls_ca(self) -> Optional[str]:
        return self.env.get("REDIS_TLS_CA")

    def command(self, *args: Bytes):
        return redis_command(self.port, *args, tls_ca=self.tls_ca)


@dataclass
class RedisCluster:
    """A Redis Cluster started by `scripts/redis cluster start` in dir."""
    dir: Path
    env: Dict[str, str] = field(default_factory=dict)

    @property
    def nodes(self) -> List[str]:
        """host:port of every node, masters first."""
        return self.env["REDIS_CLUSTER_NODES"].split(",")

    @property
    def ports(self) -> List[int]:
        return [int(n.rpartition(":")[2]) for n in self.nodes]

    @property
    def pids(self) -> List[int]:
        return [int(p) for p in self.env["REDIS_PIDS"].split()]

    @property
    def url(self) -> str:
        return self.env["REDIS_URL"]

    def command(self, port: int, *args: Bytes):
        return redis_command(port, *args)

    def start(self, *args: str, watch: bool = True) -> "RedisCluster":
        argv = [str(SCRIPTS_DIR / "redis"), "cluster", "start", "--dir", str(self.dir), *args]
        if watch:
            argv += ["--watch", str(os.getpid())]
        res = _run(argv, START_TIMEOUT, what="scripts/redis cluster start")
        self.env = read_env(res.stdout.decode().strip())
        return self

    def stop(self) -> None:
        _run([str(SCRIPTS_DIR / "redis"), "cluster", "stop", "--dir", str(self.dir)],
             STOP_TIMEOUT, what="scripts/redis cluster stop")


def _new_dir(kind: str, dir: Optional[Union[str, Path]]) -> Path:
    if dir is not None:
        return Path(dir)
    return Path(tempfile.mkdtemp(prefix=f"hf-{kind}-"))


def start_kafka(dir: Optional[Union[str, Path]] = None, *args: str,
                watch: bool = True) -> Kafka:
    """Starts a broker in dir (default: a new temporary directory, removed by
    stop()). args go to `scripts/kafka start` (e.g. "--port", "9092")."""
    k = Kafka(_new_dir("kafka", dir))
    try:
        return k.start(*args, watch=watch)
    except BaseException:
        _cleanup_failed(k, dir is None)
        raise


def start_redis(dir: Optional[Union[str, Path]] = None, *args: str,
                aof: bool = False, watch: bool = True) -> Redis:
    """Starts a redis-server in dir (default: a new temporary directory,
    removed by stop()). aof: append-only file on. args go to
    `scripts/redis start`, e.g. ("--", "--maxmemory", "64mb")."""
    r = Redis(_new_dir("redis", dir))
    extra = list(args)
    if aof:
        extra.insert(0, "--aof")
    try:
        return r.start(*extra, watch=watch)
    except BaseException:
        _cleanup_failed(r, dir is None)
        raise


def start_redis_cluster(dir: Optional[Union[str, Path]] = None, *args: str,
                        watch: bool = True) -> RedisCluster:
    """Starts a Redis Cluster (default 3 masters with a replica each) in dir
    (default: a new temporary path, removed by stop()). args go to
    `scripts/redis cluster start`, e.g. ("--replicas", "0")."""
    d = Path(tempfile.mkdtemp(prefix="hf-redis-cluster-")) if dir is None else Path(dir)
    return RedisCluster(d).start(*args, watch=watch)


def _cleanup_failed(server: Server, made_dir: bool) -> None:
    # A start that failed half-way may have left a process and a directory.
    with contextlib.suppress(ServerError, subprocess.SubprocessError, OSError):
        if (server.dir / f".hirefire-{server.kind}").exists():
            server.stop()
    if made_dir and server.dir.is_dir() and not any(server.dir.iterdir()):
        server.dir.rmdir()


@contextlib.contextmanager
def kafka(dir=None, *args: str):
    """A broker for the with-block; stopped (directory removed) at its end,
    also when the block raises."""
    k = start_kafka(dir, *args)
    try:
        yield k
    finally:
        if k.dir.exists():
            k.stop()


@contextlib.contextmanager
def redis(dir=None, *args: str, aof: bool = False):
    """A redis-server for the with-block; stopped at its end."""
    r = start_redis(dir, *args, aof=aof)
    try:
        yield r
    finally:
        if r.dir.exists():
            r.stop()


@contextlib.contextmanager
def redis_cluster(dir=None, *args: str):
    """A Redis Cluster for the with-block; every node stopped at its end."""
    c = start_redis_cluster(dir, *args)
    try:
        yield c
    finally:
        if c.dir.exists():
            c.stop()


try:
    import pytest
except ImportError:  # the helpers above work without pytest
    pytest = None

if pytest is not None:
    @pytest.fixture(scope="session")
    def kafka_server():
        """One broker for the test session."""
        with kafka() as k:
            yield k

    @pytest.fixture(scope="session")
    def redis_server():
        """One redis-server (no persistence) for the test session."""
        with redis() as r:
            yield r

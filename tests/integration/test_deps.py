"""scripts/deps: Debian 13's hiredis and librdkafka, built from Debian's source
packages into the cache, found through pkg-config, built once."""

import os
import subprocess

import pytest

SOURCE = os.environ.get("HF_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
DEPS = os.path.join(SOURCE, "scripts", "deps")


def deps(*args, timeout=900):
    return subprocess.run([DEPS, *args], capture_output=True, text=True, timeout=timeout)


def test_builds_hiredis_1_2_and_librdkafka_2_8_once():
    first = deps()
    assert first.returncode == 0, first.stderr
    prefixes = deps("--prefixes").stdout.splitlines()
    cache = os.environ.get("HF_CACHE_DIR") or os.path.expanduser("~/.cache/hirefire")
    assert prefixes == [os.path.join(cache, "deps", "hiredis-1.2.0-6"),
                        os.path.join(cache, "deps", "librdkafka-2.8.0-1")]
    with open(os.path.join(prefixes[0], ".complete")) as f:
        assert f.read() == "hiredis 1.2.0-6\n"
    with open(os.path.join(prefixes[1], ".complete")) as f:
        assert f.read() == "librdkafka 2.8.0-1\n"
    path = deps("--pkg-config-path").stdout.strip()
    assert path == ":".join(os.path.join(p, "lib", "pkgconfig") for p in prefixes)
    env = dict(os.environ, PKG_CONFIG_PATH=path)
    versions = subprocess.run(["pkg-config", "--modversion", "hiredis", "hiredis_ssl", "rdkafka"],
                              capture_output=True, text=True, env=env, check=True).stdout
    assert versions.split() == ["1.2.0", "1.2.0", "2.8.0"]
    # Built: a second run builds nothing and says nothing.
    again = deps(timeout=60)
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")


@pytest.mark.parametrize("arg", ["--help", "build"])
def test_an_unknown_argument_says_the_usage(arg):
    p = deps(arg, timeout=30)
    assert (p.returncode, p.stdout) == (1, "")
    assert p.stderr == (f"deps: unknown argument '{arg}' (usage: scripts/deps "
                        "[--prefixes | --pkg-config-path])\n")

"""The command line as a user meets it: validate, help, version, usage errors."""
import os
import pathlib
import subprocess

ROOT = pathlib.Path(os.environ.get("HF_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
HIREFIRE = os.environ.get("HIREFIRE", str(ROOT / "build" / "hirefire"))
COMMANDS = ["replay", "run", "gen", "produce", "inspect", "validate"]


def hf(*args, env=None, check=False):
    e = {k: v for k, v in os.environ.items() if not k.startswith("HIREFIRE_")}
    e.update(env or {})
    return subprocess.run([HIREFIRE, *args], capture_output=True, text=True, env=e,
                          check=check)


def test_validate_shows_where_each_value_came_from(tmp_path):
    cfg = tmp_path / "c.properties"
    cfg.write_text("# comment\nbehaviour.big.window_days=30\nbehaviour.big.min_net_minor=-5\n"
                   "output.topic=from.file\n")
    r = hf("validate", "-c", str(cfg), "-X", "redis.url=redis://:pw@h:1/0",
           env={"HIREFIRE_LOG_LEVEL": "debug"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert f"output.topic = from.file  # file {cfg}:4" in lines
    assert "log.level = debug  # env HIREFIRE_LOG_LEVEL" in lines
    assert "redis.url = redis://:***@h:1/0  # flag -X" in lines
    assert "dead_letter.topic = hirefire.dead-letter  # default" in lines
    assert f"behaviour.big.window_days = 30  # file {cfg}:2" in lines
    assert f"behaviour.big.min_net_minor = -5  # file {cfg}:3" in lines
    assert "pw" not in r.stdout


def test_validate_broken_files_say_what_to_fix(tmp_path):
    cases = [
        ("behaviour.a.window_days=abc\n",
         '{p}:1: behaviour.a.window_days: must be an integer between 1 and 36500, got "abc"'),
        ("# ok\noutput.format=xml\n",
         '{p}:2: output.format: must be one of avro, json, got "xml"'),
        ("outptu.topic=x\n", '{p}:1: unknown key "outptu.topic" (did you mean "output.topic"?)'),
        ("just words\n", '{p}:1: expected key=value, got "just words"'),
    ]
    for i, (text, want) in enumerate(cases):
        p = tmp_path / f"bad{i}.properties"
        p.write_text(text)
        r = hf("validate", "-c", str(p))
        assert (r.returncode, r.stdout, r.stderr) == (2, "", "hirefire: " + want.format(p=p) + "\n")
    r = hf("validate", "-c", str(tmp_path / "missing.properties"))
    assert r.returncode == 2
    assert r.stderr == (f'hirefire: cannot read config file "{tmp_path / "missing.properties"}": '
                        "No such file or directory\n")


def test_every_help_is_true_and_lists_the_settings():
    top = hf("--help", check=True).stdout
    for cmd in COMMANDS:
        assert f"  {cmd} " in top
        r = hf(cmd, "--help")
        assert r.returncode == 0, (cmd, r.stderr)
        assert r.stdout.startswith("Usage: hirefire " + cmd), cmd
    # the settings table reaches the help of the commands that take -X
    for cmd in ("replay", "run", "validate"):
        text = hf(cmd, "--help").stdout
        for key in ("behaviour.<name>.window_days", "kafka.<property>", "output.topic",
                    "redis.url", "http.listen"):
            assert key in text, (cmd, key)


def test_usage_errors_exit_2_with_the_reason():
    cases = [
        (["replay"], "hirefire replay: give exactly one of --input FILE or --topic T "
                     "(see hirefire replay --help)\n"),
        (["replay", "--bogus"], "hirefire replay: unknown option --bogus "
                                "(see hirefire replay --help)\n"),
        (["replay", "-i"], "hirefire replay: option -i needs a value\n"),
        (["replay", "-i", "x", "--output-format", "xml"],
         'hirefire replay: --output-format must be json or avro, got "xml"\n'),
        (["replay", "-i", "x", "--advance-to", "2024-13-01"],
         'hirefire replay: --advance-to must be a date YYYY-MM-DD, got "2024-13-01"\n'),
        (["validate", "--bogus"], "hirefire validate: unknown option --bogus "
                                  "(see hirefire validate --help)\n"),
        (["gen", "--bogus"], "hirefire gen: unknown option --bogus (see hirefire gen --help)\n"),
        (["produce", "-t"], "hirefire produce: option -t needs a value\n"),
    ]
    for args, err in cases:
        r = hf(*args)
        assert (r.returncode, r.stderr) == (2, err), args
    r = hf("frobnicate")
    assert r.returncode == 2
    assert r.stderr.startswith('hirefire: unknown command "frobnicate"\n')


def test_replay_of_a_missing_file_fails_with_status_1(tmp_path):
    r = hf("replay", "-i", str(tmp_path / "none.jsonl"))
    assert r.returncode == 1
    assert r.stderr == (f'hirefire replay: cannot open input "{tmp_path / "none.jsonl"}": '
                        "No such file or directory\n")


def test_version_names_the_libraries():
    out = hf("version", check=True).stdout.splitlines()
    assert out[0].startswith("hirefire ")
    assert [line.split()[0] for line in out[1:]] == ["librdkafka", "avro-c", "hiredis", "jansson"]

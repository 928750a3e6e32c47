"""The README's configuration reference is what the settings table generates."""
import os
import pathlib
import re
import subprocess

ROOT = pathlib.Path(os.environ.get("HF_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
HIREFIRE = os.environ.get("HIREFIRE", str(ROOT / "build" / "hirefire"))


def readme_reference():
    text = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- BEGIN CONFIG REFERENCE[^>]*-->\n(.*?)<!-- END CONFIG REFERENCE -->",
                  text, re.S)
    assert m, "README.md has no BEGIN/END CONFIG REFERENCE markers"
    return m.group(1)


def test_readme_reference_matches_the_settings_table():
    generated = subprocess.run([HIREFIRE, "validate", "--reference"], check=True,
                               capture_output=True, text=True).stdout
    assert generated.strip(), "validate --reference printed nothing"
    assert readme_reference() == generated, (
        "README.md's configuration reference drifted from the settings table; "
        "regenerate it with scripts/update-readme")


def test_every_key_of_the_example_config_is_documented():
    keys = set()
    for line in (ROOT / "config" / "hirefire.properties").read_text().splitlines():
        line = line.strip().lstrip("#").strip()
        m = re.match(r"([a-z_.]+)=", line)
        if m and not m.group(1).startswith(("behaviour.", "input.topic.", "kafka.")):
            keys.add(m.group(1))
    ref = readme_reference()
    missing = sorted(k for k in keys if f"`{k}`" not in ref)
    assert missing == []

"""Shared pytest fixtures of the integration tests.

- `hirefire`: path of the binary under test: $HIREFIRE (set by ctest), else
  $HF_BUILD_DIR/hirefire, else <source>/build/hirefire. When HIREFIRE is set
  and the file is missing, the test fails; otherwise a missing binary skips.
- `work_dir`: a fresh temporary directory (a pathlib.Path).
- `source_dir`: the repository root ($HF_SOURCE_DIR or derived from this file).
- `retail_events`: the Online Retail year as events (scripts/import), made
  once a session from $HF_DATA_DIR, else <source>/../shared/data (skips
  when the data set is not there).
- after each test, `hirefire run` processes that a failed test left running
  (eos_helpers.Instance) are killed.

It also puts tests/model on sys.path, so tests can `import semantics_model`.
"""

import os
import pathlib
import subprocess
import sys

import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("HF_SOURCE_DIR") or
                          pathlib.Path(__file__).resolve().parents[2])
MODEL_DIR = SOURCE_DIR / "tests" / "model"
DATA_DIR = pathlib.Path(os.environ.get("HF_DATA_DIR") or SOURCE_DIR.parent / "shared" / "data")
if str(MODEL_DIR) not in sys.path:
    sys.path.insert(0, str(MODEL_DIR))


def hirefire_path():
    """(path, explicit): the binary and whether $HIREFIRE named it."""
    env = os.environ.get("HIREFIRE")
    if env:
        return pathlib.Path(env), True
    build = os.environ.get("HF_BUILD_DIR") or str(SOURCE_DIR / "build")
    return pathlib.Path(build) / "hirefire", False


@pytest.fixture(scope="session")
def hirefire():
    path, explicit = hirefire_path()
    if not (path.is_file() and os.access(path, os.X_OK)):
        if explicit:
            pytest.fail(f"HIREFIRE={path} is not an executable file")
        pytest.skip(f"no hirefire binary at {path} (set HIREFIRE or HF_BUILD_DIR)")
    return str(path)


@pytest.fixture(scope="session")
def source_dir():
    return SOURCE_DIR


@pytest.fixture(scope="session")
def retail_events(tmp_path_factory):
    data = DATA_DIR / "online_retail.csv.xz"
    if not data.exists():
        pytest.skip(f"real data not found: {data} (set HF_DATA_DIR)")
    events = tmp_path_factory.mktemp("retail") / "retail.jsonl"
    subprocess.run([str(SOURCE_DIR / "scripts" / "import"), "online-retail", "--input",
                    str(data), "--output", str(events)], check=True, capture_output=True,
                   timeout=300)
    return events


@pytest.fixture
def work_dir(tmp_path):
    return tmp_path


@pytest.fixture(autouse=True)
def _no_leftover_instances():
    yield
    import eos_helpers
    eos_helpers.kill_leftovers()

"""The suite's own PostgreSQL server (``tests/pg.py``) starts where a developer runs the tests.

As root, the server runs as ``postgres`` through ``runuser``: that must work from a shell whose
PATH lacks ``/usr/sbin``, and from a checkout in a private directory, where a nox session's
``TMPDIR`` points.  Each case starts a real server in a child process with that environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pg import (
    RUNUSER_PLACES,
    ClusterError,
    ServerMissing,
    base_directory,
    find_bindir,
    find_runuser,
)

ROOT = Path(__file__).resolve().parent.parent

#: Start a server, make a database, query it, stop; print where the cluster lived.
SCRIPT = """
import psycopg
from tests.pg import Cluster

cluster = Cluster().start()
try:
    with psycopg.connect(cluster.database()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    print(cluster.root)
finally:
    cluster.stop()
"""


def _need_server() -> None:
    try:
        find_bindir()
        import psycopg  # noqa: F401
    except (ServerMissing, ImportError) as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is required under CI=true: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")


def _start_in_child(**env: str) -> Path:
    """Run SCRIPT with *env* over this environment; return the cluster's directory."""
    child_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip())


@pytest.mark.skipif(os.geteuid() != 0, reason="runuser is used only as root")
def test_server_starts_from_a_root_shell_whose_path_has_no_sbin() -> None:
    _need_server()
    root = _start_in_child(PATH="/usr/bin:/bin")
    assert not root.exists()  # stopped and removed


def test_server_starts_when_tmpdir_is_inside_a_private_directory(tmp_path: Path) -> None:
    _need_server()
    private = tmp_path / "private"
    tmpdir = private / "checkout" / ".nox" / "lowest" / "tmp"
    tmpdir.mkdir(parents=True)
    private.chmod(0o700)
    root = _start_in_child(TMPDIR=str(tmpdir))
    if os.geteuid() == 0:
        assert root.parent == Path("/tmp")  # where the postgres user can reach it
    else:
        assert root.parent == tmpdir  # the server runs as this user: TMPDIR is fine
    assert not root.exists()


def test_base_directory_keeps_a_reachable_tmpdir(monkeypatch: pytest.MonkeyPatch) -> None:
    reachable = Path("/tmp") / f"turnkeeper-open-{os.getpid()}"
    reachable.mkdir(mode=0o755)
    try:
        reachable.chmod(0o755)
        monkeypatch.setenv("TMPDIR", str(reachable))
        monkeypatch.setattr("tempfile.tempdir", None)  # read TMPDIR afresh
        assert base_directory(as_other_user=True) == str(reachable)
        assert base_directory(as_other_user=False) == str(reachable)
    finally:
        reachable.rmdir()


def test_base_directory_avoids_a_private_tmpdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private = tmp_path / "private"
    tmpdir = private / "tmp"
    tmpdir.mkdir(parents=True)
    private.chmod(0o700)
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    monkeypatch.setattr("tempfile.tempdir", None)
    assert base_directory(as_other_user=True) == "/tmp"
    assert base_directory(as_other_user=False) == str(tmpdir)


def test_runuser_is_found_outside_path_or_named_as_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: nothing on PATH
    for place in RUNUSER_PLACES:
        if os.access(place, os.X_OK):
            assert find_runuser() == place
            break
    monkeypatch.setattr("tests.pg.RUNUSER_PLACES", (str(tmp_path / "runuser"),))
    with pytest.raises(ClusterError, match="'runuser', which is neither on PATH nor at"):
        find_runuser()

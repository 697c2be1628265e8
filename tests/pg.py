"""A throwaway PostgreSQL cluster for the tests: started by the suite, removed after it.

``Cluster.start()`` runs ``initdb`` and ``pg_ctl`` from the server package on this machine
(``pg_config --bindir``, else Debian's ``/usr/lib/postgresql/<n>/bin``) in a temporary
directory, listening on a unix socket only.  ``database()`` makes a fresh database per test.
The chaos test uses ``restart_immediate`` and ``terminate`` as disruptions.

As root, the server runs as the ``postgres`` user (PostgreSQL refuses root), through
``runuser``: found on PATH, else where Debian puts it (``/usr/sbin``, ``/sbin``), since a
root shell's PATH may lack the ``sbin`` directories.  That user must be able to reach the
cluster's directory, so as root the directory goes under ``$TMPDIR`` only when every
directory above it is traversable by others (``o+x``), and under ``/tmp`` otherwise: a nox
session points ``TMPDIR`` into ``.nox/`` of the checkout, and a checkout may sit in a private
directory (``/root``, or one made by ``mktemp -d``, mode 700).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

__all__ = [
    "Cluster",
    "ClusterError",
    "ServerMissing",
    "base_directory",
    "find_bindir",
    "find_runuser",
]

#: Where Debian and most distributions install ``runuser``, for a PATH without ``sbin``.
RUNUSER_PLACES = ("/usr/sbin/runuser", "/sbin/runuser")


class ServerMissing(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


class ClusterError(RuntimeError):
    """A command that sets up or drives the server failed (its output is in the message)."""


def find_bindir() -> Path:
    """Where ``initdb`` and ``pg_ctl`` are, or ``ServerMissing``."""
    config = shutil.which("pg_config")
    candidates = []
    if config is not None:
        out = subprocess.run([config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(out.stdout.strip())
    candidates.extend(sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True))
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    raise ServerMissing(
        "no PostgreSQL server binaries (initdb, pg_ctl) found; install Debian's "
        "'postgresql' package (.ci/run does)"
    )


def find_runuser() -> str:
    """The ``runuser`` program: on PATH, else in ``/usr/sbin`` or ``/sbin``.

    Raises:
        ClusterError: none of these places has it.
    """
    found = shutil.which("runuser")
    if found is not None:
        return found
    for place in RUNUSER_PLACES:
        if os.access(place, os.X_OK):
            return place
    raise ClusterError(
        "running as root, the tests start PostgreSQL as the 'postgres' user through "
        f"'runuser', which is neither on PATH nor at {' or '.join(RUNUSER_PLACES)}; "
        "install util-linux (Debian: the 'util-linux' package) or run the tests as another user"
    )


def _reachable_by_others(directory: Path) -> bool:
    """Whether another user can traverse *directory* and every directory above it."""
    try:
        resolved = directory.resolve(strict=True)
    except OSError:
        return False
    for part in (resolved, *resolved.parents):
        try:
            mode = part.stat().st_mode
        except OSError:
            return False
        if not stat.S_ISDIR(mode) or not mode & stat.S_IXOTH:
            return False
    return True


def base_directory(as_other_user: bool) -> str:
    """Where to make the cluster's directory.

    The usual temporary directory (``$TMPDIR``, else ``/tmp``), unless the server runs as
    another user who could not reach it: then ``/tmp``.
    """
    usual = tempfile.gettempdir()
    if as_other_user and not _reachable_by_others(Path(usual)):
        return "/tmp"
    return usual


class Cluster:
    """One throwaway PostgreSQL server, on a unix socket in a temporary directory."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self._as_postgres = os.geteuid() == 0
        self._runuser = find_runuser() if self._as_postgres else None
        base = base_directory(self._as_postgres)
        self.root = Path(tempfile.mkdtemp(prefix="turnkeeper-pg-", dir=base))
        self.data = self.root / "data"
        self.socket_dir = str(self.root)
        self.port = 5432
        self._databases = 0

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self._runuser is not None:
            command = [self._runuser, "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
        if done.returncode != 0:
            output = (done.stderr + done.stdout).strip()
            raise ClusterError(
                f"{' '.join(command)} exited with {done.returncode}:\n{output or '(no output)'}"
            )
        return done

    def start(self) -> Cluster:
        """Create the cluster and start the server (waits until it accepts connections)."""
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
        os.chmod(self.root, 0o755)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        conf = self.data / "postgresql.conf"
        with open(conf, "a") as f:
            f.write(
                "listen_addresses = ''\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                "max_connections = 200\n"
                "fsync = off\n"
                "synchronous_commit = on\n"
                "full_page_writes = off\n"
            )
        self._ctl("start")
        return self

    def _ctl(self, action: str, *extra: str) -> None:
        log = str(self.root / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-w", "-t", "60", action, *extra)

    @property
    def admin_dsn(self) -> str:
        """A DSN for the ``postgres`` database, as the superuser."""
        return f"host={self.socket_dir} port={self.port} user=postgres dbname=postgres"

    def dsn(self, database: str) -> str:
        """A DSN for *database*."""
        return f"host={self.socket_dir} port={self.port} user=postgres dbname={database}"

    def database(self) -> str:
        """Create a fresh, empty database; return its DSN."""
        import psycopg

        self._databases += 1
        name = f"t{os.getpid()}_{self._databases}"
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.dsn(name)

    def restart_immediate(self) -> None:
        """``pg_ctl restart -m immediate``: the server dies without a checkpoint, recovers."""
        self._ctl("restart", "-m", "immediate")

    def terminate(self, application_prefix: str) -> int:
        """``pg_terminate_backend`` on every connection whose application name starts so."""
        import psycopg

        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name LIKE %s AND pid <> pg_backend_pid()",
                (application_prefix + "%",),
            ).fetchall()
        return len(rows)

    def stop(self) -> None:
        """Stop the server and remove everything."""
        with contextlib.suppress(ClusterError):
            self._ctl("stop", "-m", "fast")
        shutil.rmtree(self.root, ignore_errors=True)

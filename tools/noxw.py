"""Run nox, pinned, on any Python 3.11+: ``python3 tools/noxw.py -s tests``.

A wrapper in the spirit of Gradle's ``gradlew``: it needs nothing but the interpreter that runs
it. It keeps nox in a private virtual environment (``.nox/_noxw``) instead of installing it into
the interpreter's own site-packages, so it works the same on a pyenv or virtualenv Python and on
a distribution Python that refuses ``pip install`` (PEP 668, "externally-managed-environment",
as Debian's and Ubuntu's ``python3`` do). nox is installed at the version pinned in
``constraints.txt`` and reinstalled only when that file changes; every argument is passed on to
nox unchanged.

pip for that environment comes from the first source that works: the interpreter's
``ensurepip``; else the interpreter's own pip, used only to download a pip wheel; else a pip
wheel fetched from PyPI with the standard library (for a Python that has neither, such as
Debian's without the ``python3-venv`` and ``python3-pip`` packages).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints.txt"
ENV_DIR = ROOT / ".nox" / "_noxw"
STAMP = ENV_DIR / "noxw-constraints.sha256"
PYPI_INDEX = "https://pypi.org/simple/pip/"
PEP_691 = "application/vnd.pypi.simple.v1+json"


def _pinned(name: str) -> str:
    """The ``name==version`` line of the constraints file."""
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement.lower().startswith(f"{name}=="):
            return requirement
    raise SystemExit(f"noxw: {CONSTRAINTS.name} pins no version of {name}")


def _env_python() -> Path:
    return ENV_DIR / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _run(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], check=True)


def _has_pip(python: str | Path) -> bool:
    found = subprocess.run(
        [str(python), "-m", "pip", "--version"], capture_output=True, check=False
    )
    return found.returncode == 0


def _download_pip_wheel(dest: Path, pin: str) -> Path:
    """A pip wheel in *dest*: with this interpreter's pip if it has one, else from PyPI."""
    if _has_pip(sys.executable):
        # Downloading is allowed on an externally managed Python; installing is not.
        _run(sys.executable, "-m", "pip", "download", "--no-deps", "--dest", dest, pin)
        return next(dest.glob("pip-*.whl"))
    # PyPI's JSON index (PEP 691), the API pip itself reads.
    filename = f"pip-{pin.split('==', 1)[1]}-py3-none-any.whl"
    request = urllib.request.Request(PYPI_INDEX, headers={"Accept": PEP_691})
    with urllib.request.urlopen(request, timeout=60) as answer:
        files = json.load(answer)["files"]
    wheel = next(f for f in files if f["filename"] == filename)
    with urllib.request.urlopen(wheel["url"], timeout=120) as answer:
        data: bytes = answer.read()
    if hashlib.sha256(data).hexdigest() != wheel["hashes"]["sha256"]:
        raise SystemExit(f"noxw: {filename} from PyPI does not match its sha256")
    path = dest / filename
    path.write_bytes(data)
    return path


def _create_env() -> None:
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(ENV_DIR)
        return
    except subprocess.CalledProcessError:
        print("noxw: this Python has no ensurepip; installing pip another way", file=sys.stderr)
    venv.EnvBuilder(with_pip=False, clear=True).create(ENV_DIR)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = _download_pip_wheel(Path(tmp), _pinned("pip"))
        # A pip wheel can run itself: install it into the new environment from the file.
        _run(_env_python(), wheel / "pip", "install", "--no-index", "--quiet", wheel)


def ensure_nox() -> Path:
    """Create or refresh the private environment; return its interpreter."""
    wanted = hashlib.sha256(CONSTRAINTS.read_bytes()).hexdigest()
    python = _env_python()
    if python.exists() and STAMP.exists() and STAMP.read_text(encoding="utf-8") == wanted:
        return python
    if not python.exists() or not _has_pip(python):
        _create_env()
    _run(python, "-m", "pip", "install", "--quiet", "--constraint", CONSTRAINTS, "nox")
    STAMP.write_text(wanted, encoding="utf-8")
    return python


def main() -> int:
    """Run nox from the private environment with this script's arguments."""
    # An older Python runs this far (nothing above needs 3.11) and gets a clear answer.
    if sys.version_info < (3, 11):  # noqa: UP036
        raise SystemExit(f"noxw: Python 3.11+ is needed, this is {sys.version.split()[0]}")
    python = ensure_nox()
    os.chdir(ROOT)
    return subprocess.run([str(python), "-m", "nox", *sys.argv[1:]], check=False).returncode


if __name__ == "__main__":
    sys.exit(main())

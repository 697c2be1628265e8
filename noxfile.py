"""Developer tasks: ``nox -s tests``, ``lint``, ``typecheck``, ``docs``, ``demo``, ``bench``, ...

Every session installs from ``constraints.txt``, one checked-in set of pins for the tools, the
test dependencies and (through ``PIP_CONSTRAINT``) the build backend, so a fresh machine runs
exactly what CI ran. ``nox -s lock`` refreshes the pins; upgrading is a deliberate commit. The
runtime dependency *ranges* in ``pyproject.toml`` stay ranges: ``lowest`` tests their minimums.

Run it as ``python3 tools/noxw.py -s SESSION`` on any Python 3.11+ (the wrapper keeps its own
pinned nox), or with a nox you installed yourself.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
#: A version named by a session must exist: a missing interpreter fails, it is never skipped.
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).resolve().parent
CONSTRAINTS = ROOT / "constraints.txt"
PYTHON = None  # the interpreter nox itself runs on (3.11+)
#: Every Python the classifiers claim; ``compat`` runs the whole suite on each.
PYTHONS = ("3.11", "3.12", "3.13")
#: The package with the extras its tests exercise.
TESTED_EXTRAS = ("postgres", "prometheus", "web", "describe", "holidays", "otel")
TESTED = f".[test,{','.join(TESTED_EXTRAS)}]"
#: The OpenTelemetry SDK, whose in-memory exporters the tests read: a test-only dev tool (the
#: package itself depends on the API only).
OTEL_TEST_DEPS = ("opentelemetry-sdk>=1.20",)
#: Packages released in lockstep with a tested dependency: ``lowest`` takes them at that
#: dependency's minimum, and lets pip choose their own dependencies.
LOCKSTEP = {
    "opentelemetry-api": ("opentelemetry-sdk",),
}
LOCKSTEP_FREED = ("opentelemetry-semantic-conventions",)
#: The dashboard's browser tests drive Debian's Chromium with Playwright: a test-only dev tool.
BROWSER_DEPS = ("playwright>=1.45",)
#: The comparison baseline and the plotting library: benchmark-only dev tools.
BENCH_DEPS = ("apscheduler==4.0.0a6", "sqlalchemy>=2.0,<2.1", "matplotlib>=3.8")
#: The documentation site generator: a docs-only dev tool.
DOCS_DEPS = ("mkdocs>=1.6,<2", "mkdocs-material>=9.5", "mkdocstrings[python]>=0.26")
LINT_DEPS = ("ruff>=0.6",)
TYPE_DEPS = ("mypy>=1.10", "types-croniter", "nox")
#: Packaging tools that the lock pins too: the build backend and the wrapper's pip.
BUILD_DEPS = ("hatchling", "pip", "nox")


def _expose_pyenv_pythons() -> None:
    """Put pyenv's inactive interpreters on PATH as ``python3.X``, so nox can find them.

    pyenv's shims answer for every installed version but refuse the inactive ones, which
    would make ``compat-3.12`` fail on a machine that has 3.12. Symlinks to the real
    interpreters in ``.nox/_pythons`` come first on PATH instead.
    """
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return
    root = Path(subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip())
    links = ROOT / ".nox" / "_pythons"
    for version in PYTHONS:
        name = f"python{version}"
        on_path = shutil.which(name)
        if on_path and subprocess.run([on_path, "-c", ""], capture_output=True).returncode == 0:
            continue
        found = sorted(root.glob(f"versions/{version}.*/bin/{name}"))
        if not found:
            continue
        links.mkdir(parents=True, exist_ok=True)
        link = links / name
        link.unlink(missing_ok=True)
        link.symlink_to(found[-1])
    if links.is_dir():
        os.environ["PATH"] = f"{links}{os.pathsep}{os.environ.get('PATH', '')}"


_expose_pyenv_pythons()


def _install(session: nox.Session, *args: str, constraints: Path = CONSTRAINTS) -> None:
    """``pip install`` under the pins, build dependencies included."""
    session.install(*args, env={"PIP_CONSTRAINT": str(constraints)})


def _pytest(session: nox.Session) -> None:
    _install(session, "-e", TESTED, *BROWSER_DEPS, *OTEL_TEST_DEPS)
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite on this Python (pass pytest arguments after ``--``)."""
    _pytest(session)


@nox.session(python=PYTHONS)
def compat(session: nox.Session) -> None:
    """Run the whole suite on each supported Python (``compat-3.12``, ...)."""
    _pytest(session)


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _minimums() -> dict[str, str]:
    """``name -> lowest version`` for every ``>=`` bound of the runtime and tested extras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    requirements = list(project["dependencies"])
    for extra in TESTED_EXTRAS:
        requirements += extras[extra]
    lowest: dict[str, str] = {}
    for requirement in requirements:
        match = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*>=\s*([^,;\s]+)", requirement)
        if match is None:
            raise ValueError(f"pyproject.toml: {requirement!r} has no lower bound to test")
        lowest[_normalized(match[1])] = match[2]
    return lowest


@nox.session(python=PYTHONS[0])
def lowest(session: nox.Session) -> None:
    """Run the suite against the lowest versions the dependency ranges allow.

    The runtime dependencies and the tested extras are pinned to their minimums; everything
    else (pytest, hypothesis, the dependencies' own dependencies) keeps the usual pins.
    """
    minimums = _minimums()
    for leader, followers in LOCKSTEP.items():
        for follower in followers:
            minimums[follower] = minimums[leader]
    freed = {*minimums, *LOCKSTEP_FREED}
    kept = []
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        name = _normalized(re.split(r"[=<>!~ ;\[]", line.strip(), maxsplit=1)[0])
        if name and not line.startswith("#") and name not in freed:
            kept.append(line)
    pins = Path(session.create_tmp()) / "constraints-lowest.txt"
    lowest_pins = [f"{name}=={version}" for name, version in sorted(minimums.items())]
    pins.write_text("\n".join([*kept, *lowest_pins, ""]), encoding="utf-8")
    _install(session, "-e", TESTED, *BROWSER_DEPS, *OTEL_TEST_DEPS, constraints=pins)
    session.run("pip", "list")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def thorough(session: nox.Session) -> None:
    """The property and model tests with 10,000 random examples each (not run in CI)."""
    _install(session, "-e", TESTED)
    session.env["TURNKEEPER_HYPOTHESIS_PROFILE"] = "thorough"
    session.run("pytest", "-q", *session.posargs)


@nox.session(python=PYTHON)
def soak(session: nox.Session) -> None:
    """One million runs with mixed outcomes and random cancels/updates (not run in CI)."""
    _install(session, "-e", ".[test]")
    session.run("python", "-m", "tests.soak", *(session.posargs or ["1000000"]))


@nox.session(python=PYTHON)
def chaos(session: nox.Session) -> None:
    """The replicas' chaos test, long: ``nox -s chaos -- --duration 300 --seed 7``.

    Starts a throwaway PostgreSQL server (as for the tests), five replica processes and a
    seeded nemesis; prints the seed, the figures and the verdict, and fails on any fault.
    """
    _install(session, "-e", ".[test,postgres]")
    session.run("python", "-m", "tests.replica_chaos", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Run the benchmarks and record benchmarks/RESULTS.md and plots (not part of the tests).

    ``nox -s bench -- --quick`` runs reduced sizes in about a minute.
    """
    _install(session, "-e", ".[postgres,web,otel]", *BENCH_DEPS, *BROWSER_DEPS)
    session.run("python", "-m", "benchmarks.run", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff lint (with the flake8-async rules) and the formatting check."""
    _install(session, *LINT_DEPS)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, the tests, the examples, the benchmarks and the tools."""
    _install(session, "-e", TESTED, *BROWSER_DEPS, *OTEL_TEST_DEPS, *TYPE_DEPS, *BENCH_DEPS)
    session.run("mypy", "--strict")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site into site/ (warnings are errors)."""
    _install(session, "-e", ".[prometheus,web]", *DOCS_DEPS)
    session.run("mkdocs", "build", "--strict", "--quiet", env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """Run a real scheduler for about ten seconds, printing what happens."""
    _install(session, "-e", ".")
    session.run("python", "-m", "examples.demo")


@nox.session(python=PYTHONS[0], venv_params=["--clear"])
def lock(session: nox.Session) -> None:
    """Refresh ``constraints.txt``: resolve every dev dependency afresh and pin the result.

    Resolved together on the oldest supported Python, in one environment, so the pins are
    one consistent set. Review the diff, run CI, and commit it as its own change.
    """
    session.install(
        "-e",
        TESTED,
        *BROWSER_DEPS,
        *OTEL_TEST_DEPS,
        *TYPE_DEPS,
        *LINT_DEPS,
        *BENCH_DEPS,
        *DOCS_DEPS,
        *BUILD_DEPS,
    )
    frozen = session.run(
        "pip", "freeze", "--all", "--exclude-editable", silent=True, external=False
    )
    assert isinstance(frozen, str)
    pins = sorted(
        (line for line in frozen.splitlines() if "==" in line and not line.startswith("-e")),
        key=str.lower,
    )
    header = [
        "# Pinned dev tools and test dependencies for every nox session (see noxfile.py).",
        "# Generated by `nox -s lock`; refresh deliberately, in a commit of its own.",
    ]
    CONSTRAINTS.write_text("\n".join([*header, *pins, ""]), encoding="utf-8")
    session.log(f"wrote {len(pins)} pins to {CONSTRAINTS.name}")

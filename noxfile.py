"""Developer tasks: `nox -s tests`, `lint`, `typecheck`, `docs`, `demo`, `bench` and more."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False

PYTHON = None  # the interpreter nox itself runs on (3.11+)
#: The comparison baseline and the plotting library: benchmark-only dev tools.
BENCH_DEPS = ("apscheduler==4.0.0a6", "matplotlib>=3.8")
#: The documentation site generator: a docs-only dev tool.
DOCS_DEPS = ("mkdocs>=1.6,<2", "mkdocs-material>=9.5", "mkdocstrings[python]>=0.26")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite (pass pytest arguments after `--`)."""
    session.install("-e", ".[test,prometheus,web]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def thorough(session: nox.Session) -> None:
    """The property and model tests with 10,000 random examples each (not run in CI)."""
    session.install("-e", ".[test,prometheus,web]")
    session.env["TURNKEEPER_HYPOTHESIS_PROFILE"] = "thorough"
    session.run("pytest", "-q", *session.posargs)


@nox.session(python=PYTHON)
def soak(session: nox.Session) -> None:
    """One million runs with mixed outcomes and random cancels/updates (not run in CI)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "tests.soak", *(session.posargs or ["1000000"]))


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Run the benchmarks and record benchmarks/RESULTS.md and plots (not part of the tests).

    ``nox -s bench -- --quick`` runs reduced sizes in about a minute.
    """
    session.install("-e", ".", *BENCH_DEPS)
    session.run("python", "-m", "benchmarks.run", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff lint (with the flake8-async rules) and the formatting check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, the tests, the examples and the benchmarks."""
    session.install(
        "-e", ".[test,prometheus,web]", "mypy>=1.10", "types-croniter", "nox", *BENCH_DEPS
    )
    session.run("mypy", "--strict")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site into site/ (warnings are errors)."""
    session.install("-e", ".[prometheus]", *DOCS_DEPS)
    session.run("mkdocs", "build", "--strict", "--quiet", env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """Run a real scheduler for about ten seconds, printing what happens."""
    session.install("-e", ".")
    session.run("python", "-m", "examples.demo")

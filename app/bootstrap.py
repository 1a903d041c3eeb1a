"""Run the guide's commands inside the project's virtualenv, creating it when missing.

The root scripts (`python create_users_table.py`, `python seed_initial_data.py`,
`python run_dashboard.py`, `python scripts/manage_migrations.py ...`) and the shell
shims call `run_inside_venv()` before importing anything else, so they work in a
fresh clone with nothing installed. Standard library only: it runs first.

Which interpreter runs the command:

1. the project's `.venv` (already running there: nothing to do);
2. an installed `.venv` beside this package: the command is re-run there (one line says so);
3. the current interpreter, when it already has the dependencies (a virtualenv or
   container image someone installed `requirements.txt` into);
4. otherwise `.venv` is created, `requirements.txt` and the project are installed
   into it (once), and the command is re-run there.

`python -m app.bootstrap ARGS...` runs `mandate-vault ARGS...` the same way (the
shell shims use it when `.venv` is not ready).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
# Written by `make install` (with the dev tools) and by this module (runtime only).
STAMPS = (".installed-stamp", ".runtime-stamp")
# Modules a command needs before it can print anything useful.
NEEDED = ("typer", "fastapi", "sqlalchemy", "alembic", "pydantic_settings", "structlog", "uvicorn")
MIN_PYTHON = (3, 11)


class BootstrapError(Exception):
    """The virtualenv cannot be made ready; `str()` says what to do."""


def venv_python(venv: Path = VENV) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def running_in(venv: Path = VENV) -> bool:
    return Path(sys.prefix).resolve() == venv.resolve()


def installed(venv: Path = VENV, root: Path = ROOT) -> bool:
    """The venv holds an install at least as new as the dependency files."""
    inputs = [root / "pyproject.toml", root / "requirements.txt"]
    newest = max((p.stat().st_mtime for p in inputs if p.exists()), default=0.0)
    stamps = [venv / name for name in STAMPS]
    return venv_python(venv).exists() and any(
        s.exists() and s.stat().st_mtime >= newest for s in stamps
    )


def has_dependencies() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in NEEDED)


def say(message: str) -> None:
    sys.stderr.write(f"{Path(sys.argv[0]).name}: {message}\n")
    sys.stderr.flush()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One installer at a time when several commands start in a fresh clone together."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock, installs are rare
        yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(args: list[str], what: str) -> None:
    result = subprocess.run(args, check=False)
    if result.returncode != 0:
        raise BootstrapError(f"{what} failed (exit {result.returncode}): {' '.join(args)}")


def create(venv: Path = VENV, root: Path = ROOT) -> None:
    """Create `venv` and install the pinned requirements and the project into it."""
    if sys.version_info < MIN_PYTHON:
        found = ".".join(map(str, sys.version_info[:2]))
        raise BootstrapError(
            f"Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]}+ is needed and this is {found}; "
            f"run the command with python3.11 or newer"
        )
    with _locked(root / ".venv.lock"):
        if installed(venv, root):  # another command finished it while we waited
            return
        python = venv_python(venv)
        if not python.exists():
            say(f"creating {venv} and installing the project into it (first run only)")
            result = subprocess.run([sys.executable, "-m", "venv", str(venv)], check=False)
            if result.returncode != 0 or not python.exists():
                raise BootstrapError(
                    f"'{sys.executable} -m venv {venv}' failed; on Debian or Ubuntu "
                    "install python3-venv and run the command again"
                )
        else:
            say(f"installing the project into {venv}")
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        requirements = root / "requirements.txt"
        if requirements.exists():
            _run([*pip, "-r", str(requirements)], "installing requirements.txt")
            _run([*pip, "--no-deps", "-e", str(root)], "installing the project")
        else:
            _run([*pip, "-e", str(root)], "installing the project")
        (venv / ".runtime-stamp").touch()


def run_inside_venv() -> None:
    """Return when this interpreter can run the project; otherwise re-run this very
    command with the project's virtualenv (creating it first). Never returns then."""
    if running_in(VENV):
        if not installed() and not has_dependencies():
            _or_exit(create)
        return
    if not installed() and has_dependencies():
        return
    if not installed():
        _or_exit(create)
    python = str(venv_python())
    say(f"running inside the project's virtualenv ({VENV})")
    sys.stdout.flush()
    os.execv(python, [python, *sys.orig_argv[1:]])


def _or_exit(step: Callable[[], None]) -> None:
    try:
        step()
    except BootstrapError as error:
        say(f"error: {error}")
        raise SystemExit(2) from None


def main() -> None:
    run_inside_venv()
    from app.cli import app

    app(sys.argv[1:], prog_name="mandate-vault")


if __name__ == "__main__":
    main()

"""Serve the API and dashboard on HOST:PORT. Same as `mandate-vault serve`; runs
inside the project's `.venv` (made on first use)."""

import sys

if __name__ == "__main__":
    from app.bootstrap import run_inside_venv

    run_inside_venv()
    from app.cli import app

    app(["serve", *sys.argv[1:]], prog_name="run_dashboard.py")

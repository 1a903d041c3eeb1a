"""Serve the API and dashboard on HOST:PORT. Same as `mandate-vault serve`."""

import sys

from app.cli import app

if __name__ == "__main__":
    app(["serve", *sys.argv[1:]], prog_name="run_dashboard.py")

"""Load the demo data (idempotent). Same as `mandate-vault seed`."""

from app.cli import app

if __name__ == "__main__":
    app(["seed"], prog_name="seed_initial_data.py")

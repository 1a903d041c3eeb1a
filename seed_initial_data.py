"""Load the demo data (idempotent). Same as `mandate-vault seed`; runs inside the
project's `.venv` (made on first use)."""

if __name__ == "__main__":
    from app.bootstrap import run_inside_venv

    run_inside_venv()
    from app.cli import app

    app(["seed"], prog_name="seed_initial_data.py")

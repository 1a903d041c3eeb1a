"""Create (or bring up to date) the database schema through the migrations.

Reads DATABASE_URL and SECRET_KEY like the application. Same as
`mandate-vault db upgrade head`; runs inside the project's `.venv` (made on first use).
"""

if __name__ == "__main__":
    from app.bootstrap import run_inside_venv

    run_inside_venv()
    from app.cli import app

    app(["db", "upgrade", "head"], prog_name="create_users_table.py")

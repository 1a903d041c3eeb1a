"""Create (or bring up to date) the database schema through the migrations.

Reads DATABASE_URL and SECRET_KEY like the application. Same as
`mandate-vault db upgrade head`.
"""

from app.cli import app

if __name__ == "__main__":
    app(["db", "upgrade", "head"], prog_name="create_users_table.py")

"""README's role x permission table is the code's table."""

from pathlib import Path

from app.tenancy.permissions import markdown_matrix

ROOT = Path(__file__).resolve().parents[2]


def test_readme_matrix_matches_the_code():
    text = (ROOT / "README.md").read_text()
    start = text.index("<!-- permissions-matrix:start -->") + len(
        "<!-- permissions-matrix:start -->"
    )
    end = text.index("<!-- permissions-matrix:end -->")
    assert text[start:end].strip() == markdown_matrix(), (
        "README.md matrix is stale: paste app.tenancy.permissions.markdown_matrix() between the markers"
    )

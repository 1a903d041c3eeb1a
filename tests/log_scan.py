"""What a secret looks like in a log line, for the scans: the secret-in-logs test,
the drills' server logs, and the whole suite's captured output (conftest)."""

from __future__ import annotations

import re

from tests.conftest import TEST_SECRET
from tests.world import PASSWORD

# Shapes of the credentials the service issues or receives, long enough to be real.
_SHAPES = [
    re.compile(r"\bmvk_[A-Za-z0-9_\-]{20,}"),  # API key
    re.compile(r"\bmvr_[A-Za-z0-9_\-]{20,}"),  # refresh token
    re.compile(r"\bwhsec_[A-Za-z0-9+/=]{20,}"),  # webhook signing secret
    re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,}"),  # JWT
]
# Literal values the tests use as passwords and keys, and canaries a test adds.
LITERALS = {TEST_SECRET, PASSWORD}


def leaks(text: str, *extra: str) -> list[str]:
    """Every secret-looking string in `text` (shortened, so the report leaks nothing)."""
    found = [m.group()[:12] + "..." for shape in _SHAPES for m in shape.finditer(text)]
    found += [value[:4] + "..." for value in (*LITERALS, *extra) if value and value in text]
    return found

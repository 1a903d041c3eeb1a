"""The README's ten-minute tutorial, run as written against a real server: every
command block in order in one shell, each output compared with the one shown
(ids, times and tokens stand for themselves)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_SECRET, free_port

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SHOWN_PORT = "127.0.0.1:8000"
MARK = "::tutorial-block::"
VARIABLE = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"), "<time>"),
    (re.compile(r"\b(ey[\w-]+\.){2}[\w-]+"), "<jws>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<sha256>"),
]


@dataclass
class Block:
    commands: str
    shown: str | None  # the output the README shows, if any


def tutorial_blocks(text: str) -> list[Block]:
    section = text.split("<!-- tutorial:start -->", 1)[1].split("<!-- tutorial:end -->", 1)[0]
    fences = re.findall(r"```(bash|text)\n(.*?)```", section, flags=re.S)
    blocks: list[Block] = []
    for kind, body in fences:
        if kind == "bash":
            blocks.append(Block(body, None))
        else:
            assert blocks, "an output block must follow a command block"
            assert blocks[-1].shown is None, "one output block per command block"
            blocks[-1].shown = body
    return blocks


def normalised(text: str) -> str:
    for pattern, stand_in in VARIABLE:
        text = pattern.sub(stand_in, text)
    return text.strip()


def run_blocks(blocks: list[Block], port: int, env: dict[str, str], cwd: Path) -> list[str]:
    script = ["set -euo pipefail"]
    for block in blocks:
        script.append(block.commands.replace(SHOWN_PORT, f"127.0.0.1:{port}"))
        script.append(f"echo '{MARK}'")
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    outputs = result.stdout.split(MARK + "\n")
    assert result.returncode == 0, f"block {len(outputs)} failed:\n{result.stdout}\n{result.stderr}"
    return outputs[: len(blocks)]


@pytest.fixture
def server(database_url: str, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "DEMO_"))}
    env.update(
        {
            "SECRET_KEY": TEST_SECRET,
            "DATABASE_URL": database_url,
            "ENVIRONMENT": "development",
            "LOG_LEVEL": "WARNING",
            # The tutorial's commands find the `mandate-vault` of this virtualenv.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("server did not start")
    try:
        yield port, env
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_tutorial_runs_as_written(server, tmp_path: Path) -> None:
    missing = [tool for tool in ("curl", "jq", "bash") if shutil.which(tool) is None]
    assert not missing, (
        f"the tutorial needs {missing}: scripts/ensure_system_packages.sh installs them"
    )
    port, env = server
    blocks = tutorial_blocks(README.read_text())
    assert len(blocks) >= 6
    outputs = run_blocks(blocks, port, env, tmp_path)
    for number, (block, output) in enumerate(zip(blocks, outputs, strict=True), start=1):
        if block.shown is None:
            assert output.strip() == "", f"block {number} printed output the README does not show"
            continue
        assert normalised(output) == normalised(block.shown), f"block {number}"


def test_the_comparison_ignores_only_what_varies() -> None:
    shown = '{"id": "3f6c1e2a-7b4d-4c1e-9a2f-5d8e7c6b1a09", "at": "2026-12-01T09:30:00Z"}'
    other = '{"id": "9e8d7c6b-5a4f-4e3d-9c2b-1a0f9e8d7c6b", "at": "2027-01-02T10:00:01+00:00"}'
    assert normalised(shown) == normalised(other)
    assert normalised('{"status": "active"}') != normalised('{"status": "revoked"}')

"""How long `mandate-vault --help` takes (target: under 0.5 s)."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 15


def main() -> None:
    exe = shutil.which("mandate-vault", path=str(Path(sys.executable).parent)) or "mandate-vault"
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run([exe, "--help"], check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
    baseline = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, capture_output=True)
        baseline.append(time.perf_counter() - started)
    median = statistics.median(samples)
    print(
        f"mandate-vault --help: median {median * 1000:.0f} ms, max {max(samples) * 1000:.0f} ms over {RUNS} runs"
    )
    print(f"bare python start:    median {statistics.median(baseline) * 1000:.0f} ms")
    print(
        f"ratio to bare start:  {median / statistics.median(baseline):.1f}x   target < 500 ms: {'ok' if median < 0.5 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()

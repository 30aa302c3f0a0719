"""Run every benchmark script in this folder in turn (`make bench`); extra arguments are passed on.

Each `benchmarks/<name>.py` (not starting with `_`, not this file) runs as its own process and
prints its figures. The exit status is non-zero if any script failed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    scripts = sorted(
        p for p in HERE.glob("*.py") if not p.name.startswith("_") and p.name != "run.py"
    )
    failed = []
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        began = time.monotonic()
        result = subprocess.run([sys.executable, str(script), *sys.argv[1:]], cwd=HERE.parent)
        print(
            f"=== {script.name}: exit {result.returncode} after {time.monotonic() - began:.0f} s ==="
        )
        if result.returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

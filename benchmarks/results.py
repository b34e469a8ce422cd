"""Where benchmarks write what they printed: benchmarks/results/<name>.txt (not committed), with
the time and machine, so a run can be compared with the next."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def write_results(name: str, lines: list[str]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.txt"
    header = (f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')} on {platform.node()} "
              f"({os.cpu_count()} cores, Python {platform.python_version()})")
    path.write_text("\n".join([header, *lines]) + "\n")
    print(f"(written to {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path})")
    return path

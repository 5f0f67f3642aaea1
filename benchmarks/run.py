"""Easel's benchmark suite: every figure beside a baseline measured in the same run.

    python benchmarks/run.py            # full run, writes benchmarks/RESULTS.md
    python benchmarks/run.py --quick    # a few repetitions (CI: proves every figure is still measured)

Machines here are shared and noisy: the targets are ratios against a baseline where one exists.
Runs against the fake OpenAI server from the tests (no network, no key), so it needs the development
install: pip install -e ".[dev]".
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.figures import Figure, measure_all  # noqa: E402


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")).split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{system}, {os.cpu_count()} cores ({cpu}){mem}, Python {platform.python_version()}"


def table(figures: list[Figure]) -> str:
    rows = [["figure", "Easel", "baseline", "ratio", "target", "met"]]
    for f in figures:
        rows.append([f.name, f.easel_text(), f.baseline_text(), f.ratio_text(), f.target, "yes" if f.met else "NO"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def missing_tools() -> list[str]:
    """The development packages the benchmarks use (through the tests' fake upstream) that are not installed."""
    import importlib.util

    return [name for name in ("yaml", "jsonschema") if importlib.util.find_spec(name) is None]


def main() -> int:
    if missing := missing_tools():
        print(
            f"the benchmarks run against the tests' fake upstream, which needs {', '.join(missing)}: "
            'install the development tools first: pip install -e ".[dev]"',
            file=sys.stderr,
        )
        return 2
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few repetitions; does not write RESULTS.md")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)  # before the SDK configures INFO logging (a no-op then)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's S3 server logs every request at INFO
    figures = measure_all(quick=args.quick)
    text = table(figures)
    print(text)
    missing = [f.name for f in figures if f.easel is None and not f.note.startswith("skipped")]
    if missing:
        print(f"not measured: {', '.join(missing)}", file=sys.stderr)
        return 1
    if not args.quick:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        notes = "\n".join(f"- {f.name}: {f.note}" for f in figures if f.note)
        args.output.write_text(
            f"# Easel benchmark results\n\nMeasured {stamp} on {machine()}.\n"
            f"Regenerate with `python benchmarks/run.py`.\n\n{text}\n\n## Notes\n\n{notes}\n",
            encoding="utf-8",
        )
        print(f"\nwrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

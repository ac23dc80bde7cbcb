"""Render a ``benchmarks.run`` JSON report as the Markdown table of ``docs/performance.md``.

Usage: ``python -m benchmarks.run > report.json && python -m benchmarks.report_md report.json``.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

__all__ = ["markdown_table"]


def _number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        # Three significant digits: run-to-run noise on a shared machine is larger than that.
        return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.0f}"
    return str(value)


def _notes(row: dict[str, Any]) -> str:
    keys = ("skipped", "error", "entry", "shape", "override", "precision", "psnr_delta_db", "ssim_delta",
            "psnr_vs_fp32_db", "declared_safe", "max_abs_diff", "peak_fraction", "best_fraction", "gflop_per_s",
            "tiles", "parameters", "seconds", "tile", "overlaps", "mean_abs_diff", "config", "reference_is")
    return "; ".join(f"{k} {_number(row[k])}" for k in keys if row.get(k) is not None)


def markdown_table(report: dict[str, Any]) -> str:
    """One line per result: case, unit, both figures, ratio, goal, whether it is met, load, notes."""
    lines = ["| case | unit | restorefw | reference | ratio | goal | met | load | notes |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in report["results"]:
        cells = [f"`{row['case']}`", row["unit"], _number(row["restorefw"]), _number(row["reference"]),
                 _number(row["ratio"]), row.get("goal") or "", _number(row.get("goal_met")),
                 _number(row.get("load_1m")), _notes(row)]
        # A literal "|" (as in a goal "max |a - b|") would split the cell.
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines + _profiles(report))


def _profiles(report: dict[str, Any]) -> list[str]:
    """One table per profile row: its top kinds of work and their share of the time."""
    lines = []
    for row in report["results"]:
        if not row.get("top"):
            continue
        lines += ["", f"`{row['case']}`: {_number(row['restorefw'])} ms, floor {_number(row['reference'])} ms", "",
                  "| op | ms | share | calls |", "|---|---|---|---|"]
        lines += [f"| {r['op']} | {_number(r['ms'])} | {r['share']:.1%} | {r['calls']} |" for r in row["top"]]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("report", help="JSON printed by python -m benchmarks.run")
    args = parser.parse_args()
    with open(args.report, encoding="utf-8") as f:
        print(markdown_table(json.load(f)))


if __name__ == "__main__":
    main()

"""Render a ``benchmarks.run`` JSON report as the Markdown table of ``docs/performance.md``.

Usage: ``python -m benchmarks.run > report.json && python -m benchmarks.report_md report.json``.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

__all__ = ["markdown_table", "summary_lines"]


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


def summary_lines(report: dict[str, Any]) -> list[str]:
    """A few lines for the terminal: peak fraction, each precision's time and PSNR change, the profiles' top ops."""
    lines = []
    for row in report["results"]:
        case, notes = row["case"], ""
        if row.get("skipped"):
            continue
        if case.endswith("peak_fraction"):
            notes = f"{row['restorefw']:.1%} of the fp32 matmul peak (goal {row['reference']:.0%})"
        elif case.startswith("precision_restormer_forward"):
            ratio, agreement = _number(row["restorefw"] / row["reference"]), _number(row["psnr_vs_fp32_db"])
            notes = f"{ratio}x the fp32 time, outputs {agreement} dB from fp32's"
        elif case.startswith("precision_quality"):
            notes = f"PSNR {row['psnr_delta_db']:+.3f} dB, SSIM {row['ssim_delta']:+.4f} against fp32"
        elif row.get("top"):
            top = ", ".join(f"{r['op']} {r['share']:.0%}" for r in row["top"][:5])
            notes = f"{_number(row['restorefw'])} ms ({row['ratio']:.0%} of peak): {top}"
        if notes:
            met = "" if row.get("goal_met") is None else ("  [goal met]" if row["goal_met"] else "  [goal NOT met]")
            lines.append(f"{case}: {notes}{met}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("report", help="JSON printed by python -m benchmarks.run")
    args = parser.parse_args()
    with open(args.report, encoding="utf-8") as f:
        print(markdown_table(json.load(f)))


if __name__ == "__main__":
    main()

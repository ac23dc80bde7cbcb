"""The benchmark suite stays runnable: a quick smoke run of its cheap cases prints the documented fields.

Only the fields are checked, never the timings: this machine's load varies too much for a timed test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_FIELDS = {"case", "unit", "restorefw", "reference", "ratio", "goal", "goal_met", "load_1m"}


@pytest.mark.slow
def test_quick_suite_reports_ratios_and_goals(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))
    from benchmarks.run import main

    report = main(["--quick", "--only", "restormer_train_step,cli", "--threads", "1"])
    env = report["environment"]
    assert env["threads"] == 1 and "allocator" in env and "malloc_tuning" in env
    assert len(env["load_average_start"]) == 3 and len(env["load_average_end"]) == 3
    assert env["cpu_model"] and {"avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_fp16"} <= set(env["isa"])
    cases = {row["case"]: row for row in report["results"]}
    assert {"restormer_train_step_b1", "restormer_train_step_b1_vs_spandrel", "restormer_train_step_b1_bf16",
            "cli_help", "cli_plugins"} <= set(cases)
    for row in cases.values():
        assert _FIELDS <= set(row), row["case"]
        if row.get("skipped"):  # spandrel is optional
            continue
        assert row["restorefw"] > 0 and row["reference"] > 0 and row["ratio"] > 0
        assert (row["goal"] is None) == (row["goal_met"] is None), row["case"]
    assert cases["cli_help"]["goal"] == "< 0.3 s" and isinstance(cases["cli_help"]["goal_met"], bool)
    assert cases["restormer_train_step_b1"]["goal"] == "restorefw time <= 0.7x reference"
    assert '"suite": "restorefw"' in capsys.readouterr().out

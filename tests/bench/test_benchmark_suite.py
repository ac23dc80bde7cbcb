"""The benchmark suite stays runnable: a quick smoke run of its cheap cases prints the documented fields."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.slow
def test_quick_suite_reports_ratios(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))
    from benchmarks.run import main

    report = main(["--quick", "--only", "data_pipeline,restormer_train_step", "--threads", "1"])
    assert report["environment"]["threads"] == 1 and "allocator" in report["environment"]
    cases = {row["case"]: row for row in report["results"]}
    assert {"data_noise", "data_rain", "restormer_train_step_b1"} <= set(cases)
    for row in cases.values():
        assert row["restorefw"] > 0 and row["reference"] > 0 and row["ratio"] > 0
    assert '"suite": "restorefw"' in capsys.readouterr().out

"""make test's runner (tests/run.py): the shards' results are summed from
their JUnit reports, and any failure, error or bad exit fails the run."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import run  # noqa: E402  (tests/run.py, the runner itself)


def test_counts_are_read_from_a_junit_report(tmp_path):
    report = tmp_path / "r.xml"
    report.write_text('<testsuites><testsuite name="pytest" tests="5" failures="1" errors="1" '
                      'skipped="1"></testsuite></testsuites>')
    assert run.counts(report) == {"tests": 5, "failures": 1, "errors": 1, "skipped": 1}
    assert run.counts(tmp_path / "missing.xml")["tests"] == 0


def test_a_failing_shard_fails_the_run(tmp_path, monkeypatch, capsys):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_ok.py").write_text("def test_ok():\n    pass\n")
    (tmp_path / "tests" / "test_bad.py").write_text("def test_bad():\n    assert False\n")
    monkeypatch.setattr(run, "TOP", tmp_path)
    monkeypatch.setattr(run, "LOGS", tmp_path / "logs")
    monkeypatch.setattr(run, "PHASES", ((("a", 0, ["tests/test_ok.py"]), ("b", 1, ["tests/test_bad.py"])),))
    assert run.main(["-p", "no:cacheprovider"]) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == "total: 1 passed, 1 failed"
    monkeypatch.setattr(run, "PHASES", ((("a", 0, ["tests/test_ok.py"]),),))
    assert run.main(["-p", "no:cacheprovider"]) == 0

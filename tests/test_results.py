import json

import pytest

from utils.results import record


def test_record_writes_and_asserts_in_full_mode(tmp_path, monkeypatch):
    out = tmp_path / "r.jsonl"
    monkeypatch.setenv("DLF_RESULTS_FILE", str(out))
    monkeypatch.delenv("DLF_QUICK", raising=False)
    record("acc", 0.99, target=0.98)
    record("ratio", 1.5, target=2.0, higher_is_better=False)
    with pytest.raises(AssertionError, match="misses the target"):
        record("acc_low", 0.97, target=0.98)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["name"] for r in rows] == ["acc", "ratio", "acc_low"]
    assert rows[0]["met"] is True and rows[2]["met"] is False


def test_record_does_not_assert_in_quick_mode(monkeypatch, capsys):
    monkeypatch.setenv("DLF_QUICK", "1")
    monkeypatch.delenv("DLF_RESULTS_FILE", raising=False)
    assert record("acc", 0.5, target=0.98) == 0.5
    assert "full mode only" in capsys.readouterr().out

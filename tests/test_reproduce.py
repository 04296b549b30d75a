"""``tasklab-reproduce``: a recorded run replayed from its record's config gives the same
metrics bit for bit, and a difference is shown metric by metric with a failing exit."""

from __future__ import annotations

import json

from tasklab.reproduce import main
from tasklab.results import RESULT_FILE
from tasklab.runner import train

from .conftest import TINY


def test_a_run_reproduces_bit_for_bit_and_a_changed_record_shows_its_difference(
    make_cfg, tmp_path, capsys
):
    run_dir = tmp_path / "run"
    recorded = train(make_cfg(*TINY, "logger=none", "seed=5"), output_dir=run_dir)
    assert main([str(run_dir), "--out", str(tmp_path / "again")]) == 0
    out = capsys.readouterr().out
    n = len(recorded.metrics)
    assert f"{n} of {n} metrics identical" in out
    replay = json.loads((tmp_path / "again" / RESULT_FILE).read_text())
    assert replay["metrics"] == recorded.metrics and replay["seed"] == 5

    record = json.loads((run_dir / RESULT_FILE).read_text())
    record["metrics"]["test/car/auroc"] += 0.25
    (run_dir / RESULT_FILE).write_text(json.dumps(record))
    assert main([str(run_dir), "--out", str(tmp_path / "third")]) == 1
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if line.startswith("test/car/auroc")]
    assert line.split()[-1] == "-0.25"
    assert f"{n - 1} of {n} metrics identical" in out
    assert main([str(run_dir), "--out", str(tmp_path / "fourth"), "--tolerance", "0.3"]) == 0


def test_a_folder_without_a_record_is_a_one_line_error(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tasklab-reproduce: error:") and "\n" not in err


def test_a_record_made_by_other_source_files_says_so():
    from tasklab.reproduce import provenance_notes
    from tasklab.results import source_digest

    assert provenance_notes({"source_digest": source_digest()}) == []
    (note,) = provenance_notes({"source_digest": "0123456789abcdef"})
    assert (
        note
        == f"note: tasklab's source was 0123456789abcdef when recorded, is {source_digest()} now"
    )

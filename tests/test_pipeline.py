"""The runner: clear failures naming the step and the cell, and a clear stop when there is no input."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from mimamori_lib import paths, pipeline
from mimamori_lib.errors import InputError


def test_no_input_stops_with_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    with pytest.raises(InputError, match="入力フォルダに CSV がありません"):
        pipeline.run_year("params/fy2025.yaml", str(tmp_path / "raw"), str(tmp_path / "out"))


def test_failure_names_step_and_cell(tmp_path: Path, monkeypatch) -> None:
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "language_info": {"name": "python"}}
    params = nbformat.v4.new_code_cell('params_path = "params/fy2025.yaml"\noverrides = {}')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("raise ValueError('壊れたセル')")]
    nbformat.write(nb, nbdir / "10_ingest.ipynb")
    monkeypatch.setattr(paths, "NOTEBOOKS", nbdir)
    raw = tmp_path / "raw" / "fy2025" / "shimin"
    raw.mkdir(parents=True)
    (raw / "juki.csv").write_text("宛名番号\n", encoding="cp932")
    with pytest.raises(pipeline.StepFailed) as e:
        pipeline.run_year("params/fy2025.yaml", str(tmp_path / "raw"), str(tmp_path / "out"))
    msg = str(e.value)
    assert "10_ingest" in msg and "セル" in msg and "壊れたセル" in msg
    assert (tmp_path / "out" / "reports" / "fy2025" / "10_ingest.ipynb").exists(), "the partly executed notebook is kept"

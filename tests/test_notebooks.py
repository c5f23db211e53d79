"""End to end: the notebooks run in order through papermill on a small synthetic city (params/smoke.yaml)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mimamori_lib import paths
from mimamori_lib.params import load_params
from mimamori_lib.pipeline import run_year
from mimamori_lib.synth.generate import generate


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("smoke")
    p = load_params("params/smoke.yaml")
    generate(root / "raw", root / "synthetic_truth", children=p["synth"]["children"], seed=p["synth"]["seed"],
             years=p["synth"]["years"])
    mp = pytest.MonkeyPatch()
    mp.setenv("MIMAMORI_KEY_FILE", str(root / "smoke.key"))
    result = run_year("params/smoke.yaml", str(root / "raw"), str(root / "out"))
    yield root, result
    mp.undo()


def test_every_existing_notebook_ran(smoke_run) -> None:
    root, result = smoke_run
    ran = [s["step"] for s in result.steps]
    expected = [nb.stem for nb in sorted(paths.NOTEBOOKS.glob("*.ipynb"))]
    assert ran == expected and ran, "the run executes every notebook in order"
    for s in result.steps:
        html = Path(s["html"])
        assert html.exists() and html.parent == root / "out" / "reports" / "fy2025"
        text = html.read_text(encoding="utf-8")
        assert "params_path" not in text and "import " not in text, "HTML without code cells"


def test_ingest_outputs(smoke_run) -> None:
    root, _ = smoke_run
    out = root / "out" / "processed" / "fy2025"
    summary = pd.read_csv(out / "ingest_summary.csv", keep_default_na=False)
    assert len(summary) == 19 and (summary["status"] == "loaded").all()
    assert (summary["rows_read"] == summary["rows_loaded"] + summary["rows_quarantined"]).all()
    assert (out / "quarantine.csv").exists() and (out / "restricted" / "identity.parquet").exists()
    juki = pd.read_parquet(out / "juki.parquet")
    assert "person_id" in juki and "atena_no" not in juki
    html = (root / "out" / "reports" / "fy2025" / "10_ingest.html").read_text(encoding="utf-8")
    assert "ファイルごとの取込状況" in html and "隔離の理由" in html and "<img" in html
    ident = pd.read_parquet(out / "restricted" / "identity.parquet")
    some_name = ident["name"].dropna().iloc[0]
    assert some_name not in html, "the ingestion report names no one"


def test_link_outputs(smoke_run) -> None:
    root, _ = smoke_run
    out = root / "out" / "processed" / "fy2025"
    links = pd.read_parquet(out / "links.parquet")
    assert set(links["source"]) >= {"gakko/shusseki.csv", "gakko/shugaku_enjo.csv", "survey/seikatsu.csv"}
    assert (links["status"].isin(["auto", "reviewed"])).mean() > 0.9
    assert (root / "out" / "reports" / "internal" / "fy2025" / "review_queue.xlsx").exists()
    html = (root / "out" / "reports" / "fy2025" / "20_link.html").read_text(encoding="utf-8")
    assert "ファイル別の連結率" in html and "precision" in html, "synthetic-only accuracy cell ran"


def test_extraction_and_meeting_round_trip(smoke_run) -> None:
    from mimamori_lib.synth.meeting import fill_decisions

    root, _ = smoke_run
    p = load_params("params/smoke.yaml", {"raw_dir": str(root / "raw"), "out_dir": str(root / "out")})
    internal = root / "out" / "reports" / "internal" / "fy2025"
    lst = pd.read_csv(internal / "extraction.csv", dtype=str, encoding="utf-8-sig")
    assert len(lst) >= 10 and lst["抽出ID"].is_unique
    sheets = list((internal / "assessment").glob("*.html"))
    assert {s.stem for s in sheets} == set(lst["抽出ID"])
    scores = pd.read_parquet(root / "out" / "processed" / "fy2025" / "scores.parquet")
    assert "atena_no" not in scores and "name" not in scores
    html = (root / "out" / "reports" / "fy2025" / "30_extract.html").read_text(encoding="utf-8")
    assert not any(n in html for n in lst["氏名"]), "the extraction report names no child"
    fill_decisions(root / "raw", root / "synthetic_truth", internal, 2025, p["reference_date"])
    run_year("params/smoke.yaml", str(root / "raw"), str(root / "out"), start="35_meeting")
    dec = pd.read_parquet(root / "out" / "processed" / "fy2025" / "decisions.parquet")
    assert len(dec) == len(lst) and set(dec["support_needed"]) <= {"要", "否", "保留"}

"""End to end: `mimamori report` on a small synthetic city (params/smoke.yaml) runs every notebook of both years
through papermill, with the synthetic meeting in between; then we check what they wrote, and that the public
report leaks no one."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from bs4 import BeautifulSoup

from mimamori_lib import paths
from mimamori_lib.disclosure import MASK
from mimamori_lib.params import load_params


def test_every_notebook_ran_for_both_years(smoke_run) -> None:
    expected = [nb.stem for nb in sorted(paths.NOTEBOOKS.glob("*.ipynb"))]
    for fy in ("fy2024", "fy2025"):
        htmls = sorted(p.stem for p in (smoke_run / "out" / "reports" / fy).glob("*.html") if p.stem[:2].isdigit())
        assert htmls == expected
        for h in htmls:
            text = (smoke_run / "out" / "reports" / fy / f"{h}.html").read_text(encoding="utf-8")
            assert "params_path" not in text and "import " not in text, "HTML without code cells"
            assert "Traceback" not in text


def test_ingest_outputs(smoke_run) -> None:
    out = smoke_run / "out" / "processed" / "fy2025"
    summary = pd.read_csv(out / "ingest_summary.csv", keep_default_na=False)
    assert len(summary) == 19 and (summary["status"] == "loaded").all()
    assert (summary["rows_read"] == summary["rows_loaded"] + summary["rows_quarantined"]).all()
    assert (out / "quarantine.csv").exists() and (out / "restricted" / "identity.parquet").exists()
    juki = pd.read_parquet(out / "juki.parquet")
    assert "person_id" in juki and "atena_no" not in juki
    s24 = pd.read_csv(smoke_run / "out" / "processed" / "fy2024" / "ingest_summary.csv", keep_default_na=False)
    assert s24.set_index("source").loc["survey/seikatsu.csv", "status"] == "absent"


def test_link_outputs(smoke_run) -> None:
    out = smoke_run / "out" / "processed" / "fy2025"
    links = pd.read_parquet(out / "links.parquet")
    assert set(links["source"]) >= {"gakko/shusseki.csv", "gakko/shugaku_enjo.csv", "survey/seikatsu.csv"}
    assert (links["status"].isin(["auto", "reviewed"])).mean() > 0.9
    assert (smoke_run / "out" / "reports" / "internal" / "fy2025" / "review_queue.xlsx").exists()
    html = (smoke_run / "out" / "reports" / "fy2025" / "20_link.html").read_text(encoding="utf-8")
    assert "ファイル別の連結率" in html and "precision" in html, "synthetic-only accuracy cell ran"


def test_extraction_and_meeting(smoke_run) -> None:
    for fy in ("fy2024", "fy2025"):
        internal = smoke_run / "out" / "reports" / "internal" / fy
        lst = pd.read_csv(internal / "extraction.csv", dtype=str, encoding="utf-8-sig")
        assert len(lst) >= 10 and lst["抽出ID"].is_unique
        assert {s.stem for s in (internal / "assessment").glob("*.html")} == set(lst["抽出ID"])
        assert (internal / "extraction.xlsx").exists()
        scores = pd.read_parquet(smoke_run / "out" / "processed" / fy / "scores.parquet")
        assert "atena_no" not in scores and "name" not in scores
        html = (smoke_run / "out" / "reports" / fy / "30_extract.html").read_text(encoding="utf-8")
        assert not any(n in html for n in lst["氏名"]), "the extraction report names no child"
        if fy == "fy2025":
            assert "調査項目で加わったこども" in html, "the FY2025 run shows what the survey items change"
        dec = pd.read_parquet(smoke_run / "out" / "processed" / fy / "decisions.parquet")
        assert len(dec) == len(lst) and set(dec["support_needed"]) <= {"要", "否", "保留"}
    p25 = load_params("params/fy2025.yaml", {"raw_dir": str(smoke_run / "raw"), "out_dir": str(smoke_run / "out")})
    assert (Path(p25.processed) / "survey_associations.csv").exists()


def _identity_strings(root: Path) -> set[str]:
    out: set[str] = set()
    for fy in ("fy2024", "fy2025"):
        ident = pd.read_parquet(root / "out" / "processed" / fy / "restricted" / "identity.parquet")
        for c in ("name", "name_kana"):
            for v in ident[c].dropna():
                if len(v.replace(" ", "")) >= 3:
                    out |= {v, v.replace(" ", "")}
        out |= set(ident["atena_no"].dropna()) | set(ident["person_id"].dropna())
        out |= {a.split(" ")[0] for a in ident["address"].dropna() if re.search(r"\d+-\d+", a)}
        scores = pd.read_parquet(root / "out" / "processed" / fy / "scores.parquet")
        out |= set(scores["extract_id"].dropna())
    return out


def test_public_report_leaks_no_one(smoke_run) -> None:
    pub = sorted((smoke_run / "out" / "reports" / "public").glob("成果報告会_*.html"))
    assert [p.name for p in pub] == ["成果報告会_2024.html", "成果報告会_2025.html"]
    secrets = _identity_strings(smoke_run)
    sheet = next((smoke_run / "out" / "reports" / "internal" / "fy2025" / "assessment").glob("*.html")).read_text(encoding="utf-8")
    assert len(secrets) > 1000 and any(s in sheet for s in secrets), "the scan would see a leak (internal sheets name children)"
    threshold = load_params("params/smoke.yaml").disclosure.threshold
    for f in pub:
        html = f.read_text(encoding="utf-8")
        soup = BeautifulSoup(html, "html.parser")
        text = soup.get_text(" ")
        leaked = [s for s in secrets if s in text]
        assert not leaked, f"{f.name}: {leaked[:5]}"
        unpadded = [a.lstrip("0") for a in secrets if re.fullmatch(r"\d{10}", a)]
        assert not any(re.search(rf"(?<!\d){u}(?!\d)", text) for u in unpadded)
        assert "市立" not in text and "小学校" not in text, "no school-level table in public output"
        for section in ("事業概要", "支援業務プロセス", "仕組みの構築", "支援を実施するまでの流れ", "支援の実施状況",
                        "会議で判断したこどものその後", "事例", "生活習慣等調査", "評価", "課題・対応策・効果", "おわりに"):
            assert section in text
        tables = soup.find_all("table")
        assert tables
        for t in tables:
            classes = set(t.get("class") or [])
            assert classes & {"disclosure-protected", "disclosure-safe"}, f"{f.name}: a table that skipped disclosure control"
            if "disclosure-protected" in classes:
                for td in t.find_all("td"):
                    v = td.get_text(strip=True).replace(",", "")
                    if v.isdigit():
                        assert int(v) == 0 or int(v) >= threshold, f"{f.name}: unsuppressed small count {v}"
            header = [th.get_text(strip=True) for th in t.find_all("th")]
            if "p値 (Fisher)" in header:  # the derived-statistics rule: a hidden percentage hides its row's statistics
                for tr in t.find_all("tr")[1:]:
                    cells = [td.get_text(strip=True) for td in tr.find_all("td")]
                    if cells and MASK in cells[:2]:
                        assert all(c == MASK for c in cells[:5]), f"{f.name}: a statistic from a hidden count: {cells}"


def test_every_html_works_offline(smoke_run) -> None:
    """Notebook reports, the public report, assessment sheets and the Splink chart load nothing from outside."""
    from mimamori_lib.linkage.review import CHART_ID, NO_ACTIONS
    from mimamori_lib.output.offline import external_loads, web_addresses

    pages = sorted((smoke_run / "out").rglob("*.html"))
    kinds = {p.parent.name for p in pages} | {p.name for p in pages}
    assert {"public", "assessment", "linkage_match_weights.html", "30_extract.html"} <= kinds
    bad = {str(p.relative_to(smoke_run)): external_loads(p.read_text(encoding="utf-8")) for p in pages}
    assert not {k: v for k, v in bad.items() if v}
    # no web address at all in what people read (not even in a style sheet's comment); the chart's libraries name
    # namespaces and help pages in their code, and its menu that opens the online editor is switched off
    named = {str(p.relative_to(smoke_run)): web_addresses(p.read_text(encoding="utf-8")) for p in pages
             if p.name != "linkage_match_weights.html"}
    assert not {k: v for k, v in named.items() if v}
    chart = (smoke_run / "out" / "reports" / "fy2025" / "linkage_match_weights.html").read_text(encoding="utf-8")
    assert NO_ACTIONS in chart and 'id="splink-chart-match-weights"' in chart, "no menu; a fixed id (same run, same page)"
    assert not CHART_ID.search(chart)
    assert external_loads('<script src="https://cdn.example/x.js"></script><link rel="stylesheet" href="//c.example/a.css">'
                          '<script type="module">import("https://e.example/m.mjs")</script>') == [
        "//c.example/a.css", "https://cdn.example/x.js", "https://e.example/m.mjs"], "the check itself sees loads"


def test_internal_outputs_are_private(smoke_run) -> None:
    """`find reports/internal -perm /077` prints nothing; the identity tables are 600 in 700 folders too."""
    from mimamori_lib.privacy.restricted import too_open

    internal = smoke_run / "out" / "reports" / "internal"
    assert len(list(internal.rglob("*.xlsx"))) >= 3 and len(list(internal.rglob("*.html"))) >= 10
    assert too_open(internal) == []
    for d in (smoke_run / "out" / "processed").glob("fy*/restricted"):
        assert too_open(d) == []
    assert (smoke_run / "out" / "reports" / "fy2025").stat().st_mode & 0o055, "reports without identities stay readable"


def test_every_public_table_passes_the_linear_audit(smoke_run) -> None:
    import json

    for fy in ("fy2024", "fy2025"):
        rec = json.loads((smoke_run / "out" / "processed" / fy / "public_audit.json").read_text(encoding="utf-8"))
        assert rec["funnel"]["passed"] and rec["funnel"]["intervals"], rec
        assert all(r["passed"] for r in rec.values())
        for lo, hi in rec["funnel"]["intervals"].values():
            assert hi is None or hi - lo >= rec["funnel"]["protection"]

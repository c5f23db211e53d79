"""Papers that work on paper (issue 33): the workbooks staff and schools print carry their print settings (asserted from
the workbook everywhere), and — where LibreOffice and Chromium are installed (apt: libreoffice-calc-nogui chromium
fonts-noto-cjk poppler-utils) — print to A4 PDF as a reader needs them: the school's name, the header row and 「n / N」
on every page, a page per 12 pupils at most, an assessment sheet's 抽出ID on every page, a handout whose cover names the
meeting, the date and the city, years in 令和, and no page but the last mostly blank."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

HAS_SOFFICE = shutil.which("soffice") is not None and shutil.which("pdftotext") is not None
HAS_CHROMIUM = shutil.which("chromium") is not None and shutil.which("pdftotext") is not None
CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-pdf-header-footer"]


def _internal(smoke_run: Path) -> Path:
    return smoke_run / "out" / "reports" / "internal" / "fy2025"


def _papers(smoke_run: Path) -> list[Path]:
    d = _internal(smoke_run)
    return [d / "extraction.xlsx", d / "jirei_template.xlsx", d / "follow_up.xlsx", *sorted((d / "kikitori").glob("*.xlsx")),
            *sorted((d / "teikyo").glob("*.xlsx")), *([d / "review_queue.xlsx"] if (d / "review_queue.xlsx").exists() else [])]


def test_every_paper_carries_its_print_settings(smoke_run: Path) -> None:
    papers = _papers(smoke_run)
    assert len(papers) > 10
    raw = str((smoke_run / "raw").resolve())
    for f in papers:
        wb = load_workbook(f)
        notes, table = wb.worksheets[0], wb.active
        assert notes.title == "説明" and table.title != "説明", f
        assert table.page_setup.orientation == "landscape" and int(table.page_setup.paperSize) == 9, f
        assert table.sheet_properties.pageSetUpPr.fitToPage and table.page_setup.fitToWidth == 1, f
        assert table.print_title_rows.replace("$", "") == "1:1" and table.freeze_panes, f
        assert table.oddFooter.center.text == "&P / &N" and "取扱注意" in table.oddFooter.left.text, f
        assert "令和" in table.oddHeader.right.text and table.oddHeader.left.text, f
        texts = [str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
        assert not any(raw in t for t in texts), f"{f}: a path of the server"
        if f.parent.name in ("kikitori", "teikyo") and f.stem != "こども家庭センター":
            assert notes["A1"].value == f"{f.stem} 御中" and f.stem in table.oddHeader.center.text, f
        if f.parent.name == "kikitori":
            assert any(dv.showInputMessage for dv in table.data_validations.dataValidation), "drop-downs say what to enter"
            assert any(t.startswith("回答の期限: 令和") for t in texts) and any("問い合わせ" in t for t in texts)
            heights = [table.row_dimensions[i].height for i in range(2, table.max_row + 1)]
            assert all(h and h >= 40 for h in heights), "room to write by hand"
        if f.parent.name == "teikyo":
            headers = [c.value for c in table[1]]
            dates = [table.cell(i, headers.index("支援開始日") + 1).value for i in range(2, table.max_row + 1)]
            assert all(d is None or hasattr(d, "year") for d in dates), "dates as Excel dates"


def _pdf_pages(pdf: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return [p for p in text.split("\f") if p.strip()]


@pytest.mark.skipif(not HAS_SOFFICE, reason="LibreOffice (soffice) and pdftotext are not installed")
def test_a_schools_forms_print_a_page_per_12_pupils_with_its_name_on_every_page(smoke_run: Path, tmp_path: Path) -> None:
    d = _internal(smoke_run)
    counts = {f: len(pd.read_excel(f, sheet_name=1)) for f in (d / "kikitori").glob("*.xlsx")}
    school = max(counts, key=counts.get)
    for f in (school, d / "teikyo" / school.name):
        if not f.exists():
            continue
        out = tmp_path / f.parent.name
        subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(out), str(f)], check=True,
                       capture_output=True, timeout=180)
        pages = _pdf_pages(out / f"{f.stem}.pdf")
        pupils = len(pd.read_excel(f, sheet_name=1))
        assert len(pages) <= 1 + math.ceil(pupils / 12), (f, len(pages), pupils)
        for page in pages:
            assert school.stem in page and re.search(r"\d+\s*/\s*\d+", page), (f, page[:200])
        for page in pages[1:]:
            assert "抽出ID" in page, "the header row on every page"


def _chromium_pdf(html: Path, pdf: Path, tmp: Path) -> Path:
    subprocess.run([*CHROMIUM, f"--user-data-dir={tmp / 'profile'}", f"--print-to-pdf={pdf}", html.as_uri()],
                   check=True, capture_output=True, timeout=180)
    return pdf


@pytest.mark.skipif(not HAS_CHROMIUM, reason="Chromium and pdftotext are not installed")
def test_every_page_of_an_assessment_sheet_shows_its_extraction_id(smoke_run: Path, tmp_path: Path) -> None:
    sheet = sorted((_internal(smoke_run) / "assessment").glob("*.html"))[0]
    pages = _pdf_pages(_chromium_pdf(sheet, tmp_path / "sheet.pdf", tmp_path))
    assert len(pages) >= 2
    for i, page in enumerate(pages, 1):
        assert sheet.stem in page and f"{i}/{len(pages)}" in page.replace(" ", ""), page[:200]
    assert "FY20" not in "".join(pages)


@pytest.mark.skipif(not HAS_CHROMIUM, reason="Chromium and pdftotext are not installed")
def test_the_handout_prints_with_a_cover_and_no_blank_pages(smoke_run: Path, tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    html = smoke_run / "out" / "reports" / "public" / "成果報告会_2025.html"
    pdf = _chromium_pdf(html, tmp_path / "report.pdf", tmp_path)
    pages = _pdf_pages(pdf)
    first = pages[0]
    assert "成果報告会" in first and "令和7年度" in first and "大分県別府市" in first and re.search(r"令和\d+年\d+月\d+日", first)
    assert "FY20" not in "".join(pages), "years read 令和"
    assert "用語の説明" in "".join(pages) and "信頼区間" in "".join(pages)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    assert "Title:" in info and "成果報告会" in info.split("Title:")[1].splitlines()[0]
    subprocess.run(["pdftoppm", "-r", "30", "-gray", "-png", str(pdf), str(tmp_path / "p")], check=True)
    fill = []
    for f in sorted(tmp_path.glob("p-*.png"), key=lambda x: int(x.stem.split("-")[1])):
        ink = np.asarray(Image.open(f)) < 200
        body = ink[: int(ink.shape[0] * 0.93)]  # without the page number
        rows = np.where(body.any(axis=1))[0]
        fill.append((rows.max() + 1) / ink.shape[0] if len(rows) else 0.0)
    assert all(x >= 1 / 3 for x in fill[:-1]), fill


def test_no_two_public_cases_share_a_sentence(smoke_run: Path) -> None:
    """The demo's case records vary (several phrasings per kind of need, each case its own), as a city's would."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup((smoke_run / "out" / "reports" / "public" / "成果報告会_2025.html").read_text(encoding="utf-8"),
                         "html.parser")
    fields = ("判定前の状況", "確認できた状況", "状況の変化", "効果・示唆")
    texts = []
    for table in soup.find_all("table"):
        head = [th.get_text(strip=True) for th in table.find_all("th")]
        if not any(h.startswith("ケース") for h in head):
            continue
        cases = [h for h in head if h.startswith("ケース")]
        for tr in table.find_all("tr"):
            th = tr.find("th")
            if th is not None and th.get_text(strip=True) in fields:
                texts += list(zip(cases, (td.get_text(strip=True) for td in tr.find_all("td")), strict=False))
    assert len(texts) >= 8
    seen: dict[str, str] = {}
    for case, text in texts:
        for sentence in filter(None, (x.strip() for x in text.split("。"))):
            assert seen.setdefault(sentence, case) == case, f"{case} and {seen[sentence]}: {sentence}"

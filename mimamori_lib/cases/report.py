"""The internal case report (``reports/internal/<fy>/jirei.html``): each case's narrative beside what the next
year's exports show of the child, and whether (and why not) it may appear in the public report. Self-contained
HTML (inline style, nothing loaded from elsewhere): it opens on the city's closed network."""

from __future__ import annotations

import html

import pandas as pd

from ..catalogue import datasets
from ..params import Params
from .deidentify import NARRATIVE

STYLE = ("body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse;margin:.5em 0 1.5em}"
         "th,td{border:1px solid #999;padding:.3em .6em;vertical-align:top;text-align:left}th{background:#eee;"
         "white-space:nowrap}.ng{color:#a00}.ok{color:#060}")


def _cell(v) -> str:
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else html.escape(str(v))


def _follow(fu: pd.DataFrame | None, p: Params, pid: str) -> list[tuple[str, str]]:
    if fu is None or pid not in set(fu["person_id"]):
        return [("翌年度の状況", "まだありません (翌年度のデータの取込後に表示されます)")]
    r = fu[fu["person_id"] == pid].iloc[0]
    rows = [(f"FY{r['fy_seen']} の状況", r["residence"]),
            ("該当項目", f"{_cell(r['item_ids_before']) or 'なし'} → {_cell(r['item_ids_after']) or 'なし'}"),
            ("欠席日数 (4月〜基準日)", f"{_cell(r['absence_before'])} → {_cell(r['absence_after'])} ({r['attendance']})")]
    for theme in p.cases.themes:
        rows.append((f"{theme}の項目", f"{_cell(r[f'theme_{theme}_before'])} → {_cell(r[f'theme_{theme}_after'])}"))
    for name in p.cases.status:
        rows.append((name, f"{_cell(r[f'status_{name}_before'])} → {_cell(r[f'status_{name}_after'])}"))
    return rows


def write_internal_report(p: Params, cases: pd.DataFrame | None, fu: pd.DataFrame | None) -> None:
    """``jirei.html``: every case of this year and the previous one (庁内用)."""
    parts = [f"<h1>事例記録と翌年度の状況 (FY{p.fiscal_year} の実行, 庁内用)</h1>",
             "<p>個人を特定できる情報を含みます。庁内の定められた場所以外に保存しないでください。翌年度の状況は観察された"
             "ことであり、支援の効果を示すものではありません。</p>"]
    if cases is None or cases.empty:
        parts.append("<p>事例記録はまだありません。</p>")
    else:
        for _, c in cases.sort_values(["fy", "extract_id"]).iterrows():
            if c["published"]:
                status = '<span class="ok">公開資料に掲載</span>'
            elif c["public"]:
                status = f'<span class="ng">公開可ですが掲載しません: 個人が分かる記述 ({_cell(c["check"])})</span>'
            else:
                status = "公開否 (掲載しません)" + (f' <span class="ng">参考: {_cell(c["check"])}</span>' if c["check"] else "")
            rows = [("年度", f"FY{c['fy']}"), ("抽出ID", _cell(c["extract_id"])), ("公開", status),
                    ("年齢", _cell(c["age_band"])), ("困難の類型", _cell(c["difficulty_types"])),
                    ("支援内容", _cell(c["support_content"])), ("支援開始", _cell(c["support_month"])),
                    *[(col, _cell(c[col]).replace("\n", "<br>")) for col in NARRATIVE],
                    *_follow(fu, p, c["person_id"])]
            parts.append(f"<h2>FY{c['fy']} {_cell(c['extract_id'])}</h2><table>"
                         + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows) + "</table>")
    doc = (f'<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><title>事例記録 FY{p.fiscal_year}</title>'
           f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")
    datasets.write(p, "cases_report", doc)

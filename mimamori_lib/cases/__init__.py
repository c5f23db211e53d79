"""支援の成果 (45_cases): what happened to the children the meeting judged, and the case records (事例).

For the run's year this stage
- writes the case-record template for the year's 支援要 children (``reports/internal/<fy>/jirei_template.xlsx``);
- reads back what staff saved (``shien/jirei.csv``), validated, and checks each case's text against its child's and
  household's identity before it may be published (:mod:`.deidentify`);
- follows the previous year's judged children into this year's exports (:mod:`.followup`): an internal per-child
  table (``follow_up.xlsx``) and a pseudonymous one for the public aggregates;
- writes the internal case report (``jirei.html``): each case's narrative beside its follow-up and the result of the
  check.

Modules: :mod:`.followup`, :mod:`.records`, :mod:`.deidentify`, :mod:`.identity`, :mod:`.report`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from ..catalogue import datasets, notices
from ..catalogue.ages import age_band
from ..catalogue.vocabulary import NEED_YES, QUARANTINE_COLUMNS
from ..disclosure import mark_safe
from ..errors import InputError
from ..judgement.indicators import load_catalogue
from ..output.workbook import PRIVATE_NOTE, PrintedAs, table_sheet, with_notes
from ..params import Params, run_years
from .deidentify import NARRATIVE, check_case, describe
from .followup import follow_up_year, internal_table, rows, summary_counts
from .identity import identities
from .records import read_records, template_rows, write_template
from .report import write_internal_report

log = logging.getLogger(__name__)
STEP = "45_cases"
__all__ = ["CasesYear", "run", "follow_up_summary", "follow_up_year", "public_cases", "read_follow_up", "record_summary",
           "summary_counts"]


@dataclass
class CasesYear:
    """What 45_cases found and wrote (counts only: the notebook's HTML names no child)."""

    template_rows: int
    records: pd.DataFrame | None          # the year's cases with the check's result (restricted: never displayed)
    quarantine: pd.DataFrame
    follow_up: pd.DataFrame | None        # the previous year's judged children as this year shows them
    message: str


def _check(p: Params, recs: pd.DataFrame, scores: pd.DataFrame, dec: pd.DataFrame | None) -> pd.DataFrame:
    """The records with the de-identification check and what the public report would show of each case."""
    ids = identities(p, recs["person_id"].tolist())
    findings = [check_case({c: r[c] for c in NARRATIVE}, ids[r["person_id"]]) for _, r in recs.iterrows()]
    out = recs.copy()
    out["fy"] = p.fiscal_year
    out["check"] = [describe(f) for f in findings]
    out["passed"] = [not f for f in findings]
    out["published"] = out["public"] & out["passed"]
    s = scores.set_index("person_id")
    out["age_band"] = age_band(s["age"].reindex(out["person_id"])).fillna("不明").to_numpy()
    d = dec.set_index("person_id") if dec is not None else pd.DataFrame(columns=["difficulty_types", "support_content",
                                                                                 "support_started_on"])
    out["difficulty_types"] = d["difficulty_types"].reindex(out["person_id"]).fillna("").to_numpy()
    out["support_content"] = d["support_content"].reindex(out["person_id"]).fillna("").to_numpy()
    started = pd.to_datetime(d["support_started_on"].reindex(out["person_id"]))
    out["support_month"] = [f"{t.year}年{t.month}月" if pd.notna(t) else "" for t in started]
    return out


def run(p: Params, write: bool = True) -> CasesYear:
    """Template, read-back and check of the year's cases; the follow-up of the previous year's judged children
    (written to the catalogue's files with ``write``)."""
    def put(name: str, obj) -> None:
        if write:
            datasets.write(p, name, obj)

    def note(message: str, level: str = "warning") -> None:
        if write:
            notices.add(p, STEP, message, level=level)

    scores, dec = datasets.read(p, "scores"), datasets.read(p, "decisions")
    if scores is None:
        raise InputError(f"抽出結果がありません: {datasets.path(p, 'scores')} (先に 30_extract を実行してください)")
    catalogue = load_catalogue(p, every_item=True)
    msgs, n_template = [], 0
    if dec is not None and (dec["support_needed"] == NEED_YES).any():
        rows = template_rows(dec, scores, catalogue)
        if write:
            write_template(p, rows, dict(zip(dec["extract_id"], dec["person_id"], strict=True)))
        n_template = len(rows)
        msgs.append(f"支援要と判断した {n_template} 人の事例記録のテンプレートを書き出しました "
                    f"({datasets.path(p, 'case_template').name}: 庁内用)。")
    else:
        put("case_template", None)
        msgs.append("会議で支援要と判断したこどもがまだいないため、事例記録のテンプレートはありません。")
    try:
        recs, q = read_records(p, dec, scores)
    except InputError as e:
        note(str(e))
        recs, q = None, pd.DataFrame(columns=QUARANTINE_COLUMNS)
        msgs.append(str(e))
    if recs is None or recs.empty:
        put("case_records", None)
        if recs is None:
            msgs.append(f"事例記録はまだありません。記入したテンプレートを {datasets.saved_target(p, 'cases', '.xlsx')} として"
                            "保存すると、次回の実行で反映されます。")
        recs = None
    else:
        recs = _check(p, recs, scores, dec)
        put("case_records", recs)
        failed = recs[recs["public"] & ~recs["passed"]]
        msgs.append(f"事例記録 {len(recs)} 件を読み込みました (公開可 {int(recs['public'].sum())} 件のうち、個人が分かる記述の"
                    f"確認を通った {int(recs['published'].sum())} 件を公開資料に載せます)。")
        if len(failed):
            note(f"FY{p.fiscal_year}: 公開可の事例 {len(failed)} 件に個人が分かる記述があるため公開資料に"
                                       f"載せません (理由は {datasets.path(p, 'cases_report')})", level="info")
    if len(q):
        msgs.append(f"{q['row'].nunique()} 行は不備があるため隔離しました ({datasets.path(p, 'cases_quarantine').name} に理由)。")
        note(f"FY{p.fiscal_year}: 事例記録のうち {q['row'].nunique()} 行を隔離しました (理由は "
                                   f"{datasets.path(p, 'cases_quarantine')})")
    put("cases_quarantine", q)
    fu = follow_up_year(p)
    put("follow_up", fu)
    if fu is None:
        put("follow_up_xlsx", None)
        msgs.append("前の年度の会議の判断がないため、翌年度の状況はまだ追えません。")
    else:
        wb, _, _, _ = table_sheet(internal_table(fu, p), "翌年度の状況")
        put("follow_up_xlsx", with_notes(wb, ["前の年度の会議で判断したこどもの、この年度のエクスポートに見える状況です (庁内用)。",
                                              PRIVATE_NOTE], PrintedAs("翌年度の状況", fy=p.fiscal_year)))
        msgs.append(f"FY{int(fu['fy_judged'].iloc[0])} に会議で判断した {len(fu)} 人の、FY{p.fiscal_year} の状況をまとめました "
                    f"({datasets.path(p, 'follow_up_xlsx').name}: 庁内用)。")
    if write:
        write_internal_report(p, _all_cases(p, recs), fu)
    return CasesYear(n_template, recs, q, fu, "\n\n".join(msgs))


def _all_cases(p: Params, this_year: pd.DataFrame | None) -> pd.DataFrame | None:
    """This year's cases and the previous year's (whose follow-up this year's exports show)."""
    frames = [this_year] if this_year is not None else []
    earlier = [y for y in run_years(p) if y < p.fiscal_year]
    if earlier:
        earlier_cases = datasets.read(p, "case_records", fy=earlier[-1])
        if earlier_cases is not None:
            frames.insert(0, earlier_cases)
    return pd.concat(frames, ignore_index=True) if frames else None


def record_summary(year: CasesYear) -> pd.DataFrame | str:
    """Counts for the 45_cases page: records read, marked 可, passed the check, published; quarantine reasons."""
    r = year.records
    rows = {"テンプレートの行 (支援要のこども)": year.template_rows, "読み込んだ事例": 0 if r is None else len(r),
            "公開可": 0 if r is None else int(r["public"].sum()),
            "　うち個人が分かる記述あり (掲載しない)": 0 if r is None else int((r["public"] & ~r["passed"]).sum()),
            "公開資料に掲載": 0 if r is None else int(r["published"].sum()),
            "隔離した行": int(year.quarantine["row"].nunique()) if len(year.quarantine) else 0}
    t = pd.Series(rows, name="件数").to_frame()
    if len(year.quarantine):
        q = year.quarantine.groupby(["column", "reason"]).size().rename("件数").reset_index()
        t = pd.concat([t, q.set_index(q["column"] + ": " + q["reason"])[["件数"]].rename(lambda s: f"隔離の理由 — {s}")])
    return t


def follow_up_summary(p: Params, fu: pd.DataFrame | None) -> pd.DataFrame | str:
    """The follow-up in counts per decision group (this page is not public: no suppression; the public report's table
    is disclosure-controlled)."""
    if fu is None:
        return "前の年度の会議の判断がないため、翌年度の状況はまだありません。"
    c = summary_counts(fu, p)

    t = pd.DataFrame({g: [c[g][k] for k, _ in rows(p)] + [c[g]["median_change"]] for g in c},
                     index=[label for _, label in rows(p)] + ["欠席日数の変化 (中央値)"])
    return t


def read_follow_up(p: Params) -> pd.DataFrame | None:
    """The follow-up written by this year's 45_cases (pseudonymous)."""
    return datasets.read(p, "follow_up")


def public_cases(p: Params, years: list[int]) -> list[pd.DataFrame]:
    """The cases that may appear in the public report (marked 可 and passed the check), each laid out like a column
    of the 成果報告会's case table: rows for the year, age band, types, support, the month support started and the
    four narrative columns; the column is the case's name (ケース1, ケース2, ...)."""
    rows = []
    for fy in years:
        r = datasets.read(p, "case_records", fy=fy)
        if r is not None:
            rows.append(r[r["published"]])
    if not rows or not sum(len(r) for r in rows):
        return []
    x = pd.concat(rows, ignore_index=True).sort_values(["fy", "extract_id"]).reset_index(drop=True)
    out = []
    for i, c in x.iterrows():
        t = pd.Series({"年度": f"FY{c['fy']}", "年齢": c["age_band"], "困難の類型": c["difficulty_types"],
                       "支援内容": c["support_content"], "支援開始": c["support_month"] or "—",
                       **{k: c[k] for k in NARRATIVE}}, name=f"ケース{i + 1}").to_frame()
        out.append(t)
    return out


def side_by_side(cases: list[pd.DataFrame], per_table: int = 2) -> list[pd.DataFrame]:
    """The public cases set side by side as in the 成果報告会's case table (ケース1 | ケース2), ``per_table`` to a table
    so that each fits an A4 landscape page."""
    groups = [cases[i:i + per_table] for i in range(0, len(cases), per_table)]
    return [mark_safe(pd.concat(g, axis=1), "cases that passed the de-identification check, side by side") for g in groups]

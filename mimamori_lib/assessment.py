"""The support meeting's papers: the extraction list (Excel and CSV) and one assessment sheet per child.

Both name children, so both go only to ``reports/internal/<fy>/``. The list carries the columns of
``shien/kettei.csv`` as empty drop-down columns, so staff fill it in at the meeting and save it back.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from pathlib import Path

import pandas as pd

from . import datasets, paths
from .ages import age_on
from .arrays import isin
from .gaiji import displayable
from .indicators import LINKED
from .ingest import load_registry, read_identity, read_table, registry_path, role_source
from .ingest.registry import code_labels
from .ingest.tables import read_parquet
from .params import Params
from .scoring import GROUP_LABEL
from .xlsx import PRIVATE_NOTE, drop_down, save_with_notes, table_sheet

log = logging.getLogger(__name__)
DECISION_COLUMNS = ["既支援", "支援要否", "困難の類型", "支援内容", "支援開始日", "判断日"]
DIFFICULTY_TYPES = ["貧困", "不登校", "虐待の疑い", "養育困難", "ヤングケアラー", "発達・障害", "その他"]
SUPPORT_CONTENT = ["相談支援", "見守り支援", "学校連携", "児相通告", "その他"]


def _registry_identity(p: Params, person_ids=None, households=None) -> pd.DataFrame:
    """Registry rows of the identity table for some children (or whole households), read with filters: never the
    whole table (at 500,000 children it is over a million rows)."""
    flt = []
    if person_ids is not None:
        flt.append(("person_id", "in", sorted(set(person_ids))))
    if households is not None:
        flt.append(("household_id", "in", sorted(set(households) - {None})))
    return read_identity(p, sources=[registry_path(p)], filters=flt)


def _school_of(p: Params, person_ids) -> pd.Series:
    """学校・学年 of each linked pupil (from the attendance file)."""
    from .sharing import pupils

    m = pupils(p, person_ids)
    return m["school_short"] + " " + m["grade"]


def extraction_table(p: Params, scores: pd.DataFrame, ev: pd.DataFrame, catalogue: dict,
                     extra: dict[str, pd.Series] | None = None) -> pd.DataFrame:
    """The extraction list: one row per extracted child, identity, counts, rank, matched items in words, and
    ``extra`` columns (per child pseudonym: e.g. pending school records, the ranking's reasons)."""
    x = scores[scores["group"] != ""].copy()
    reg = _registry_identity(p, person_ids=x["person_id"]).drop_duplicates("person_id").set_index("person_id")
    order = {"basic": 0, "other": 1, "tier": 2}
    x = x.assign(_g=x["group"].map(order)).sort_values(["_g", "rank", "extract_id"]).drop(columns="_g")
    matched = ev[(ev["kind"] == "match").to_numpy() & isin(ev["person_id"], x["person_id"])].drop_duplicates(["item", "person_id"])
    words = matched.assign(w=matched["item"] + " " + matched["item"].map(lambda i: catalogue[i]["label"])) \
        .sort_values("item").groupby("person_id")["w"].agg("、".join)
    school = _school_of(p, x["person_id"])
    r = reg.reindex(x["person_id"])
    out = pd.DataFrame({
        "抽出ID": x["extract_id"].to_numpy(), "宛名番号": r["atena_no"].to_numpy(), "氏名": r["name"].to_numpy(),
        "ふりがな": r["name_kana"].to_numpy(), "生年月日": pd.to_datetime(r["birth_date"]).dt.strftime("%Y-%m-%d").to_numpy(),
        "年齢": x["age"].to_numpy(), "学校・学年": x["person_id"].map(school).to_numpy(),
        "グループ": x["group"].map(GROUP_LABEL).to_numpy(), "基本項目数": x["basic_count"].to_numpy(),
        "その他項目数": x["other_count"].to_numpy(), "順位": x["rank"].to_numpy(),
        "同順位": x["tied"].map({True: "○", False: ""}).to_numpy(),
        "支援の記録": x["supported"].map({True: "あり", False: ""}).to_numpy(),
        "該当項目": x["person_id"].map(words).fillna("").to_numpy(),
    })
    for c in ("氏名", "ふりがな"):
        out[c] = out[c].map(displayable)
    for name, values in (extra or {}).items():
        out[name] = x["person_id"].map(values).fillna("").to_numpy()
    for c in DECISION_COLUMNS:
        out[c] = ""
    return out


def write_extraction_list(p: Params, table: pd.DataFrame) -> tuple[Path, Path]:
    """``extraction.xlsx`` (with drop-down lists for the meeting's columns) and ``extraction.csv``."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    csv = datasets.write(p, "extraction_csv", table)
    wb, ws, cols, n = table_sheet(table, "抽出リスト")
    lists = {"既支援": ["1", "0"], "支援要否": ["要", "否", "保留"], "困難の類型": DIFFICULTY_TYPES, "支援内容": SUPPORT_CONTENT,
             "支援開始日": None, "判断日": None}
    for c, values in lists.items():
        drop_down(ws, cols[c], values, n + 50)
    head = PatternFill("solid", fgColor="DDDDDD")
    fill = PatternFill("solid", fgColor="FFF7D6")
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = fill if cell.value in DECISION_COLUMNS else head
    for c, width in {"氏名": 14, "ふりがな": 18, "学校・学年": 18, "該当項目": 60, "困難の類型": 16, "支援内容": 12}.items():
        ws.column_dimensions[get_column_letter(cols[c])].width = width
    for row in ws.iter_rows(min_row=2):
        row[cols["該当項目"] - 1].alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "D2"
    xlsx = save_with_notes(wb, ["支援担当者会議の抽出リストです。黄色の列を会議で記入し、このファイルを Excel の形式のまま",
                                f"{datasets.saved_target(p, 'decisions', '.xlsx')} として保存してください (ほかの列はそのまま"
                                "残してかまいません。CSV で保存するときは kettei.csv)。",
                         "既支援: 1 = 抽出前から支援につながっていた / 0 = いなかった。困難の類型は複数のとき ・ で区切ります。",
                         PRIVATE_NOTE], p, "extraction_xlsx")
    return xlsx, csv


@functools.lru_cache(maxsize=64)
def _parquet(path: str, mtime: float) -> pd.DataFrame:
    """A processed table read once per sheet run (keyed by file and modification time)."""
    return read_parquet(path)


def _read_cached(f: Path) -> pd.DataFrame:
    return _parquet(str(f), f.stat().st_mtime)


def _fmt_date(v) -> str:
    return "" if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d")


def linked_rows(links: pd.DataFrame | None, path: str) -> pd.DataFrame:
    """(row, person_id) of a source's records linked to a child (automatic or staff-confirmed)."""
    if links is None:
        return pd.DataFrame(columns=["row", "person_id"])
    return links[(links["source"] == path).to_numpy() & isin(links["status"], LINKED)][["row", "person_id"]]


ATTENDANCE = ("grade", "absence_prev", "absence_prev_illness", "absence_cur", "late_cur", "early_leave_cur")


def attendance_by_year(p: Params) -> dict[str, pd.DataFrame]:
    """Each processed year up to this one: linked pupils' attendance, indexed by the child's pseudonym (the same
    across years)."""
    out = {}
    att = role_source(p, "attendance")
    path = load_registry(p)[att]["path"]
    for fy in datasets.years_with(p, "links"):
        table = datasets.path(p, f"table:{att}", fy)
        if fy > p.fiscal_year or not table.exists():
            continue
        lk = linked_rows(_read_cached(datasets.path(p, "links", fy)), path)
        t = _read_cached(table)[["row", *ATTENDANCE]].merge(lk, on="row")
        out[str(fy)] = t.drop_duplicates("person_id").set_index("person_id")
    return out


def _attendance(by_year: dict[str, pd.DataFrame], person_id: str) -> list[dict]:
    """Attendance of the child in every processed year up to this one."""
    out = []
    for fy, t in by_year.items():
        if person_id not in t.index:
            continue
        r = t.loc[person_id]
        out.append({"fy": fy, **{k: ("" if pd.isna(r[k]) else (r[k] if k == "grade" else int(r[k]))) for k in ATTENDANCE}})
    return out


def _survey(p: Params, person_id: str, survey: pd.DataFrame | None, spec: dict) -> list[dict]:
    if survey is None:
        return []
    r = survey[survey["person_id"] == person_id]
    if r.empty:
        return []
    r = r.iloc[0]
    out = []
    for h, c in spec["columns"].items():
        if c["name"].startswith("q") and c["name"] in r:
            v = r[c["name"]]
            out.append({"question": h.split("_", 1)[1], "answer": "無回答" if pd.isna(v) else c.get("labels", {}).get(str(v), str(v))})
    return out


def history_by_year(p: Params) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Earlier years' extraction (extracted children only) and meeting decisions, indexed by pseudonym."""
    out = {}
    for fy in datasets.years_with(p, "scores"):
        if fy >= p.fiscal_year:
            continue
        s = _read_cached(datasets.path(p, "scores", fy))
        s = s[(s["group"] != "").to_numpy()].drop_duplicates("person_id").set_index("person_id")
        f = datasets.path(p, "decisions", fy)
        dec = _read_cached(f) if f.exists() else pd.DataFrame(columns=["person_id"])
        out[str(fy)] = (s, dec.drop_duplicates("person_id").set_index("person_id"))
    return out


def _history(by_year: dict[str, tuple[pd.DataFrame, pd.DataFrame]], person_id: str) -> list[dict]:
    out = []
    for fy, (s, dec) in by_year.items():
        if person_id not in s.index:
            continue
        r = s.loc[person_id]
        h = {"fy": fy, "extracted": f"{GROUP_LABEL[r['group']]} {r['rank']}位", "need": "", "types": "", "content": "", "date": ""}
        if person_id in dec.index:
            d = dec.loc[person_id]
            h.update(need=d.get("support_needed") or "", types=d.get("difficulty_types") or "",
                     content=d.get("support_content") or "", date=_fmt_date(d.get("decided_on")))
        out.append(h)
    return out


def write_assessment_sheets(p: Params, scores: pd.DataFrame, ev: pd.DataFrame, catalogue: dict,
                            notes: dict[str, pd.Series] | None = None, hearing: dict[str, dict] | None = None) -> list[Path]:
    """One printable (A4) HTML assessment sheet per extracted child: ``assessment/<抽出ID>.html``."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(paths.PACKAGE / "templates"), autoescape=select_autoescape(["html", "j2"]))
    tpl = env.get_template("assessment.html.j2")
    listed = scores[(scores["group"] != "").to_numpy()]
    juki = read_table(p, role_source(p, "registry")).set_index("person_id")
    households = juki["household_id"].reindex(listed["person_id"]).dropna().unique()
    juki = juki[isin(juki["household_id"], households)].copy()
    juki["age"] = age_on(juki["birth_date"], p.reference_date)
    reg = _registry_identity(p, households=households).drop_duplicates("person_id").set_index("person_id")
    school = _school_of(p, listed["person_id"])
    links = datasets.read(p, "links")
    survey, sv_id = None, role_source(p, "survey")
    if read_table(p, sv_id) is not None and links is not None:
        survey = read_table(p, sv_id).merge(linked_rows(links, load_registry(p)[sv_id]["path"]), on="row")
        survey = survey[isin(survey["person_id"], listed["person_id"])]  # looked up once per listed child below
    attendance, history = attendance_by_year(p), history_by_year(p)
    sv_spec = load_registry(p)[sv_id]
    ev_listed = ev[isin(ev["person_id"], listed["person_id"])].sort_values(["person_id", "item", "date"])
    ev_by_child = {pid: g.to_dict("records") for pid, g in ev_listed.groupby("person_id", sort=False)}
    sheets: dict[str, str] = {}
    sex_words = code_labels(p, "sex")
    today = dt.date.today().isoformat()
    for _, s in scores[scores["group"] != ""].iterrows():
        pid = s["person_id"]
        me = reg.loc[pid]
        hh = juki[juki["household_id"] == juki.loc[pid, "household_id"]]
        household = [{"relation": juki.loc[m, "relation"], "name": displayable(reg.loc[m, "name"]) if m in reg.index else "", "age": int(juki.loc[m, "age"])}
                     for m in hh.sort_values("birth_date").index]
        e = ev_by_child.get(pid, [])
        def rows(kind: str, e=e) -> list[dict]:
            return [{"item": r["item"], "label": catalogue[r["item"]]["label"], "type": catalogue[r["item"]]["type"],
                     "kind": "基本" if catalogue[r["item"]].get("basic") else "その他", "department": r["department"],
                     "date": _fmt_date(r["date"]), "detail": r["detail"]} for r in e if r["kind"] == kind]
        supported = []
        for i in p.extraction.supported_items:
            if i in s and s[i]:
                supported.append(catalogue[i]["label"])
        if s.get("supported_earlier_decision"):
            supported.append("前年度までの会議で支援要")
        c = {"extract_id": s["extract_id"], "group_label": GROUP_LABEL[s["group"]], "rank": s["rank"], "tied": bool(s["tied"]),
             "name": displayable(me["name"]), "kana": displayable(me["name_kana"]), "birth": _fmt_date(me["birth_date"]), "age": int(s["age"]),
             "sex": sex_words.get(str(me["sex"]), ""), "atena": me["atena_no"], "school": school.get(pid, "—"),
             "address": displayable(me["address"]), "basic_count": int(s["basic_count"]), "other_count": int(s["other_count"]),
             "supported_text": "・".join(supported) or "なし",
             "notes": [(name, values[pid]) for name, values in (notes or {}).items() if pid in values.index and values[pid]]}
        html = tpl.render(c=c, fy=p.fiscal_year, ref=p.reference_date, today=today, household=household,
                          matched=rows("match"), near=rows("near"), attendance=_attendance(attendance, pid),
                          survey=_survey(p, pid, survey, sv_spec), history=_history(history, pid),
                          hearing=(hearing or {}).get(pid),
                          difficulty_types=DIFFICULTY_TYPES)
        sheets[f"{s['extract_id']}.html"] = html
    target = datasets.write(p, "assessment", sheets)
    return [target / name for name in sheets]


def extract_year(p: Params, write: bool = True) -> dict:
    """Scores, the extraction list and the assessment sheets of the year; the 名寄せ review queue ordered by what
    confirming each pending pair would change, and the list's children with pending school records flagged."""
    import time

    from . import kikitori, notices, pending
    from .linkage import read_links, write_queue
    from .scoring import risk_and_reasons, score_year

    t0 = time.perf_counter()
    scores, ev, catalogue, items = score_year(p, write=write)
    t_scores = time.perf_counter() - t0
    pairs = pending.pending_pairs(p)
    imp = pending.impact(p, scores, pairs, catalogue)
    answers, hearing_q = kikitori.read_answers(p, scores)
    extra = {**risk_and_reasons(scores, catalogue, p), "確認待ちの学校記録": pending.flags(scores, imp),
             "学校からの聞き取り": kikitori.for_list(answers)}
    table = extraction_table(p, scores, ev, catalogue, extra)
    files: dict = {}
    counts = pending.summary(read_links(p), imp)
    if write:
        files["list"] = write_extraction_list(p, table)
        files["sheets"] = write_assessment_sheets(p, scores, ev, catalogue, extra, kikitori.for_sheet(answers))
        files["forms"] = kikitori.write_forms(p, kikitori.form_tables(p, scores, ev, catalogue), catalogue)
        datasets.write(p, "hearing_answers", answers)
        datasets.write(p, "hearing_quarantine", hearing_q)
        if len(hearing_q):
            notices.add(p, "30_extract", f"FY{p.fiscal_year}: 学校からの聞き取りの回答のうち {len(hearing_q)} 件を隔離しました (理由は "
                                         f"{datasets.path(p, 'hearing_quarantine')})")
        if datasets.exists(p, "review_pairs"):
            write_queue(p, pending.ordered_queue(imp, pairs))
        if counts["records_pending"] or counts["records_unmatched"]:
            notices.add(p, "30_extract", f"FY{p.fiscal_year}: 名寄せの確認待ち {counts['records_pending']} 件 (確認すると抽出が変わる組 "
                                         f"{counts['pairs_changing_list']}、抽出グループが変わりうるこども "
                                         f"{counts['children_group_could_change']} 人)、候補なし {counts['records_unmatched']} 件",
                        level="warning" if counts["pairs_changing_list"] else "info")
    return {"scores": scores, "evidence": ev, "catalogue": catalogue, "items": items, "table": table, "files": files,
            "hearing": answers, "hearing_quarantine": hearing_q,
            "pending": imp, "pending_counts": counts, "seconds_scores": round(t_scores, 2),
            "seconds": round(time.perf_counter() - t0, 2)}

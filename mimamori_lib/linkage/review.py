"""The staff review loop: the queue of pairs that wait for a person (``review_queue.xlsx``), and the decisions
read back from what staff saved — the queue itself (.xlsx) or its sheet as CSV, with the headers they see.

Each decision row is checked: an unknown file or row, a 宛名番号 that is not a registry child (zeros lost by Excel are
restored first), a 判定 other than 一致/不一致, two different 一致 for one record. What was applied and what was
refused, and why, is reported; a blank 判定 is simply not decided yet.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..catalogue import datasets
from ..catalogue.readback import read_saved
from ..catalogue.registry import code_labels, role_source
from ..catalogue.tables import registry_people
from ..errors import InputError
from ..output.offline import external_loads
from ..output.spreadsheet import append_row
from ..output.workbook import PRIVATE_NOTE, PrintedAs, drop_down, with_notes
from ..params import Params
from ..records import ledger
from ..records.ledger import Paper
from ..rights.stops import stopped
from ..text.gaiji import displayable
from ..text.normalize import normalize_atena
from .assignment import DECISION_NO, DECISION_YES

log = logging.getLogger(__name__)
STAFF = "名寄せを担当する職員"
SHEET = "要確認"
HEADERS = {"ファイル": "source", "行": "row", "宛名番号": "atena_no", "判定": "判定"}
WEIGHTS = ("family_name", "given_name", "birth_date", "sex", "address", "school_district", "household")
DECISION_COLUMNS = ["source", "row", "atena_no", "判定"]


def decision_files(p: Params) -> list[Path]:
    """What staff saved under ``<raw>/<fy>/linkage/``: the queue as .xlsx, or as CSV, under any name."""
    return datasets.saved_files(p, "review")


def _read_file(f: Path) -> pd.DataFrame:
    t = read_saved(f, list(HEADERS), "名寄せの確認結果", f"確認待ちリスト ({datasets.dataset('review_queue').file})")
    d = pd.DataFrame([r + [""] * (len(t.header) - len(r)) for r in t.rows], columns=t.header, dtype="string")
    d = d.rename(columns=HEADERS)
    d.insert(0, "line", np.array(t.numbers, dtype=np.int64))
    d.insert(0, "file", f.name)
    return d


def read_decisions(p: Params, records: pd.DataFrame, person_to_atena: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Valid decisions (source, row, atena_no, 判定) and a report of every decided row: applied or refused, and why."""
    frames, problems = [], []
    for f in decision_files(p):
        try:
            d = _read_file(f)
        except InputError as e:
            problems.append({"file": f.name, "line": None, "outcome": "読めません", "reason": str(e)})
            continue
        frames.append(d[["file", "line", *DECISION_COLUMNS]])
    cols = ["file", "line", "source", "row", "atena_no", "判定", "outcome", "reason"]
    if not frames:
        return pd.DataFrame(columns=DECISION_COLUMNS), pd.DataFrame(problems, columns=cols)
    d = pd.concat(frames, ignore_index=True)
    d = d[d["判定"].fillna("").str.strip() != ""].copy()  # not decided yet
    d["判定"] = d["判定"].str.strip()
    d["row"] = pd.to_numeric(d["row"], errors="coerce").astype("Int64")
    d["atena_no"] = d["atena_no"].map(lambda v: normalize_atena(v.strip().removesuffix(".0")) if isinstance(v, str) else None)
    d = d[~d["atena_no"].isin(stopped(p).atena)]  # a child under 利用停止: left out, never reported
    known = set(records["source"] + "|" + records["row"].astype(str))
    registry_atena = set(person_to_atena.dropna())
    reason = pd.Series("", index=d.index)
    reason[~d["判定"].isin([DECISION_YES, DECISION_NO])] = "判定は 一致 か 不一致 です"
    reason[(reason == "") & d["row"].isna()] = "行番号が読めません"
    where = d["source"].fillna("") + "|" + d["row"].astype("string").fillna("")
    reason[(reason == "") & ~where.isin(known)] = "今年度のこのファイルにない行です"
    reason[(reason == "") & ~d["atena_no"].isin(registry_atena)] = "住民基本台帳にない宛名番号です"
    yes = d[(reason == "") & (d["判定"] == DECISION_YES)]
    conflict = yes.groupby(["source", "row"])["atena_no"].transform("nunique") > 1
    reason[conflict[conflict].index] = "同じ記録に別々の宛名番号で「一致」があります"
    d["outcome"] = np.where(reason == "", "適用", "拒否")
    d["reason"] = reason
    parts = [x for x in (d[cols], pd.DataFrame(problems, columns=cols)) if not x.empty]  # no empty frame in a concat
    report = pd.concat(parts, ignore_index=True) if parts else d[cols].reset_index(drop=True)
    ok = d[reason == ""].drop_duplicates(["source", "row", "atena_no", "判定"], keep="last")
    ok = ok.assign(row=ok["row"].astype(int))
    if len(report):
        log.info("名寄せの確認結果: 適用 %d 行、拒否 %d 行", int((report["outcome"] == "適用").sum()),
                 int((report["outcome"] != "適用").sum()))
    return ok[DECISION_COLUMNS].reset_index(drop=True), report


def _d(v) -> str | None:
    return None if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d")


def _weight(r: pd.Series, c: str) -> float | None:
    bf = r.get(f"bf_{c}")
    return round(float(np.log2(bf)), 2) if bf is not None and pd.notna(bf) and bf > 0 else None


def write_review_queue(p: Params, review: pd.DataFrame, links: pd.DataFrame, ident: pd.DataFrame,
                       person_to_atena: pd.Series, extra: pd.DataFrame | None = None) -> Path:
    """``reports/internal/<fy>/review_queue.xlsx``: every pair that waits for staff — the record (left), the registry
    candidate (right), why it waits, each comparison's weight, and drop-down 判定. ``extra``: columns to add per pair
    (source, row, unique_id_l → e.g. what confirming it would change), already in the order to show."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    extra_cols = [c for c in (extra.columns if extra is not None else []) if c not in ("source", "row", "unique_id_l")]
    header = ["ファイル", "行", "宛名番号", "一致確率", "確認待ちの理由", *extra_cols,
              "記録: 氏名", "記録: ふりがな", "記録: 生年月日", "記録: 性別", "記録: 学校", "記録: 住所",
              "住基: 氏名", "住基: カナ", "住基: 生年月日", "住基: 性別", "住基: 住所", "住基: 住定日",
              "重み: 姓", "重み: 名", "重み: 生年月日", "重み: 性別", "重み: 住所", "重み: 学区", "重み: 世帯",
              "判定", "確認者", "メモ"]
    append_row(ws, header)
    rows = review
    if extra is not None and len(review):
        rows = extra.merge(review, on=["source", "row", "unique_id_l"], how="left")
    sex_words = code_labels(p, "sex")

    def _sex(v) -> str | None:
        return sex_words.get(str(v)) if v is not None and not pd.isna(v) else None

    if len(rows):
        reg = registry_people(p, ident).set_index("person_id")
        recs = ident.drop_duplicates(["source", "row"]).set_index(["source", "row"])
        why = links.set_index(["source", "row"])["reason"]
        for _, r in rows.iterrows():
            src = recs.loc[(r["source"], int(r["row"]))]
            g = reg.loc[r["unique_id_l"]]
            append_row(ws, [displayable(v) for v in [r["source"], int(r["row"]), person_to_atena.get(r["unique_id_l"]), round(float(r["match_probability"]), 4),
                       why.get((r["source"], int(r["row"])), ""), *[r[c] for c in extra_cols],
                       src.get("name"), src.get("name_kana"), _d(src.get("birth_date")), _sex(src.get("sex")), src.get("school"),
                       src.get("address"), g.get("name"), g.get("name_kana"), _d(g.get("birth_date")), _sex(g.get("sex")),
                       g.get("address"), _d(g.get("resident_since")), *[_weight(r, c) for c in WEIGHTS], None, None, None]])

    drop_down(ws, header.index("判定") + 1, [DECISION_YES, DECISION_NO], max(ws.max_row, 2) + 200)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        if cell.value == "判定":
            cell.fill = PatternFill("solid", fgColor="FFF7D6")
    ws.freeze_panes = "F2"
    f = datasets.write(p, "review_queue", with_notes(wb, ["名寄せの確認待ちリストです。各行は学校側の記録 (左) と住民基本台帳の候補 (右) の組です。",
                         "「判定」に 一致 / 不一致 を選び、このファイルをそのまま (.xlsx)、またはシート「要確認」を見出しのまま CSV (UTF-8) で",
                         f"{datasets.saved_place(p, 'review')} に保存すると、次回の実行で反映されます (ファイル名は自由です。"
                         f"例: {datasets.saved_place(p, 'review')}{datasets.path(p, 'review_queue').name})。"
                         "Excel で開いて記入し、そのまま上書き保存したファイルをそのフォルダに置けば読み込みます。",
                         "判定が空欄の行は未確認として扱います。適用した行・受け付けなかった行とその理由は名寄せのレポートに示します。",
                         "重み: 各比較がこの組の一致の見込みをどれだけ変えたか (log2 ベイズ因子)。正は一致寄り、負は不一致寄り。",
                         PRIVATE_NOTE], PrintedAs("名寄せの確認待ちリスト", to=STAFF, fy=p.fiscal_year)))
    shown = rows[["source", "row", "unique_id_l", "match_probability"]] if len(rows) else pd.DataFrame()
    ledger.record(p, [Paper("名寄せ確認待ちリスト", f, STAFF, p.records.staff_basis,
                            list(rows["unique_id_l"].dropna()) if len(rows) else [], header[:-3],
                            [role_source(p, "registry"), *p.linkage.sources], shown)])
    return f


CHART_ID = re.compile(r"splink-chart-[0-9a-f]{32}")
CHART_TITLE = "名寄せ: 項目ごとの一致の重み (Splink)"
NO_ACTIONS = "<style>.vega-embed details, .vega-embed .vega-actions {display: none !important}</style>"


def match_weights_chart(linker) -> str:
    """Splink's match-weights chart as a self-contained HTML page (its public ``to_html(inline=True)``: libraries
    inline, as the city network is closed), with no action menu (its 'Open in Vega Editor' goes to the internet), a
    Japanese title and a fixed element id (Splink draws a random one), so the same model writes the same page. The
    libraries' own code still names web addresses (SVG namespaces, help texts); nothing is loaded from them."""
    html = linker.visualisations.match_weights_chart().to_html(inline=True)
    html = CHART_ID.sub("splink-chart-match-weights", html)
    html = html.replace('<html lang="en">', '<html lang="ja">').replace("<title>Splink chart</title>",
                                                                      f"<title>{CHART_TITLE}</title>{NO_ACTIONS}")
    if external_loads(html):
        raise RuntimeError(f"the match-weights chart loads from outside the page: {external_loads(html)[:3]}")
    return html

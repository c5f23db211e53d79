"""開示 (個人情報保護法 第76条): everything the out dir holds about a child, in one workbook staff can give (after the
review the law asks for) to the child or the child's 法定代理人.

``mimamori kaiji --atena N`` writes ``reports/internal/kaiji/<宛名番号>_<YYYYMMDD>.xlsx`` (private like every internal
paper), recorded in the 提供記録, with four sheets, each starting with what it is:

- 元の記録: one row per item of every export row held about the child, every year the out dir holds, in long form —
  the child's own rows (its 宛名番号), its household's rows, its school records (through the link, with the match
  probability and whether staff decided it) and the rows quarantined at ingestion, with what happened to each
  (読み込み / 隔離 with the reason / 訂正 with both values and the 受付番号). Columns the purpose does not allow are not
  held and do not appear. A row of a source marked ``parent_review`` (要対協, 家庭児童相談) says that its disclosure
  to a 法定代理人 needs the 第78条第1項第1号 review first.
- 判定: per year, the items found, the counts, rank and group, the model's risk and reasons, whether listed, the 抽出ID.
- 会議・提供: the meeting's decisions and every paper that named the child (file, recipient, date, items).
- 訂正・停止: the history of the child's corrections, opinions and stops.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..catalogue import datasets
from ..catalogue.registry import columns_read, load_registry
from ..catalogue.tables import read_people
from ..errors import UserError
from ..judgement.indicators import load_catalogue
from ..output.spreadsheet import append_row
from ..params import Params, run_years, year_params
from ..privacy.pseudonym import key_if_any, pseudonym
from ..records import ledger
from ..records.ledger import Paper
from ..records.retention import screening_purged
from ..text.normalize import normalize_atena
from ..text.reading import SourceError, decode, entries
from . import requests
from .apply import APPLIED, Columns, reading

REVIEW_NOTE = "法定代理人への開示は第78条第1項第1号の検討が必要"
HOUSEHOLD = "世帯の記録"
HOUSEHOLD_NOTE = "本人以外の情報を含むため第78条第1項第2号の検討が必要"
RECIPIENT = "本人・法定代理人"
NOTHING = "保有個人情報はありません"
LINK_WORDS = {"auto": "自動で連結", "reviewed": "職員が確認して連結", "review": "確認待ち (連結していません)"}


class NotHeld(UserError):
    """The out dir holds nothing about the number (not an error: the answer to the request)."""


@dataclass
class Sheet:
    title: str
    about: str          # the sheet's first line: what it is
    table: pd.DataFrame


def _years(p: Params, purged_too: bool = False) -> list[int]:
    """The years the out dir holds (a year purged after its retention holds only its decisions and case records)."""
    root = p.processed.parent
    found = {int(d.name[2:]) for d in root.glob("fy*") if d.name[2:].isdigit()} if root.is_dir() else set()
    gone = set() if purged_too else set(screening_purged(p))
    return sorted(found - gone)


def _params_of(p: Params, fy: int) -> Params:
    if fy in run_years(p):
        return year_params(p, fy)
    return p.with_overrides({"fiscal_year": fy, "reference_date": None})


def original_records(q: Params, pid: str, atena: str, household: str | None, person: tuple | None,
                     stops: list[requests.Stop] = ()) -> pd.DataFrame:
    """元の記録 of one year (see the module's docstring; ``stops``: the child's stops in force)."""
    reg = load_registry(q)
    links = datasets.read(q, "links")
    quarantine = datasets.read(q, "quarantine")
    corrections = datasets.read(q, "corrections")
    evidence = datasets.read(q, "evidence", columns=["person_id", "source", "row"], filters=[("person_id", "==", pid)])
    out = []
    for sid, spec in reg.items():
        f = q.raw_year / spec["path"]
        if not f.is_file():
            continue
        try:
            text, _, _ = decode(f.read_bytes(), spec["encoding"])
            e = entries(text, int(spec.get("row_lines", 1)))
        except SourceError:
            continue
        header, rows, lines = e.header, e.rows, e.lines
        cols = Columns.of(spec, header)
        linked = {}
        if links is not None:
            lk = links[(links["source"] == spec["path"]).to_numpy() & (links["person_id"] == pid).fillna(False).to_numpy()]
            linked = {int(r.row): r for r in lk.itertuples()}
        used = set()
        if evidence is not None and len(evidence):
            used = {int(r) for r in evidence.loc[evidence["source"] == sid, "row"]}
        if any(st.covers(spec["path"]) for st in stops):
            continue  # not held: the child's rows of this source are left out under 利用停止
        loaded = _loaded_rows(q, sid)
        qrows = quarantine[quarantine["source"] == spec["path"]] if quarantine is not None else pd.DataFrame()
        fixed = corrections[(corrections["path"] == spec["path"]) & (corrections["status"] == APPLIED)] \
            if corrections is not None and len(corrections) else pd.DataFrame()
        read = [h for h in columns_read(spec) if h in header]
        set_aside = set(qrows["row"]) if len(qrows) else set()
        for i, r in enumerate(rows):
            n = i + 1
            if r is None:
                continue
            how = _whose(cols, r, atena, household, person, n in linked, n in used, n in set_aside)
            if not how:
                continue
            link = linked.get(n)
            if n in loaded:
                state = "読み込み"
            elif n in set_aside:
                state = "隔離 (" + "・".join(sorted(set(qrows.loc[qrows["row"] == n, "reason"]))) + ")"
            else:
                state = "読み込んでいません"
            for h in read:
                j = header.index(h)
                fix = fixed[(fixed["line"] == lines[i]) & (fixed["item"] == h)] if len(fixed) else fixed
                s = state
                if len(fix):
                    x = fix.iloc[-1]
                    s = f"訂正 ({x['before']} → {x['after']}、受付番号 {x['receipt']})"
                out.append({"年度": q.fiscal_year, "部署": spec.get("department", ""), "資料": spec["path"], "行": lines[i],
                            "項目": h, "値": r[j] if j < len(r) else "", "状態": s, "本人との関係": how,
                            "連結": "" if link is None else f"{LINK_WORDS.get(link.status, link.status)}"
                                                            f" (一致確率 {float(link.match_probability):.3f})"
                            if not pd.isna(link.match_probability) else LINK_WORDS.get(link.status, link.status),
                            "開示の検討": "・".join(x for x in (REVIEW_NOTE if spec.get("parent_review") else "",
                                                              HOUSEHOLD_NOTE if how == HOUSEHOLD else "") if x)})
    return pd.DataFrame(out, columns=ORIGINAL_COLUMNS)


ORIGINAL_COLUMNS = ["年度", "部署", "資料", "行", "項目", "値", "状態", "本人との関係", "連結", "開示の検討"]


def _loaded_rows(q: Params, sid: str) -> set[int]:
    t = datasets.read(q, f"table:{sid}", columns=["row"])
    return set() if t is None else {int(x) for x in t["row"]}


def _whose(cols: Columns, row: list[str], atena: str, household: str | None, person: tuple | None, linked: bool,
           used: bool, set_aside: bool = False) -> str:
    """How a row is about the child ('' when it is not). ``person``: (reading, birth date, name) as the registry
    holds them; a quarantined row whose birth date cannot be read is the child's when both names are."""
    if cols.person is not None and cols.atena(row) == atena:
        return "本人"
    if linked:
        return "本人 (名寄せで連結)"
    if household is not None and cols.person is None and cols.household is not None and cols.household_of(row) == household:
        return HOUSEHOLD
    if person is not None and cols.person is None and cols.reading(row) == person[:2]:
        return "本人 (氏名の読みと生年月日が一致)"
    if set_aside and person is not None and cols.person is None and cols.reading(row) is not None \
            and cols.reading(row)[1] is None and cols.names(row) == (person[0], person[2]):
        return "本人 (氏名と読みが一致、生年月日は読めない値)"
    if used:
        return "判定に使った記録"
    return ""


def judgements(p: Params, pid: str, catalogue_labels: dict[str, str]) -> pd.DataFrame:
    """判定: per year, what the system concluded about the child."""
    rows = []
    for fy in _years(p):
        q = _params_of(p, fy)
        s = datasets.read(q, "scores", filters=[("person_id", "==", pid)])
        if s is None or s.empty:
            continue
        r = s.iloc[0]
        items = [i for i in catalogue_labels if i in s.columns and r[i]]
        rows.append({"年度": fy, "該当項目": "、".join(f"{i} {catalogue_labels[i]}" for i in items),
                     "基本項目数": int(r["basic_count"]), "その他項目数": int(r["other_count"]),
                     "抽出": {"basic": "グループ1", "other": "グループ2", "tier": "次点層"}.get(_text(r["group"]), "抽出なし"),
                     "順位": "" if pd.isna(r.get("rank")) or not _text(r["group"]) else int(r["rank"]),
                     "抽出ID": _text(r.get("extract_id")), "主な課題": _text(r.get("main_need")),
                     "リスク値 (モデル)": "" if pd.isna(r.get("model_risk")) else round(float(r["model_risk"]), 4),
                     "主な理由": _text(r.get("reasons")), "既支援": "○" if _text(r.get("supported")) == "True" else ""})
    return pd.DataFrame(rows, columns=["年度", "該当項目", "基本項目数", "その他項目数", "抽出", "順位", "抽出ID", "主な課題",
                                       "リスク値 (モデル)", "主な理由", "既支援"])


def meetings_and_papers(p: Params, pid: str) -> pd.DataFrame:
    """会議・提供: the meeting's decisions, then every paper that named the child."""
    rows = []
    for fy in _years(p, purged_too=True):
        d = datasets.read(_params_of(p, fy), "decisions")
        if d is None:
            continue
        for r in d[d["person_id"] == pid].itertuples():
            rows.append({"年度": fy, "種類": "支援担当者会議の判断", "内容": f"支援要否: {r.support_needed} / 困難の類型: "
                         f"{r.difficulty_types or '—'} / 支援内容: {r.support_content or '—'}",
                         "日付": _day(r.decided_on), "提供先": "", "ファイル": "", "記載項目": ""})
    for r in ledger.of_child(p, pid).itertuples():
        rows.append({"年度": r.fy, "種類": f"書類: {r.paper}", "内容": f"根拠: {r.basis}", "日付": r.recorded_at,
                     "提供先": r.recipient, "ファイル": r.file, "記載項目": "・".join(r.items)})
    return pd.DataFrame(rows, columns=["年度", "種類", "内容", "日付", "提供先", "ファイル", "記載項目"])


def history(p: Params, atena: str, pid: str) -> pd.DataFrame:
    """訂正・停止: the child's requests as decided, and what each run did with the corrections."""
    reqs = requests.read(p)
    status = {}
    for fy in _years(p):
        c = datasets.read(_params_of(p, fy), "corrections")
        if c is not None and len(c):
            for r in c[c["person_id"] == pid].itertuples():
                status[(r.receipt, r.path, r.line if not pd.isna(r.line) else None, r.item)] = \
                    r.status + (f" ({r.why})" if r.why else "")
    rows = []
    for c in reqs.corrections:
        if c.atena == atena:
            rows.append({"受付番号": c.receipt, "種類": "意見" if c.is_opinion else "訂正", "年度": c.fy, "資料": c.path,
                         "行": c.line or "", "項目": c.item, "訂正前": c.before, "訂正後・意見": c.after, "理由": c.reason,
                         "決定日": c.decided, "解除日": "", "状態": status.get((c.receipt, c.path, c.line, c.item),
                                                                            "まだ実行に反映していません")})
    today = dt.date.today()
    for s in reqs.stops:
        if s.atena == atena:
            rows.append({"受付番号": s.receipt, "種類": "利用停止", "年度": "", "資料": "・".join(s.paths) if s.paths
                         else requests.WHOLE, "行": "", "項目": "", "訂正前": "", "訂正後・意見": "", "理由": s.reason,
                         "決定日": s.decided, "解除日": s.lifted or "", "状態": "停止中" if s.active(today) else
                         ("解除" if s.lifted and s.lifted <= today else "開始前")})
    return pd.DataFrame(rows, columns=["受付番号", "種類", "年度", "資料", "行", "項目", "訂正前", "訂正後・意見", "理由",
                                       "決定日", "解除日", "状態"])


def _text(v) -> str:
    """A value as text, a missing one (None, NaN, NA) empty."""
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def _day(v) -> str:
    return "" if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d")


def _registry_person(p: Params, pid: str) -> tuple[str | None, tuple | None]:
    """The child's household number and (reading, birth date, name) as the latest registry holds them."""
    for fy in reversed(_years(p)):
        q = _params_of(p, fy)
        if not datasets.exists(q, "identity"):
            continue
        me = read_people(q, columns=["person_id", "setai_no", "name", "name_kana", "birth_date"], person_ids=[pid])
        if len(me):
            r = me.iloc[0]
            birth = None if pd.isna(r["birth_date"]) else pd.Timestamp(r["birth_date"]).date()
            return r["setai_no"], (reading(r["name_kana"] or ""), birth, (r["name"] or "").replace(" ", ""))
    return None, None


def held(p: Params, pid: str) -> bool:
    """Whether the out dir holds anything about the child (a table row, a paper, a correction)."""
    for fy in _years(p, purged_too=True):
        q = _params_of(p, fy)
        for name in ("scores", "decisions"):
            t = datasets.read(q, name, columns=["person_id"]) if datasets.exists(q, name) else None
            if t is not None and (t["person_id"] == pid).any():
                return True
    return not ledger.of_child(p, pid).empty


def build(p: Params, atena: str) -> tuple[str, list[Sheet]]:
    """The child's pseudonym and the workbook's sheets (``NotHeld`` when the out dir holds nothing about it)."""
    number = normalize_atena(atena)
    if number is None:
        raise UserError(f"宛名番号が数字ではありません: {atena}")
    key = key_if_any(p)
    if key is None:
        raise UserError("仮名化キーを読めません (MIMAMORI_KEY_FILE を、この出力先を作ったときのキーにしてください)")
    pid = pseudonym(key, number)
    if not held(p, pid):
        raise NotHeld(NOTHING)
    household, person = _registry_person(p, pid)
    labels = {i: it["label"] for i, it in load_catalogue(p, every_item=True).items()}
    mine = [s for s in requests.read(p).stops if s.atena == number and s.active(dt.date.today())]
    parts = [original_records(_params_of(p, fy), pid, number, household, person, mine) for fy in _years(p)]
    original = pd.concat([x for x in parts if len(x)], ignore_index=True) if any(len(x) for x in parts) else \
        pd.DataFrame(columns=ORIGINAL_COLUMNS)
    sheets = [
        Sheet("元の記録", "各課から受け取ったデータのうち、このこどもについて保有している記録です (1 行 = 1 つの項目)。行はエクスポート"
                        "の行番号 (見出しが 1 行目)、状態は取り込んだか・隔離したか・訂正したかです。利用目的外の列は保有していません。",
              original),
        Sheet("判定", "年度ごとに、該当した項目・項目数・順位・抽出の有無・モデルのリスク値と主な理由です。", judgements(p, pid, labels)),
        Sheet("会議・提供", "支援担当者会議の判断と、このこどもを記載した書類 (提供記録: いつ・だれに・どの項目を) です。",
              meetings_and_papers(p, pid)),
        Sheet("訂正・停止", "このこどもについて決定した訂正・意見・利用停止と、その反映の状況です。", history(p, number, pid)),
    ]
    return pid, sheets


def write(p: Params, atena: str, today: dt.date | None = None) -> Path:
    """The 開示 workbook (recorded in the 提供記録). ``NotHeld`` when there is nothing to disclose."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    pid, sheets = build(p, atena)
    number = normalize_atena(atena)
    wb = Workbook()
    wb.remove(wb.active)
    for sh in sheets:
        ws = wb.create_sheet(sh.title)
        append_row(ws, [sh.about])
        ws["A1"].font = Font(bold=True)
        append_row(ws, list(sh.table.columns))
        for c in ws[2]:
            c.font = Font(bold=True)
        for r in sh.table.itertuples(index=False):
            append_row(ws, [x.item() if isinstance(x, np.generic) else x for x in r])
        ws.freeze_panes = "A3"
        for c in ws[1]:
            c.alignment = Alignment(wrap_text=False)
    day = (today or dt.date.today()).strftime("%Y%m%d")
    f = datasets.write_member(p, "disclosures", datasets.member("disclosures", atena=number, day=day), wb.save)
    ledger.record(p, [Paper("開示", f, RECIPIENT, p.records.disclosure_basis, [pid], [s.title for s in sheets],
                            list(load_registry(p)), {s.title: s.table for s in sheets})])
    return f


def remove_for_stopped(p: Params, atena: set[str]) -> int:
    """Remove the 開示 workbooks of children now under a stop of everything. Returns how many."""
    folder = datasets.path(p, "disclosures")
    n = 0
    for f in folder.glob("*.xlsx") if folder.is_dir() else []:
        if f.name.split("_", 1)[0] in atena:
            f.unlink()
            n += 1
    return n

"""The follow-up: every child the meeting judged in year t (支援要, 否, 保留), as year t+1's exports show them.

Children are followed by their keyed pseudonym. Attendance is compared on the same months of both years: the
absence from April to the reference date (当年度欠席日数 of each year's attendance file), so that a change is not
an artefact of comparing a whole school year with five months. What is shown is what was seen, never the effect of
support: a few dozen children a year, no comparison group chosen at random, and children judged 否 differ from
those judged 要 in more than the decision.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..arrays import isin
from ..catalogue import datasets
from ..catalogue.registry import load_registry, role_source
from ..catalogue.vocabulary import NEED_LABEL
from ..extract.history import attendance_by_year, linked_rows
from ..judgement.indicators import load_catalogue, registry
from ..params import Params, run_years, year_params

RESIDENCE = ("市内 (0〜18歳)", "市内 (19歳以上)", "住民登録なし (転出など)")
TREND = ("減った", "変化なし", "増えた", "比べられない")


def _item_lists(items: pd.DataFrame | None, ids: list[str]) -> tuple[pd.Series, pd.Series]:
    """Per child: how many items matched and which (``B03・B06``)."""
    if items is None:
        return pd.Series(dtype=float), pd.Series(dtype=str)
    cols = [i for i in ids if i in items]
    m = items.set_index("person_id")[cols].fillna(0).astype(int)
    names = np.array(cols, dtype=object)
    hit = m.to_numpy() > 0
    some = hit.any(axis=1)
    which = pd.Series("", index=m.index, dtype=object)
    which[some] = ["・".join(names[r]) for r in hit[some]]  # most children match nothing
    return m.sum(axis=1), which


def _survey_source(p: Params) -> str | None:
    try:
        return role_source(p, "survey")
    except KeyError:
        return None


def _survey_answered(p: Params) -> set[str] | None:
    """Children who answered the lifestyle survey in a year (``None``: no survey that year). The survey is the
    registry's source with ``role: survey``."""
    sid = _survey_source(p)
    if sid is None or not datasets.exists(p, f"table:{sid}"):
        return None
    return set(linked_rows(datasets.read(p, "links"), load_registry(p)[sid]["path"])["person_id"])


def follow_up(p_prev: Params, p_next: Params) -> pd.DataFrame | None:
    """One row per child judged at year t's meeting with what year t+1 shows (``None``: no decisions at t, or
    year t+1 not processed)."""
    dec = datasets.read(p_prev, "decisions")
    scores = datasets.read(p_prev, "scores")
    items_next = datasets.read(p_next, "items")
    if dec is None or scores is None or items_next is None or dec.empty:
        return None
    items_prev = datasets.read(p_prev, "items")
    cat = load_catalogue(p_next, every_item=True)
    fu = p_next.cases
    survey = _survey_source(p_next)
    sids = [i for i, it in cat.items() if it.get("source") == survey]      # the survey's items
    ids = [i for i in cat if i not in sids]
    s = scores.set_index("person_id")
    pid = dec["person_id"]
    out = pd.DataFrame({
        "fy_judged": p_prev.fiscal_year, "fy_seen": p_next.fiscal_year, "person_id": pid.to_numpy(),
        "extract_id": dec["extract_id"].to_numpy(), "decision": dec["support_needed"].map(NEED_LABEL).to_numpy(),
        "already_supported": dec["already_supported"].to_numpy(bool), "difficulty_types": dec["difficulty_types"].to_numpy(),
        "support_content": dec["support_content"].to_numpy(), "support_started_on": dec["support_started_on"].to_numpy(),
        "group": s["group"].reindex(pid).to_numpy(), "age": s["age"].reindex(pid).to_numpy(),
    })
    in_scope = isin(pid, items_next["person_id"])
    on_register = isin(pid, registry(p_next)["person_id"])
    out["residence"] = np.where(in_scope, RESIDENCE[0], np.where(on_register, RESIDENCE[1], RESIDENCE[2]))
    # the judged children's rows only (the items hold every child of the city: 500,000 in a big one)
    items_prev, items_next = (x[isin(x["person_id"], pid)] if x is not None else None for x in (items_prev, items_next))
    for when, items in (("before", items_prev), ("after", items_next)):
        n, which = _item_lists(items, ids)
        out[f"items_{when}"] = n.reindex(pid).to_numpy()
        out[f"item_ids_{when}"] = which.reindex(pid).fillna("").to_numpy()
        ix = items.set_index("person_id") if items is not None else None
        for theme in fu.themes:
            cols = [i for i in ids if cat[i].get("type") == theme and ix is not None and i in ix]
            out[f"theme_{theme}_{when}"] = ix[cols].max(axis=1).reindex(pid).to_numpy() if cols else np.nan
        for name, iid in fu.status.items():
            out[f"status_{name}_{when}"] = ix[iid].reindex(pid).to_numpy() if ix is not None and iid in ix else np.nan
    if sids:
        a_prev, a_next = _survey_answered(p_prev), _survey_answered(p_next)
        both = isin(pid, list(a_prev & a_next)) if a_prev is not None and a_next is not None else np.zeros(len(pid), bool)
        for when, items in (("before", items_prev), ("after", items_next)):
            n, _ = _item_lists(items, sids)
            out[f"survey_items_{when}"] = np.where(both, n.reindex(pid).to_numpy(), np.nan)
    att = attendance_by_year(p_next)
    for when, fy in (("before", p_prev.fiscal_year), ("after", p_next.fiscal_year)):
        t = att.get(str(fy))
        r = t.reindex(pid) if t is not None else pd.DataFrame(index=pid, columns=["absence_cur", "absence_prev", "absence_prev_illness"])
        out[f"absence_{when}"] = pd.to_numeric(r["absence_cur"], errors="coerce").to_numpy()
        out[f"absence_year_{when}"] = (pd.to_numeric(r["absence_prev"], errors="coerce")
                                       - pd.to_numeric(r["absence_prev_illness"], errors="coerce").fillna(0)).to_numpy()
    out["absence_change"] = out["absence_after"] - out["absence_before"]
    d = fu.change_days
    ch = out["absence_change"]
    out["attendance"] = np.select([ch.isna(), ch <= -d, ch >= d], [TREND[3], TREND[0], TREND[2]], TREND[1])
    counts = [c for c in out if c.startswith(("items_", "theme_", "status_", "survey_items_", "absence_")) and c not in
              ("item_ids_before", "item_ids_after")]
    for c in counts:
        out[c] = pd.to_numeric(out[c], errors="coerce").round().astype("Int64")
    return out.sort_values(["decision", "extract_id"]).reset_index(drop=True)


def follow_up_year(p: Params) -> pd.DataFrame | None:
    """The follow-up seen in this year's exports: the previous year's judged children (``None``: no earlier year
    in the run, or it has no decisions)."""
    earlier = [y for y in run_years(p) if y < p.fiscal_year]
    if not earlier:
        return None
    return follow_up(year_params(p, earlier[-1]), p)


# --- the tables staff and the public see ----------------------------------------------------------------

def internal_table(fu: pd.DataFrame, p: Params) -> pd.DataFrame:
    """The follow-up with Japanese headers (internal: one row per child, by 抽出ID)."""
    t = pd.DataFrame({
        "判断年度": "FY" + fu["fy_judged"].astype(str), "抽出ID": fu["extract_id"], "会議の判断": fu["decision"],
        "既支援": fu["already_supported"].map({True: "○", False: ""}), "困難の類型": fu["difficulty_types"],
        "支援内容": fu["support_content"], "支援開始日": pd.to_datetime(fu["support_started_on"]).dt.strftime("%Y-%m-%d"),
        "判断時の年齢": fu["age"], f"FY{int(fu['fy_seen'].iloc[0])} の状況": fu["residence"],
        "該当項目数 (前)": fu["items_before"], "該当項目数 (後)": fu["items_after"],
        "該当項目 (前)": fu["item_ids_before"], "該当項目 (後)": fu["item_ids_after"],
    })
    for theme in p.cases.themes:
        t[f"{theme}の項目 (前)"] = fu[f"theme_{theme}_before"]
        t[f"{theme}の項目 (後)"] = fu[f"theme_{theme}_after"]
    for name in p.cases.status:
        t[f"{name} (前)"] = fu[f"status_{name}_before"]
        t[f"{name} (後)"] = fu[f"status_{name}_after"]
    t["欠席日数 4月〜基準日 (前)"] = fu["absence_before"]
    t["欠席日数 4月〜基準日 (後)"] = fu["absence_after"]
    t["欠席日数の変化"] = fu["absence_change"]
    t["出欠"] = fu["attendance"]
    t["前年度欠席 (病気除く, 前)"] = fu["absence_year_before"]
    t["前年度欠席 (病気除く, 後)"] = fu["absence_year_after"]
    if "survey_items_before" in fu:
        t["調査の該当項目数 (前)"] = fu["survey_items_before"]
        t["調査の該当項目数 (後)"] = fu["survey_items_after"]
    return t


def summary_counts(fu: pd.DataFrame, p: Params) -> dict[str, dict[str, int]]:
    """Counts per decision group (支援要, 否): judged, still in the city, attendance compared and its direction,
    themes and statuses the next year."""
    out = {}
    for g in ("支援要", "否"):
        x = fu[fu["decision"] == g]
        here = x[x["residence"] == RESIDENCE[0]]
        c = {"n": len(x), "in_city": len(here), "compared": int((here["attendance"] != TREND[3]).sum()),
             "fewer": int((here["attendance"] == TREND[0]).sum()), "same": int((here["attendance"] == TREND[1]).sum()),
             "more": int((here["attendance"] == TREND[2]).sum())}
        for theme in p.cases.themes:
            c[f"theme:{theme}"] = int((here[f"theme_{theme}_after"] > 0).sum())
        for name in p.cases.status:
            c[f"status:{name}"] = int((here[f"status_{name}_after"] > 0).sum())
        c["median_change"] = float(here["absence_change"].median()) if c["compared"] else np.nan
        out[g] = c
    return out


def rows(p: Params) -> list[tuple[str, str]]:
    """(key, label) of the public table's rows."""
    d = p.cases.change_days
    return [("n", "会議で判断した人数"), ("in_city", "翌年度も市内に住む (0〜18歳)"),
            ("compared", "欠席日数を比べられた (両年度の4月〜基準日)"), ("fewer", f"　欠席が {d} 日以上減った"),
            ("same", f"　変化が {d} 日未満"), ("more", f"　欠席が {d} 日以上増えた"),
            *[(f"theme:{t}", f"翌年度に{t}の項目に該当") for t in p.cases.themes],
            *[(f"status:{s}", f"翌年度に{s}") for s in p.cases.status]]

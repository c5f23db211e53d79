"""From scored pairs to links: staff decisions, one registry child per record and per source, and the status of
every record (auto, reviewed, review, unmatched).

Within each source, a record and a registry child are linked when each is the other's single best candidate
(Splink's "single best links", done per source so that a child can have one record in each file); ties are left to
staff. Pairs at or above the upper threshold link automatically; everything else with a candidate above the lower
threshold waits for review — including a record whose best candidate another record of the same file took. A given
name that differs (twins, siblings) never links. Staff decisions (一致 / 不一致) override the model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..arrays import isin

DECISION_YES, DECISION_NO = "一致", "不一致"
REASONS = {"band": "一致確率が自動連結の基準未満", "taken": "同じ住基のこどもに同じファイルの別の記録が連結済み",
           "tie": "候補が同点 (どちらとも決められない)"}


def _best(pairs: pd.DataFrame, by: str) -> tuple[pd.DataFrame, set]:
    """Each ``by``'s best pair, and the ``by`` values whose best is tied. Ranked by match weight: probabilities
    round to 1.0 for strong matches and would tie where the weights do not."""
    s = pairs.sort_values([by, "match_weight"], ascending=[True, False], kind="stable")
    first = s.drop_duplicates(by)
    second = s[s.duplicated(by)].drop_duplicates(by).set_index(by)["match_weight"]
    best = first.set_index(by)["match_weight"]
    tied = set(first.loc[np.isclose(best.reindex(first[by]).to_numpy(), second.reindex(first[by]).to_numpy(),
                                    rtol=0, atol=1e-9), by])
    return first, tied


def single_best_links(pairs: pd.DataFrame) -> tuple[pd.DataFrame, set]:
    """Pairs that are each other's unique best (record ``unique_id_r``, child ``unique_id_l``), repeated after removing
    what was linked. Returns (chosen pairs, records left with a tie)."""
    avail = pairs[["unique_id_l", "unique_id_r", "match_probability", "match_weight"]]
    chosen, ties = [], set()
    while len(avail):
        br, tr = _best(avail, "unique_id_r")
        bl, tl = _best(avail, "unique_id_l")
        m = br.merge(bl[["unique_id_l", "unique_id_r"]], on=["unique_id_l", "unique_id_r"])
        m = m[~isin(m["unique_id_r"], tr) & ~isin(m["unique_id_l"], tl)]
        if m.empty:
            ties |= tr | set(br.loc[isin(br["unique_id_l"], tl), "unique_id_r"])
            break
        chosen.append(m)
        avail = avail[~isin(avail["unique_id_r"], m["unique_id_r"]) & ~isin(avail["unique_id_l"], m["unique_id_l"])]
    out = pd.concat(chosen, ignore_index=True) if chosen else avail.iloc[0:0]
    return out, ties


def _key(*parts: pd.Series) -> pd.Series:
    """``a|b|c`` from columns of any dtype (Arrow strings, objects, integers)."""
    out = parts[0].astype("string")
    for s in parts[1:]:
        out = out + "|" + s.astype("string")
    return out


def assign(pairs: pd.DataFrame, records: pd.DataFrame, upper: float, lower: float, decisions: pd.DataFrame,
           person_to_atena: pd.Series, reserved: dict[str, set] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per record (source, row, person_id, match_probability, status, reason) and the pairs that wait for
    review. ``records`` has unique_id, source and row; ``decisions`` has source, row, atena_no, 判定 (validated);
    ``reserved``: per source, children already linked through another route (inherited links)."""
    out = records[["unique_id", "source", "row"]].copy()
    out["person_id"] = pd.Series(pd.NA, index=out.index, dtype="string")
    out["match_probability"] = np.nan
    out["status"] = "unmatched"
    out["reason"] = ""
    if pairs.empty:
        return out.drop(columns="unique_id"), pairs
    pairs = pairs.copy()
    # twins and siblings: a given name that differs (kanji and reading) is never the same child
    if "gamma_given_name" in pairs:
        pairs = pairs[pairs["gamma_given_name"] != 0]
    rec = out.set_index("unique_id")
    pairs["source"] = rec["source"].reindex(pairs["unique_id_r"]).to_numpy()
    pairs["row"] = rec["row"].reindex(pairs["unique_id_r"]).to_numpy().astype(int)
    pairs["atena_no"] = pairs["unique_id_l"].map(person_to_atena)
    key = _key(pairs["source"], pairs["row"], pairs["atena_no"].fillna(""))
    dkey = _key(decisions["source"], decisions["row"], decisions["atena_no"])
    pairs = pairs[~isin(key, dkey[(decisions["判定"] == DECISION_NO).to_numpy()])]
    best = pairs.sort_values("match_weight", ascending=False).drop_duplicates("unique_id_r").set_index("unique_id_r")
    idx = pd.Index(out["unique_id"])
    out["match_probability"] = best["match_probability"].reindex(idx).to_numpy()
    # staff confirmations link whatever the model said (validated: the child is on the registry)
    atena_to_person = pd.Series(person_to_atena.index, index=person_to_atena.to_numpy())
    yes = decisions[decisions["判定"] == DECISION_YES]
    confirmed: dict[str, str] = {}
    rid = pd.Series(out["unique_id"].to_numpy(), index=_key(out["source"], out["row"]))
    for r in yes.itertuples():
        uid = rid.get(f"{r.source}|{int(r.row)}")
        if uid is not None and r.atena_no in atena_to_person.index:
            confirmed[uid] = atena_to_person[r.atena_no]
    review = []
    for source, sp in pairs.groupby("source"):
        taken = set((reserved or {}).get(source, set()))
        conf = {u: pid for u, pid in confirmed.items() if rec.at[u, "source"] == source}
        taken |= set(conf.values())
        avail = sp[~isin(sp["unique_id_r"], list(conf)) & ~isin(sp["unique_id_l"], taken)]
        chosen, ties = single_best_links(avail)
        ch = chosen.set_index("unique_id_r")
        m = isin(out["unique_id"], ch.index)
        out.loc[m, "person_id"] = ch["unique_id_l"].reindex(out.loc[m, "unique_id"]).to_numpy()
        out.loc[m, "match_probability"] = ch["match_probability"].reindex(out.loc[m, "unique_id"]).to_numpy()
        auto = m & (out["match_probability"] >= upper).to_numpy()
        out.loc[auto, "status"] = "auto"
        band = m & ~auto
        out.loc[band, ["person_id", "status", "reason"]] = [pd.NA, "review", REASONS["band"]]
        waiting = isin(out["unique_id"], sp["unique_id_r"]) & ~m & (out["source"] == source).to_numpy() \
            & ~isin(out["unique_id"], list(conf))
        out.loc[waiting, "status"] = "review"
        out.loc[waiting, "reason"] = np.where(isin(out.loc[waiting, "unique_id"], ties), REASONS["tie"], REASONS["taken"])
        review.append(sp[isin(sp["unique_id_r"], out.loc[out["status"] == "review", "unique_id"])])
    for uid, pid in confirmed.items():
        i = out.index[out["unique_id"] == uid]
        p = pairs.loc[(pairs["unique_id_r"] == uid) & (pairs["unique_id_l"] == pid), "match_probability"]
        out.loc[i, ["person_id", "status", "reason"]] = [pid, "reviewed", ""]
        out.loc[i, "match_probability"] = float(p.iloc[0]) if len(p) else np.nan
    review_df = pd.concat(review, ignore_index=True) if review else pairs.iloc[0:0]
    # equal weights in the order of 宛名番号: the same queue whatever order the database returned the pairs in
    review_df = review_df.sort_values(["source", "row", "match_weight", "atena_no"], ascending=[True, True, False, True],
                                      kind="stable")
    return out.drop(columns="unique_id"), review_df


SCHOOL_KEY = ["school", "grade", "family_name", "given_name", "birth_date"]


def exact_matches(ident: pd.DataFrame, base_path: str, path: str) -> pd.DataFrame:
    """Rows of ``path`` that are, field for field, a pupil of the attendance file ``base_path`` (the school network's
    one master record: same school, grade, name and birth date, unique on both sides): ``row``, ``row_base``."""
    key = SCHOOL_KEY
    a = ident[(ident["source"] == base_path).to_numpy()][["row", *key]].dropna(subset=key)
    b = ident[(ident["source"] == path).to_numpy()][["row", *key]].dropna(subset=key)
    if a.empty or b.empty:
        return pd.DataFrame(columns=["row", "row_base"])
    a = a[~a.duplicated(key, keep=False)]
    b = b[~b.duplicated(key, keep=False)]
    return b.merge(a, on=key, suffixes=("", "_base"))[["row", "row_base"]]


def inherit_links(matches: pd.DataFrame, path: str, base_links: pd.DataFrame) -> pd.DataFrame:
    """The exact pupils of ``path`` (:func:`exact_matches`) take the attendance record's outcome — its link, or its
    place in the review queue, or no link — so a child's school records never disagree and staff review each pupil
    once."""
    base = base_links.set_index("row")
    m = matches[isin(matches["row_base"], base.index)]
    b = base.loc[m["row_base"]]
    return pd.DataFrame({"source": path, "row": m["row"].astype(int).to_numpy(), "person_id": b["person_id"].to_numpy(),
                         "match_probability": b["match_probability"].to_numpy(), "status": b["status"].to_numpy(),
                         "reason": np.where(b["status"].isin(["review"]).to_numpy(), "出欠の記録が確認待ち",
                                            "出欠の記録と同一の児童生徒")})


def link_rates(links: pd.DataFrame) -> pd.DataFrame:
    """Per source: records, linked automatically, reviewed, waiting for review, unmatched, linkage rate."""
    t = links.pivot_table(index="source", columns="status", values="row", aggfunc="count", fill_value=0)
    for c in ("auto", "reviewed", "review", "unmatched"):
        if c not in t:
            t[c] = 0
    t = t[["auto", "reviewed", "review", "unmatched"]]
    t["records"] = t.sum(axis=1)
    t["linkage_rate"] = ((t["auto"] + t["reviewed"]) / t["records"]).round(4)
    return t.reset_index()

"""What each department's system records about the synthetic city, year by year (clean values).

Each ``*_rows`` function returns one DataFrame per export whose columns are the export's own headers
(``../shared/spec/raw-exports.md``) holding clean, typed values, plus hidden truth columns starting with
``_`` (``_uid``: the true person behind the row, -1 when the row names someone the city does not know).
Formatting quirks, typos and broken rows are applied afterwards by :mod:`exports`.
Event histories (consultations, registrations, checks, ...) are drawn once for the whole timeline so that
the same event appears consistently in every year's snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .city import (
    City,
    _assign_names,
    _days,
    _draw_address,
    _pick,
    _unique_ids,
    age_on,
    grade_in,
    members_on,
    name_pools,
)

OUTSIDE_UID = 10_000_000  # uids of people the city knows but who are not on its registry start here
GRADE_LABEL = {g: (f"小{g}" if g <= 6 else f"中{g - 6}") for g in range(1, 10)}
NURSERIES = [f"{n}保育園" for n in ("野口", "石垣", "亀川", "鶴見", "南", "朝見", "境川", "上人", "春木", "青山")] + [
    f"{n}こども園" for n in ("わかば", "ひかり", "さくら", "つくし", "みどり")]


@dataclass
class Timeline:
    """Event histories over the whole generated period, shared by every year's snapshot."""

    outside: pd.DataFrame       # people the departments know but who are not on the registry extract
    events: dict[str, pd.DataFrame]


def _ts(x) -> pd.Timestamp:
    return pd.Timestamp(x)


def build_timeline(city: City) -> Timeline:
    """Draw every department's event history once (seeded from the city's seed)."""
    rng = np.random.default_rng(city.seed + 1)
    p, hh = city.persons, city.households
    first, last = _ts(city.ref_dates[city.years[0]]), _ts(city.ref_dates[city.years[-1]])
    ev: dict[str, pd.DataFrame] = {}
    outside = _outside_people(city, rng)

    kid = (p["role"] == "child").to_numpy()
    h = p["hh"].to_numpy()
    li, ng = p["low_income"].to_numpy(), p["neglect_risk"].to_numpy()
    dev = p["developmental_disability"].to_numpy()
    adult_li = hh["low_income"].to_numpy()[h] & ~kid

    # 生活保護 cases (household level) with end dates; plus older closed cases; plus adult-only cases
    cases = hh.loc[hh["seiho"], ["hh", "seiho_start"]].rename(columns={"seiho_start": "start"})
    cases["end"] = pd.NaT
    ends = rng.random(len(cases)) < 0.08 * (len(city.years) - 1)
    cases.loc[ends, "end"] = (first + pd.to_timedelta(rng.integers(1, 300, ends.sum()), unit="D")).floor("D")
    past = hh.loc[hh["low_income"] & ~hh["seiho"] & (rng.random(len(hh)) < 0.06), ["hh"]].copy()
    past["start"] = (first - pd.to_timedelta(rng.integers(900, 3000, len(past)), unit="D")).floor("D")
    past["end"] = (past["start"] + pd.to_timedelta(rng.integers(90, 800, len(past)), unit="D")).dt.floor("D")
    ev["seiho_cases"] = pd.concat([cases, past], ignore_index=True)
    ev["seiho_cases"]["case_no"] = [f"{10000 + i}" for i in rng.permutation(len(ev["seiho_cases"]))]
    o = outside[outside["kind"] == "adult"]
    osei = o.sample(frac=0.35, random_state=int(rng.integers(1 << 31)))
    ev["seiho_outside"] = pd.DataFrame({
        "_uid": osei["uid"].to_numpy(),
        "start": (first - pd.to_timedelta(rng.integers(30, 4000, len(osei)), unit="D")).floor("D"),
        "end": pd.NaT, "case_no": [f"{50000 + i}" for i in range(len(osei))],
    })

    # 生活困窮相談: adults of low-income households and outside adults; dates over the whole span
    cand = np.flatnonzero(adult_li & (rng.random(len(p)) < 0.12))
    oc = o.sample(frac=0.25, random_state=int(rng.integers(1 << 31)))["uid"].to_numpy()
    who = np.concatenate([p["uid"].to_numpy()[cand], oc])
    k = rng.integers(1, 4, len(who))
    ev["konkyu"] = pd.DataFrame({
        "_uid": np.repeat(who, k),
        "date": (first - pd.Timedelta(days=700) + pd.to_timedelta(
            rng.integers(0, (last - first).days + 700, k.sum()), unit="D")).floor("D"),
        "code": np.array(["収入・生活費", "住まい", "仕事", "債務", "家族関係", "その他"])[
            _pick(rng, np.array([0.4, 0.12, 0.18, 0.12, 0.1, 0.08]), k.sum())],
    })

    # 要対協: children of neglect-risk households; open/closed registrations
    risk_kids = kid & (ng | (rng.random(len(p)) < 0.002))
    reg = risk_kids & (rng.random(len(p)) < 0.49)
    idx = np.flatnonzero(reg)
    start = last - pd.to_timedelta(rng.integers(0, 365 * 5, len(idx)), unit="D")
    birth = p["birth"].to_numpy()[idx]
    start = pd.Series(np.maximum(start.to_numpy(), birth + np.timedelta64(30, "D"))).dt.floor("D")
    closed = rng.random(len(idx)) < 0.3
    end = pd.Series(pd.NaT, index=range(len(idx)), dtype="datetime64[s]")
    end[closed] = (start[closed] + pd.to_timedelta(rng.integers(60, 900, closed.sum()), unit="D")).dt.floor("D")
    ev["yotaikyo"] = pd.DataFrame({
        "_uid": p["uid"].to_numpy()[idx],
        "kind": np.where(rng.random(len(idx)) < 0.35, "要保護児童", "要支援児童"),
        "type": np.array(["身体的虐待", "心理的虐待", "ネグレクト", "性的虐待", "養育困難", "その他"])[
            _pick(rng, np.array([0.2, 0.3, 0.3, 0.02, 0.13, 0.05]), len(idx))],
        "start": start.to_numpy(), "end": end.to_numpy(),
    })

    # 家庭児童相談: consultations about children
    prob = 0.015 + 0.05 * ng + 0.03 * dev + 0.02 * li
    refusal_any = np.zeros(len(p), dtype=bool)
    for fy in city.years:
        refusal_any |= p[f"refusal_{fy}"].to_numpy()
    prob = (prob + 0.25 * refusal_any) * (len(city.years) + 1) / 2
    idx = np.flatnonzero(kid & (rng.random(len(p)) < prob))
    k = rng.integers(1, 3, len(idx))
    idx = np.repeat(idx, k)
    kinds = np.where(
        refusal_any[idx] & (rng.random(len(idx)) < 0.6), "育成(不登校)",
        np.where(dev[idx] & (rng.random(len(idx)) < 0.6), "障害",
                 np.where(ng[idx] & (rng.random(len(idx)) < 0.6), "養護",
                          np.array(["養護", "保健", "障害", "非行", "育成(性格行動)", "その他"])[
                              _pick(rng, np.array([0.25, 0.15, 0.15, 0.05, 0.25, 0.15]), len(idx))])))
    date = last - pd.to_timedelta(rng.integers(0, 365 * (len(city.years) + 1), len(idx)), unit="D")
    date = np.maximum(date.to_numpy(), p["birth"].to_numpy()[idx] + np.timedelta64(60, "D"))
    ev["soudan"] = pd.DataFrame({"_uid": p["uid"].to_numpy()[idx], "date": pd.Series(date).dt.floor("D"),
                                 "code": kinds})

    # 乳幼児健診: three checks per child at fixed ages; no-show more likely under neglect or low income
    checks = {"4か月": 4 / 12, "1歳6か月": 1.5, "3歳": 3.5}
    rows = []
    kids_idx = np.flatnonzero(kid & (p["birth"] > first - pd.DateOffset(years=8)).to_numpy())
    for name, age in checks.items():
        due = p["birth"].to_numpy()[kids_idx] + _days(age)
        p_miss = np.minimum(0.9, 0.043 * (1 + 3.5 * ng[kids_idx] + 0.8 * li[kids_idx]))
        miss = rng.random(len(kids_idx)) < p_miss
        finding = np.array(["異常なし", "要経過観察", "要精密"])[_pick(rng, np.array([0.82, 0.14, 0.04]), len(kids_idx))]
        rows.append(pd.DataFrame({
            "_uid": p["uid"].to_numpy()[kids_idx], "check": name, "due": due,
            "attended": ~miss, "date": due + rng.integers(0, 40, len(kids_idx)).astype("timedelta64[D]"),
            "finding": np.where(rng.random(len(kids_idx)) < 0.03, "", finding),
        }))
    ev["kenshin"] = pd.concat(rows, ignore_index=True)

    # 予防接種: vaccines due at given ages
    vaccines = {"五種混合": 0.25, "MR1期": 1.0, "水痘": 1.3, "日本脳炎1期": 3.2, "MR2期": 5.5}
    rows = []
    kids_idx = np.flatnonzero(kid & (p["birth"] > first - pd.DateOffset(years=13)).to_numpy())
    hes = hh["vaccine_hesitant"].to_numpy()[h[kids_idx]]
    for name, age in vaccines.items():
        p_miss = np.where(hes, 0.9, np.minimum(0.9, 0.02 * (1 + 5 * ng[kids_idx] + 0.7 * li[kids_idx])))
        rows.append(pd.DataFrame({
            "_uid": p["uid"].to_numpy()[kids_idx], "vaccine": name,
            "due": p["birth"].to_numpy()[kids_idx] + _days(age),
            "done": rng.random(len(kids_idx)) >= p_miss,
            "lag": rng.integers(0, 120, len(kids_idx)),
        }))
    ev["vaccine"] = pd.concat(rows, ignore_index=True)

    # 妊娠届出: each child born in the last six years, plus pregnancies still going on at each reference date
    kids_idx = np.flatnonzero(kid & (p["birth"] > first - pd.DateOffset(years=6)).to_numpy())
    mothers = p[p["role"] == "mother"].drop_duplicates("hh").set_index("hh")["uid"]
    m_uid = mothers.reindex(h[kids_idx]).fillna(-1).astype(int).to_numpy()
    young_or_risk = ng[kids_idx]
    late = rng.random(len(kids_idx)) < (0.012 + 0.12 * young_or_risk)
    weeks = np.where(late, rng.integers(20, 34, len(kids_idx)), np.clip(rng.normal(9.5, 2.2, len(kids_idx)), 5, 19))
    weeks = np.round(weeks).astype(int)
    date = p["birth"].to_numpy()[kids_idx] - ((40 - weeks) * 7).astype("timedelta64[D]")
    twin_second = p["twin_of_prev"].to_numpy()[kids_idx]
    n = pd.DataFrame({"mother": m_uid, "_child": p["uid"].to_numpy()[kids_idx], "date": date,
                             "weeks": weeks, "birth": p["birth"].to_numpy()[kids_idx]})
    n = n[(n["mother"] >= 0) & ~twin_second]
    # ongoing pregnancies on each reference date: mothers of young children, due after that date
    moms = p[(p["role"] == "mother")]
    rows = [n]
    for fy in city.years:
        ref = _ts(city.ref_dates[fy])
        age = age_on(moms["birth"].to_numpy(), ref.date())
        pick = moms[(age >= 17) & (age <= 43) & (rng.random(len(moms)) < 0.035)]
        if fy != city.years[-1]:
            # the next year's newborns were notified before this reference date: already in ``n``
            pick = pick.iloc[: len(pick) // 4]
        wk = np.clip(np.round(rng.normal(9.5, 2.5, len(pick))), 5, 30).astype(int)
        when = ref - pd.to_timedelta(rng.integers(1, 150, len(pick)), unit="D")
        rows.append(pd.DataFrame({"mother": pick["uid"].to_numpy(), "_child": -1, "date": when.floor("D"),
                                  "weeks": wk, "birth": np.full(len(pick), np.datetime64("NaT"), dtype=n["birth"].dtype)}))
    ev["ninshin"] = pd.concat(rows, ignore_index=True)

    # 障害者手帳: children with developmental disability (療育), some physical; parents; outside adults
    rows = []
    c_idx = np.flatnonzero(kid & dev & (rng.random(len(p)) < 0.22))
    rows.append(pd.DataFrame({"_uid": p["uid"].to_numpy()[c_idx], "kind": np.where(rng.random(len(c_idx)) < 0.85, "療育", "精神"),
                              "age_from": rng.uniform(2, 8, len(c_idx))}))
    c2 = np.flatnonzero(kid & (rng.random(len(p)) < 0.003))
    rows.append(pd.DataFrame({"_uid": p["uid"].to_numpy()[c2], "kind": "身体", "age_from": rng.uniform(0, 3, len(c2))}))
    par = p[p["role"].isin(["mother", "father"]) & hh["parental_disability"].to_numpy()[h]]
    par = par.groupby("hh", sort=True).sample(n=1, random_state=int(rng.integers(1 << 31)))
    rows.append(pd.DataFrame({"_uid": par["uid"].to_numpy(), "kind": np.array(["身体", "精神", "療育"])[
        _pick(rng, np.array([0.45, 0.42, 0.13]), len(par))], "age_from": rng.uniform(15, 35, len(par))}))
    gp = p[p["role"].isin(["grandmother", "grandfather"]) & (rng.random(len(p)) < 0.15)]
    rows.append(pd.DataFrame({"_uid": gp["uid"].to_numpy(), "kind": "身体", "age_from": rng.uniform(50, 70, len(gp))}))
    ot = o.sample(frac=0.4, random_state=int(rng.integers(1 << 31)))
    rows.append(pd.DataFrame({"_uid": ot["uid"].to_numpy(), "kind": np.array(["身体", "精神", "療育"])[
        _pick(rng, np.array([0.6, 0.3, 0.1]), len(ot))], "age_from": rng.uniform(10, 50, len(ot))}))
    t = pd.concat(rows, ignore_index=True)
    grade_by_kind = {"身体": ["1級", "2級", "3級", "4級", "5級", "6級"], "精神": ["1級", "2級", "3級"], "療育": ["A1", "A2", "B1", "B2"]}
    t["grade"] = [grade_by_kind[k][int(rng.integers(0, len(grade_by_kind[k])))] for k in t["kind"]]
    ev["techo"] = t

    # 障害児通所支援
    c_idx = np.flatnonzero(kid & dev & (rng.random(len(p)) < 0.55))
    ev["jidoshien"] = pd.DataFrame({"_uid": p["uid"].to_numpy()[c_idx],
                                    "start_age": rng.uniform(2.5, 9.0, len(c_idx)),
                                    "visit": rng.random(len(c_idx)) < 0.06})

    # 保育所: nursery children (entry age), fee arrears drawn per year
    c_idx = np.flatnonzero(kid & (p["birth"] > first - pd.DateOffset(years=7)).to_numpy() & (rng.random(len(p)) < 0.62))
    ev["hoiku"] = pd.DataFrame({"_uid": p["uid"].to_numpy()[c_idx], "entry_age": rng.choice([0.6, 1.0, 1.0, 2.0, 3.0], len(c_idx)) + rng.uniform(0, 0.4, len(c_idx)),
                                "nursery": np.array(NURSERIES)[rng.integers(0, len(NURSERIES), len(c_idx))]})
    # 就学援助 eligibility (fixed per child): low income mostly, some others
    p_enjo = np.where(li, 0.72, 0.05)
    ev["enjo_eligible"] = pd.DataFrame({"_uid": p["uid"], "eligible": kid & (rng.random(len(p)) < p_enjo)})
    # 児童扶養手当 (single-parent households): status by income
    sp = hh[hh["single_parent"]].copy()
    r = rng.random(len(sp))
    sp["status"] = np.where(sp["low_income"], np.where(r < 0.55, "全部支給", np.where(r < 0.93, "一部支給", "")),
                            np.where(r < 0.45, "一部支給", np.where(r < 0.62, "全部停止", "")))
    sp["certified"] = (first - pd.to_timedelta(rng.integers(30, 365 * 10, len(sp)), unit="D")).floor("D")
    ev["jido_fuyo"] = sp[sp["status"] != ""][["hh", "status", "certified", "setai_no"]]
    _year_to_year(city, ev, rng)
    return Timeline(outside=outside, events=ev)


NEW_SEIHO_SHARE = 0.12     # new 生活保護 cases per year, as a share of the open cases (被保護者調査: 保護開始 ≈ 12% of stock)
CONSULTED_BEFORE = 0.5     # new cases (生活保護, 要対協) with a consultation in the months before (assumption)


def _year_to_year(city: City, ev: dict, rng: np.random.Generator) -> None:
    """Dynamics between reference dates, so that a backtest (year t's list → year t+1's new cases) means something:
    new 生活保護 cases in low-income households, half of them after a 生活困窮相談 in the months before; half of the
    要対協 registrations that fall between two reference dates preceded by a 家庭児童相談. Drawn last, so the
    city's other histories do not change."""
    p, hh = city.persons, city.households
    adult = p[p["role"] != "child"].drop_duplicates("hh").set_index("hh")["uid"]
    open_cases = ev["seiho_cases"]["end"].isna().sum()
    taken = set(ev["seiho_cases"]["hh"])
    weight = (1.0 + 1.3 * hh["single_adult"].to_numpy() + 1.5 * hh["parental_disability"].to_numpy()).astype(float)
    new_cases, consults = [], []
    for y0, y1 in zip(city.years[:-1], city.years[1:], strict=True):
        r0, r1 = _ts(city.ref_dates[y0]), _ts(city.ref_dates[y1])
        cand = np.flatnonzero(hh["low_income"].to_numpy() & ~np.isin(hh["hh"].to_numpy(), list(taken))
                              & np.isin(hh["hh"].to_numpy(), adult.index))
        n = min(len(cand), int(round(NEW_SEIHO_SHARE * open_cases)))
        if n == 0:
            continue
        pick = hh["hh"].to_numpy()[rng.choice(cand, n, replace=False, p=weight[cand] / weight[cand].sum())]
        taken |= set(pick)
        start = (r0 + pd.to_timedelta(rng.integers(1, (r1 - r0).days + 1, n), unit="D")).floor("D")
        new_cases.append(pd.DataFrame({"hh": pick, "start": start, "end": pd.NaT}))
        c = rng.random(n) < CONSULTED_BEFORE
        consults.append(pd.DataFrame({"_uid": adult.reindex(pick[c]).to_numpy(),
                                      "date": (start[c] - pd.to_timedelta(rng.integers(30, 300, c.sum()), unit="D")).floor("D"),
                                      "code": "収入・生活費"}))
    if new_cases:
        nc = pd.concat(new_cases, ignore_index=True)
        nc["case_no"] = [f"{80000 + i}" for i in range(len(nc))]
        ev["seiho_cases"] = pd.concat([ev["seiho_cases"], nc], ignore_index=True)
        ev["konkyu"] = pd.concat([ev["konkyu"], *consults], ignore_index=True)
    yt = ev["yotaikyo"]
    first, last = _ts(city.ref_dates[city.years[0]]), _ts(city.ref_dates[city.years[-1]])
    new = yt[(yt["start"] > first) & (yt["start"] <= last)]
    c = new[rng.random(len(new)) < CONSULTED_BEFORE]
    if len(c):
        ev["soudan"] = pd.concat([ev["soudan"], pd.DataFrame({
            "_uid": c["_uid"].to_numpy(), "code": "養護",
            "date": (c["start"] - pd.to_timedelta(rng.integers(30, 240, len(c)), unit="D")).dt.floor("D").to_numpy()})],
            ignore_index=True)


def _outside_people(city: City, rng: np.random.Generator) -> pd.DataFrame:
    """People the departments serve who are not on the registry extract: adults in households without
    children, and a few children who attend the city's schools but live registered elsewhere."""
    n_p = len(city.persons)
    n_adult = int(n_p * 0.25)
    n_child = max(3, int((city.persons["role"] == "child").sum() * 0.003))
    first = city.ref_dates[city.years[0]]
    hh = pd.DataFrame({"hh": np.arange(n_adult + n_child), "foreign": rng.random(n_adult + n_child) < 0.02})
    birth = np.where(
        np.arange(len(hh)) < n_adult,
        np.datetime64(first) - _days(rng.uniform(20, 85, len(hh))),
        np.datetime64(first) - _days(rng.uniform(6.5, 14.5, len(hh))),
    )
    p = pd.DataFrame({"hh": hh["hh"], "role": np.where(np.arange(len(hh)) < n_adult, "adult", "child"),
                      "birth": pd.to_datetime(birth).floor("D"), "sex": rng.integers(1, 3, len(hh))})
    p = _assign_names(p, hh, name_pools(), rng)
    p["kind"] = p["role"]
    p["uid"] = OUTSIDE_UID + np.arange(len(p))
    # their own 宛名番号 (adults) never collide with the registry's
    ids = _unique_ids(rng, len(p) + n_p, 100_000, 99_999_999)
    ids = ids[~np.isin(ids, city.persons["atena_no"].to_numpy())][: len(p)]
    p["atena_no"] = ids
    addr = _draw_address(name_pools()["towns"], rng, len(p))
    for k in ("address", "elementary", "junior_high"):
        p[k] = addr[k]
    return p


def relationship(m: pd.DataFrame, hh: pd.DataFrame) -> np.ndarray:
    """続柄 of each registry member, from household type and role."""
    t = hh["type"].to_numpy()[m["hh"].to_numpy()]
    role = m["role"].to_numpy()
    has_gf = m.groupby("hh")["role"].transform(lambda s: (s == "grandfather").any()).to_numpy()
    gp_head = (t == "grandparents")
    out = np.full(len(m), "その他", dtype=object)
    out[role == "lodger"] = "同居人"
    # parents' generation
    mother_head = (t == "single_mother") | ((t == "two_parent") & (m["hh"].to_numpy() % 20 == 0))
    out[(role == "father")] = np.where(mother_head[role == "father"], "夫", "世帯主")
    out[(role == "mother")] = np.where(mother_head[role == "mother"], "世帯主", "妻")
    out[(role == "father") & (t == "single_father")] = "世帯主"
    out[role == "child"] = np.where(gp_head[role == "child"], "孫", "子")
    gf = role == "grandfather"
    gm = role == "grandmother"
    out[gf] = np.where(gp_head[gf], "世帯主", "父")
    out[gm] = np.where(gp_head[gm], np.where(has_gf[gm], "妻", "世帯主"), "母")
    return out


def _snapshot_people(city: City, tl: Timeline, fy: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Registry members of ``fy`` and a lookup of every known person (registry or not) by uid."""
    m = members_on(city, fy)
    m["続柄"] = relationship(m, city.households)
    allp = pd.concat([
        city.persons[["uid", "atena_no", "family", "given", "family_kana", "given_kana", "birth", "sex", "hh", "role", "foreign"]],
        tl.outside[["uid", "atena_no", "family", "given", "family_kana", "given_kana", "birth", "sex", "hh", "role", "foreign"]],
    ], ignore_index=True).set_index("uid", drop=False).rename_axis(None)
    return m, allp


def year_records(city: City, tl: Timeline, fy: int) -> dict[str, pd.DataFrame]:
    """Every export of fiscal year ``fy`` as clean typed values (headers as in the spec)."""
    rng = np.random.default_rng([city.seed, fy])
    ref = _ts(city.ref_dates[fy])
    m, allp = _snapshot_people(city, tl, fy)
    reg_uids = m["uid"].to_numpy()
    ev = tl.events
    out: dict[str, pd.DataFrame] = {}
    # people who moved away still appear in some departments' files (their old records): valid rows
    outside_uids = tl.outside["uid"].to_numpy()

    def holds(uids: np.ndarray, keep_moved: float = 0.3) -> np.ndarray:
        on = np.isin(uids, reg_uids)
        out_ = np.isin(uids, outside_uids)
        moved = ~on & ~out_ & (np.random.default_rng([city.seed, fy, 99]).random(len(uids)) < keep_moved)
        return on | out_ | moved

    # 市民課 juki
    jk = pd.DataFrame({
        "宛名番号": m["atena_no"], "世帯番号": m["setai_no"], "続柄": m["続柄"],
        "_family": m["family"], "_given": m["given"], "_family_kana": m["family_kana"], "_given_kana": m["given_kana"],
        "生年月日": m["birth"], "性別": m["sex"].astype(str), "住所": "別府市" + m["address"].astype(str),
        "住定日": m["since"], "転入回数": m["arrivals_5y"], "国籍区分": np.where(m["foreign"], "2", "1"),
        "_uid": m["uid"], "_script": m["script"],
    })
    out["shimin/juki.csv"] = jk.sort_values(["世帯番号", "宛名番号"], kind="stable").reset_index(drop=True)

    # 児童扶養手当: one row per child under 18 (until the March after the 18th birthday)
    jf = ev["jido_fuyo"]
    kids = m[(m["role"] == "child") & (m["grade"] <= 12)]
    kids = kids.merge(jf, on="hh", how="inner")
    parent = m[m["role"].isin(["mother", "father"])].drop_duplicates("hh").set_index("hh")["atena_no"]
    kids = kids[kids["hh"].isin(parent.index)]
    out["kosodate/jido_fuyo.csv"] = pd.DataFrame({
        "受給者宛名番号": parent.reindex(kids["hh"]).to_numpy(), "対象児童宛名番号": kids["atena_no"].to_numpy(),
        "支給区分": kids["status"].to_numpy(), "認定日": np.maximum(kids["certified"].to_numpy(), kids["birth"].to_numpy()),
        "_uid": kids["uid"].to_numpy(),
    })

    # 保育所: children not yet at school, entered before the reference date
    ho = ev["hoiku"].merge(m[["uid", "birth", "grade", "low_income", "neglect_risk", "age"]], left_on="_uid", right_on="uid")
    entry = ho["birth"] + pd.to_timedelta((ho["entry_age"] * 365.25).round(), unit="D")
    ho = ho[(entry <= ref) & (ho["grade"] <= 0)].copy()
    ho["entry"] = entry[ho.index].dt.floor("D")
    young = ho["age"] <= 2
    p_arrears = np.where(young, 0.02 + 0.10 * ho["low_income"] + 0.15 * ho["neglect_risk"], 0.004 + 0.02 * ho["neglect_risk"])
    arrears = np.where(rng.random(len(ho)) < p_arrears, rng.integers(1, 9, len(ho)), 0)
    out["kosodate/hoiku.csv"] = pd.DataFrame({
        "児童宛名番号": allp.loc[ho["_uid"], "atena_no"].to_numpy(), "施設名": ho["nursery"].to_numpy(),
        "入所日": ho["entry"].to_numpy(), "保育料滞納月数": arrears, "_uid": ho["_uid"].to_numpy(),
    })

    # 生活保護: every member of the case's household (as on the registry), active or ended
    sc = ev["seiho_cases"]
    sc = sc[sc["start"] <= ref].copy()
    sc.loc[sc["end"] > ref, "end"] = pd.NaT
    mem = m[["uid", "hh", "atena_no", "birth"]].merge(sc, on="hh")
    mem = mem[mem["birth"] <= ref]
    so = ev["seiho_outside"]
    so = so[so["start"] <= ref]
    seiho = pd.concat([
        pd.DataFrame({"_uid": mem["uid"], "ケース番号": mem["case_no"], "保護開始日": np.maximum(mem["start"], mem["birth"]),
                      "保護廃止日": mem["end"]}),
        pd.DataFrame({"_uid": so["_uid"], "ケース番号": so["case_no"], "保護開始日": so["start"], "保護廃止日": so["end"]}),
    ], ignore_index=True)
    seiho.insert(0, "世帯員宛名番号", allp.loc[seiho["_uid"], "atena_no"].to_numpy())
    out["hitokurashi/seiho.csv"] = seiho.sort_values(["ケース番号", "世帯員宛名番号"], kind="stable").reset_index(drop=True)

    # 生活困窮相談 (up to the reference date)
    kk = ev["konkyu"]
    kk = kk[(kk["date"] <= ref) & holds(kk["_uid"].to_numpy(), 0.5)].sort_values("date", kind="stable")
    out["hitokurashi/konkyu.csv"] = pd.DataFrame({
        "相談者宛名番号": allp.loc[kk["_uid"], "atena_no"].to_numpy(), "相談日": kk["date"].to_numpy(),
        "主訴": kk["code"].to_numpy(), "_uid": kk["_uid"].to_numpy()})

    # 要対協
    yt = ev["yotaikyo"]
    yt = yt[(yt["start"] <= ref) & holds(yt["_uid"].to_numpy(), 0.6)].copy()
    yt.loc[yt["end"] > ref, "end"] = pd.NaT
    # 特定妊婦: a few mothers currently pregnant in high-risk households
    preg = ev["ninshin"]
    preg = preg[(preg["_child"] < 0) & (preg["date"] <= ref)]
    risk_m = preg[np.isin(preg["mother"], m.loc[m["neglect_risk"] | m["low_income"] & (m["age"] < 22), "uid"])]
    tok = pd.DataFrame({"_uid": risk_m["mother"].to_numpy(), "kind": "特定妊婦", "type": "養育困難",
                        "start": risk_m["date"].to_numpy() + np.timedelta64(20, "D"),
                        "end": np.full(len(risk_m), np.datetime64("NaT"), dtype=yt["end"].dtype)})
    tok = tok[tok["start"] <= ref]
    yt = pd.concat([yt, tok], ignore_index=True).sort_values("start", kind="stable")
    out["kodomokatei/yotaikyo.csv"] = pd.DataFrame({
        "児童宛名番号": allp.loc[yt["_uid"], "atena_no"].to_numpy(), "登録区分": yt["kind"].to_numpy(),
        "主たる種別": yt["type"].to_numpy(), "登録日": yt["start"].to_numpy(), "終結日": yt["end"].to_numpy(),
        "_uid": yt["_uid"].to_numpy()})

    # 家庭児童相談
    sd = ev["soudan"]
    sd = sd[(sd["date"] <= ref) & (sd["date"] > ref - pd.DateOffset(years=3)) & holds(sd["_uid"].to_numpy(), 0.5)]
    sd = sd.sort_values("date", kind="stable")
    out["kodomokatei/soudan.csv"] = pd.DataFrame({
        "児童宛名番号": allp.loc[sd["_uid"], "atena_no"].to_numpy(), "相談日": sd["date"].to_numpy(),
        "相談種別": sd["code"].to_numpy(), "_uid": sd["_uid"].to_numpy()})

    # 乳幼児健診: checks due by the reference date, children aged 0–6
    ks = ev["kenshin"].merge(m[["uid", "age"]], left_on="_uid", right_on="uid")
    ks = ks[(ks["due"] + pd.Timedelta(days=45) <= ref) & (ks["age"] <= 6)].sort_values(["due", "_uid"], kind="stable")
    att = ks["attended"].to_numpy() & (ks["date"] <= ref).to_numpy()
    out["kenko/kenshin.csv"] = pd.DataFrame({
        "宛名番号": allp.loc[ks["_uid"], "atena_no"].to_numpy(), "健診種別": ks["check"].to_numpy(),
        "受診状況": np.where(att, "受診", "未受診"), "受診日": np.where(att, ks["date"].to_numpy(), np.datetime64("NaT")),
        "所見": np.where(att, ks["finding"].to_numpy(), ""), "_uid": ks["_uid"].to_numpy()})

    # 予防接種: vaccines due by the reference date, children up to 12
    vc = ev["vaccine"].merge(m[["uid", "age"]], left_on="_uid", right_on="uid")
    vc = vc[(vc["due"] + pd.Timedelta(days=60) <= ref) & (vc["age"] <= 12)].sort_values(["_uid", "due"], kind="stable")
    done = vc["done"].to_numpy() & ((vc["due"] + pd.to_timedelta(vc["lag"], unit="D")) <= ref).to_numpy()
    out["kenko/yobosesshu.csv"] = pd.DataFrame({
        "宛名番号": allp.loc[vc["_uid"], "atena_no"].to_numpy(), "ワクチン": vc["vaccine"].to_numpy(),
        "接種状況": np.where(done, "済", "未"), "_uid": vc["_uid"].to_numpy()})

    # 妊娠届出: notified by the reference date; child linked once born
    nn = ev["ninshin"]
    nn = nn[(nn["date"] <= ref) & (nn["date"] > ref - pd.DateOffset(years=4)) & np.isin(nn["mother"], reg_uids)]
    nn = nn.sort_values("date", kind="stable")
    born = (nn["_child"] >= 0).to_numpy() & (nn["birth"] <= ref).to_numpy()
    child_atena = np.where(born, allp.reindex(nn["_child"].where(nn["_child"] >= 0, 0))["atena_no"].to_numpy(), -1)
    mbirth = allp.loc[nn["mother"], "birth"].to_numpy()
    out["kenko/ninshin.csv"] = pd.DataFrame({
        "母宛名番号": allp.loc[nn["mother"], "atena_no"].to_numpy(), "児童宛名番号": child_atena,
        "届出日": nn["date"].to_numpy(), "届出時妊娠週数": nn["weeks"].to_numpy(),
        "届出時母年齢": _age_at(mbirth, nn["date"].to_numpy()),
        "_uid": nn["mother"].to_numpy()})

    # 障害者手帳 (held by the reference date)
    tc = ev["techo"].merge(allp[["uid", "birth"]], left_on="_uid", right_on="uid")
    tc = tc[((tc["birth"] + pd.to_timedelta((tc["age_from"] * 365.25).round(), unit="D")) <= ref).to_numpy()
            & holds(tc["_uid"].to_numpy(), 0.5)].sort_values("_uid", kind="stable")
    out["shogai/techo.csv"] = pd.DataFrame({
        "宛名番号": allp.loc[tc["_uid"], "atena_no"].to_numpy(), "手帳種別": tc["kind"].to_numpy(),
        "等級": tc["grade"].to_numpy(), "_uid": tc["_uid"].to_numpy()})

    # 障害児通所支援
    js = ev["jidoshien"].merge(m[["uid", "birth", "grade", "age"]], left_on="_uid", right_on="uid")
    start = js["birth"] + pd.to_timedelta((js["start_age"] * 365.25).round(), unit="D")
    js = js[(start <= ref).to_numpy() & (js["age"] <= 17).to_numpy()].copy()
    js["start"] = start[js.index].dt.floor("D")
    svc = np.where(js["grade"] >= 1, "放課後等デイサービス", np.where(js["visit"], "保育所等訪問支援", "児童発達支援"))
    out["shogai/jidoshien.csv"] = pd.DataFrame({
        "児童宛名番号": allp.loc[js["_uid"], "atena_no"].to_numpy(),
        "サービス種別": svc, "支給開始日": js["start"].to_numpy(), "_uid": js["_uid"].to_numpy()})

    out.update(_school_records(city, tl, fy, m, allp, rng, out))
    return out


def _age_at(birth: np.ndarray, day: np.ndarray) -> np.ndarray:
    b = pd.to_datetime(pd.Series(birth))
    d = pd.to_datetime(pd.Series(day))
    return ((d.dt.year * 10000 + d.dt.month * 100 + d.dt.day) - (b.dt.year * 10000 + b.dt.month * 100 + b.dt.day)).to_numpy() // 10000


STALE_ADDRESS = 0.6   # a school still holds the old address of a pupil whose family moved within the city last year


STAYS_AT_OLD_SCHOOL = 0.7  # after a move within the city, the share of pupils who finish the year at their old school


def _recent_movers(city: City, pupils: pd.DataFrame, fy: int) -> tuple[np.ndarray, np.ndarray]:
    """(household index, moved within the city in the 12 months before the reference date) per pupil."""
    ref = pd.Timestamp(city.ref_dates[fy])
    hh = city.households
    h = pupils["hh"].to_numpy()
    known = (pupils["uid"].to_numpy() < OUTSIDE_UID) & (h >= 0) & (h < len(hh))  # children registered elsewhere: no move
    hidx = np.where(known, h, 0)
    moved_on = pd.to_datetime(hh["moved_on"]).to_numpy()[hidx]
    recent = known & ~pd.isna(moved_on) & (moved_on <= ref.to_datetime64()) & (moved_on > (ref - pd.DateOffset(years=1)).to_datetime64())
    return hidx, recent


def _old_district(city: City, pupils: pd.DataFrame, fy: int) -> pd.Series:
    """The school of the district a recently moved pupil lived in before (missing for everyone else)."""
    hidx, recent = _recent_movers(city, pupils, fy)
    hh = city.households
    old = np.where(pupils["grade"].to_numpy() <= 6, hh["elementary"].to_numpy()[hidx], hh["junior_high"].to_numpy()[hidx])
    return pd.Series(np.where(recent, old, None), index=pupils.index)


def _school_address_of(city: City, pupils: pd.DataFrame, fy: int) -> pd.Series:
    """The address the school holds: the registry's, except that after a move within the city in the last 12 months
    the school often still has the old one (it updates addresses when told, or at the start of the school year)."""
    hh = city.households
    hidx, recent = _recent_movers(city, pupils, fy)
    stale = recent & (np.random.default_rng([city.seed, fy, 17]).random(len(pupils)) < STALE_ADDRESS)
    return pd.Series(np.where(stale, hh["address"].to_numpy()[hidx], pupils["address"].to_numpy()), index=pupils.index)


def _absence(city: City, p: pd.DataFrame, school_year: int) -> pd.DataFrame:
    """Full-year and April–August absence of each person for a school year (drawn from a per-year seed)."""
    rng = np.random.default_rng([city.seed, school_year, 7])
    n = len(p)
    ref = p[f"refusal_{school_year}"].to_numpy() if f"refusal_{school_year}" in p else np.zeros(n, bool)
    ng = p["neglect_risk"].to_numpy()
    ill = rng.negative_binomial(2, 0.4, n)
    long_ill = rng.random(n) < 0.004
    ill = ill + np.where(long_ill, rng.integers(25, 80, n), 0)
    other = np.where(
        ref, 30 + np.minimum(rng.gamma(1.3, 40, n), 160).astype(int),
        np.minimum(np.where(rng.random(n) < 0.15, rng.poisson(6 + 6 * ng), rng.poisson(1 + 2 * ng)), 29))
    # April–August share of each (about 40% of the school days)
    ill_part = rng.binomial(ill, 0.4)
    other_part = rng.binomial(other, 0.4)
    return pd.DataFrame({"full": ill + other, "full_ill": ill, "part": ill_part + other_part}, index=p.index)


def _school_records(city: City, tl: Timeline, fy: int, m: pd.DataFrame, allp: pd.DataFrame,
                    rng: np.random.Generator, admin: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """School-network files (no 宛名番号), 就学援助, and the lifestyle survey (FY2025 on)."""
    out: dict[str, pd.DataFrame] = {}
    p = city.persons
    pupils = m[(m["role"] == "child") & m["grade"].between(1, 9) & m["public_school"]].copy()
    # a few pupils registered elsewhere (not on the registry extract) attend the city's schools
    oc = tl.outside[tl.outside["role"] == "child"].copy()
    oc["grade"] = grade_in(oc["birth"].to_numpy(), fy)
    oc = oc[oc["grade"].between(1, 9)]
    for c in ("low_income", "neglect_risk", "developmental_disability", "seiho", "single_parent", "refusal"):
        oc[c] = False
    oc["town_school"] = True
    pupils = pd.concat([pupils, oc], ignore_index=True)
    pupils["school"] = np.where(pupils["grade"] <= 6, pupils["elementary"], pupils["junior_high"])
    # 3% attend a school outside their district (指定校変更・区域外就学)
    other = rng.random(len(pupils)) < 0.03
    elem, jhs = np.unique(city.schools["elementary"]), np.unique(city.schools["junior_high"])
    alt = np.where(pupils["grade"] <= 6, elem[rng.integers(0, len(elem), len(pupils))], jhs[rng.integers(0, len(jhs), len(pupils))])
    pupils["school"] = np.where(other, alt, pupils["school"])
    # a pupil whose family moved within the city in the last 12 months mostly stays at the old school this year
    # (区域外就学 until the year ends); drawn from its own stream so that the draws above stay as they were
    old = _old_district(city, pupils, fy)
    stays = old.notna().to_numpy() & (np.random.default_rng([city.seed, fy, 19]).random(len(pupils)) < STAYS_AT_OLD_SCHOOL)
    pupils["school"] = np.where(stays & ~other, old.to_numpy(), pupils["school"])
    pupils["学年"] = pupils["grade"].map(GRADE_LABEL)
    # classes of up to 35 per school and grade; 出席番号 in kana order within the class
    pupils["_r"] = rng.random(len(pupils))
    pupils = pupils.sort_values(["school", "grade", "_r"], kind="stable")
    size = pupils.groupby(["school", "grade"])["uid"].transform("size")
    pos = pupils.groupby(["school", "grade"]).cumcount()
    n_cls = np.ceil(size / 35).astype(int)
    pupils["組"] = (pos % n_cls + 1).astype(int)
    pupils["_kana"] = pupils["family_kana"].astype(str) + pupils["given_kana"].astype(str)
    pupils = pupils.sort_values(["school", "grade", "組", "_kana", "uid"], kind="stable")
    pupils["出席番号"] = pupils.groupby(["school", "grade", "組"]).cumcount() + 1
    pupils = pupils.reset_index(drop=True)

    # the school network's own record of each pupil (with its typos) is shared by its files
    pp = p.set_index("uid")
    idx = pupils["uid"]
    state_cols = [c for c in p.columns if c.startswith("refusal_")] + ["neglect_risk", "developmental_disability", "low_income"]
    with pd.option_context("future.no_silent_downcasting", True):  # cast to bool right after, as before
        st = pp.reindex(idx)[state_cols].fillna(False).astype(bool).reset_index(drop=True)
    prev = _absence(city, st, fy - 1)
    cur = _absence(city, st, fy)
    first_grade = (pupils["grade"] == 1).to_numpy()
    ng, dev = st["neglect_risk"].to_numpy(), st["developmental_disability"].to_numpy()
    refusal_now = st.get(f"refusal_{fy}", pd.Series(False, index=st.index)).to_numpy()
    lam = 0.8 * (1 + 4 * ng + 7 * refusal_now + 1.5 * dev)
    base = pd.DataFrame({
        "学校名": pupils["school"], "学年": pupils["学年"], "組": pupils["組"].astype(str), "出席番号": pupils["出席番号"],
        "_family": pupils["family"], "_given": pupils["given"], "_family_kana": pupils["family_kana"],
        "_given_kana": pupils["given_kana"], "生年月日": pupils["birth"],
        "性別": np.where(pupils["sex"] == 1, "男", "女"), "_uid": pupils["uid"], "_script": pupils["script"],
    })
    out["gakko/shusseki.csv"] = base.assign(**{
        "住所": "別府市" + _school_address_of(city, pupils, fy).astype(str),
        "前年度欠席日数": np.where(first_grade, -1, prev["full"].to_numpy()),
        "前年度うち病気欠席": np.where(first_grade, -1, prev["full_ill"].to_numpy()),
        "当年度欠席日数": cur["part"].to_numpy(),
        "当年度遅刻回数": rng.poisson(lam), "当年度早退回数": rng.poisson(lam * 0.6),
    })
    visits = np.where(rng.random(len(base)) < 0.42 + 0.3 * (ng | refusal_now | dev),
                      1 + rng.negative_binomial(1, 1 / (1 + 2.5 * (1 + 2 * ng + 3 * refusal_now + dev)), len(base)), 0)
    out["gakko/hokenshitsu.csv"] = base.assign(来室回数=visits)[visits > 0].reset_index(drop=True)

    # 就学援助 (fixed eligibility; 要保護 where the household is on active 生活保護)
    with pd.option_context("future.no_silent_downcasting", True):  # cast to bool right after, as before
        eligible = tl.events["enjo_eligible"].set_index("_uid")["eligible"].reindex(pupils["uid"]).fillna(False).to_numpy(bool)
    seiho_atena = set(admin["hitokurashi/seiho.csv"].loc[admin["hitokurashi/seiho.csv"]["保護廃止日"].isna(), "世帯員宛名番号"])
    on_seiho = np.isin(pupils["atena_no"].fillna(-1).astype(np.int64).to_numpy(), list(seiho_atena))
    enjo = (eligible | on_seiho) & pupils["atena_no"].notna().to_numpy()
    lunch_covered = enjo
    li = st["low_income"].to_numpy()
    p_minou = np.where(lunch_covered, 0.002, 0.006 + 0.12 * li + 0.05 * ng)
    minou = rng.random(len(base)) < p_minou
    out["gakko/kyushoku_minou.csv"] = base[minou].drop(columns=["組", "出席番号", "性別"]).assign(
        未納月数=rng.integers(1, 7, int(minou.sum()))).reset_index(drop=True)

    tk = dev & (rng.random(len(base)) < 0.6)
    kinds = np.array(["知的障害", "自閉症・情緒障害", "肢体不自由", "難聴", "弱視", "病弱・身体虚弱", "言語障害"])
    out["gakko/tokushi.csv"] = base[tk].drop(columns=["組", "出席番号"]).assign(
        学級種別=kinds[_pick(rng, np.array([0.38, 0.52, 0.03, 0.01, 0.005, 0.035, 0.02]), int(tk.sum()))]
    ).reset_index(drop=True)

    # parent's 宛名番号 (世帯主 or mother), child named only
    heads = m[m["続柄"] == "世帯主"].drop_duplicates("hh").set_index("hh")["atena_no"]
    mothers = m[m["role"] == "mother"].drop_duplicates("hh").set_index("hh")["atena_no"]
    e = pupils[enjo].copy()
    par = np.where(rng.random(len(e)) < 0.5, mothers.reindex(e["hh"]).to_numpy(), heads.reindex(e["hh"]).to_numpy())
    par = np.where(pd.isna(par), heads.reindex(e["hh"]).to_numpy(), par)
    if pd.isna(par).any():  # pragma: no cover - every household has a head
        raise AssertionError("就学援助: a pupil without a parent on the registry")
    out["gakko/shugaku_enjo.csv"] = pd.DataFrame({
        "保護者宛名番号": par.astype(np.int64), "_family": e["family"].to_numpy(), "_given": e["given"].to_numpy(),
        "_family_kana": e["family_kana"].to_numpy(), "_given_kana": e["given_kana"].to_numpy(),
        "生年月日": e["birth"].to_numpy(), "区分": np.where(on_seiho[enjo], "要保護", "準要保護"),
        "_uid": e["uid"].to_numpy(), "_script": e["script"].to_numpy(),
    }).sort_values("保護者宛名番号", kind="stable").reset_index(drop=True)

    # recorded difficulties of each pupil, as the pipeline will see them (for the survey's planted effects)
    atena = pupils["atena_no"].fillna(-1).astype(np.int64).to_numpy()
    jf = admin["kosodate/jido_fuyo.csv"]
    b02 = np.isin(atena, jf.loc[jf["支給区分"].isin(["全部支給", "一部支給"]), "対象児童宛名番号"].to_numpy())
    pov = on_seiho | b02 | enjo
    sh = out["gakko/shusseki.csv"]
    prev_nonill = (sh["前年度欠席日数"] - sh["前年度うち病気欠席"]).to_numpy()
    refusal_rec = (prev_nonill >= 30) | (sh["当年度欠席日数"].to_numpy() >= 10)
    out["_pupils"] = pd.DataFrame({"_uid": pupils["uid"], "grade": pupils["grade"], "sex": pupils["sex"],
                                   "poverty": pov, "refusal": refusal_rec, "enjo": enjo})
    if fy >= 2025:
        out["survey/seikatsu.csv"] = _survey(base, pupils, pov, refusal_rec, rng)
    out["hearing/staff.csv"] = _hearing(fy, rng)
    return out


# Planted effects of the lifestyle survey: (question, answers that make the item, driving outcome, odds ratio,
# baseline probability at grade 6.5, change in log-odds per grade).
SURVEY_ITEMS = {
    "breakfast_skipping": ("Q1_朝食", (3, 4), "poverty", 2.7, 0.045, 0.10),
    "late_bedtime": ("Q2_就寝時刻", (4,), "refusal", 3.0, 0.10, 0.30),
    "long_screen_time": ("Q3_スクリーン時間", (4,), "refusal", 2.5, 0.15, 0.15),
    "no_home_study": ("Q4_家庭学習", (1,), "poverty", 2.0, 0.08, 0.05),
    "nobody_to_talk_to": ("Q5_相談相手", (2,), "refusal", 2.2, 0.07, 0.05),
    "school_not_enjoyable": ("Q6_学校が楽しい", (3, 4), "refusal", 6.0, 0.12, 0.08),
    "low_self_esteem": ("Q7_自分には良いところがある", (3, 4), None, 1.0, 0.22, 0.10),
    "rarely_family_dinner": ("Q8_家族と夕食", (4,), "poverty", 2.0, 0.04, 0.10),
    "daily_family_care": ("Q9_家の手伝い・世話", (3,), "poverty", 3.0, 0.03, 0.0),
}
QUESTION_LEVELS = {"Q1_朝食": 4, "Q2_就寝時刻": 4, "Q3_スクリーン時間": 4, "Q4_家庭学習": 4, "Q5_相談相手": 2,
                   "Q6_学校が楽しい": 4, "Q7_自分には良いところがある": 4, "Q8_家族と夕食": 4, "Q9_家の手伝い・世話": 3}


def _survey(base: pd.DataFrame, pupils: pd.DataFrame, pov: np.ndarray, refusal: np.ndarray,
            rng: np.random.Generator) -> pd.DataFrame:
    """Lifestyle survey of pupils 小4–中3: each item drawn from a logistic model with a planted odds ratio."""
    g = pupils["grade"].to_numpy()
    take = (g >= 4) & (rng.random(len(base)) < np.where(refusal, 0.45, 0.9))
    s = base[take].reset_index(drop=True).copy()
    gs, d_pov, d_ref = g[take], pov[take], refusal[take]
    girl = (s["性別"] == "女").to_numpy()
    for _item, (q, yes, outcome, odds, p0, slope) in SURVEY_ITEMS.items():
        d = d_pov if outcome == "poverty" else d_ref if outcome == "refusal" else np.zeros(len(s), bool)
        logit = np.log(p0 / (1 - p0)) + slope * (gs - 6.5) + 0.1 * girl + np.log(odds) * d
        item = rng.random(len(s)) < 1 / (1 + np.exp(-logit))
        levels = QUESTION_LEVELS[q]
        no = [v for v in range(1, levels + 1) if v not in yes]
        if q == "Q1_朝食":
            # 毎日食べる among non-skippers: 69% vs 84% eat daily overall (low income vs others)
            daily = rng.random(len(s)) < np.where(d_pov, 0.74, 0.905)
            ans = np.where(item, np.where(rng.random(len(s)) < 0.7, 3, 4), np.where(daily, 1, 2))
        else:
            ans = np.where(item, np.array(yes)[rng.integers(0, len(yes), len(s))], np.array(no)[rng.integers(0, len(no), len(s))])
        s[q] = ans.astype(object)
    # blank or out-of-range answers (missing values, not errors)
    for q in QUESTION_LEVELS:
        r = rng.random(len(s))
        s.loc[r < 0.012, q] = ""
        s.loc[(r >= 0.012) & (r < 0.015), q] = np.array(["5", "9", "0"])[rng.integers(0, 3, int(((r >= 0.012) & (r < 0.015)).sum()))]
    return s


HEARING_COMMENTS = {
    "情報共有": ["学校と市で情報を共有できるようになった", "関係課との連携がスムーズになった", "情報共有の場が増えて助かった"],
    "早期発見": ["支援が必要な子どもに早く気づけた", "これまで見えなかった家庭の状況が分かった", "早期に声をかけることができた"],
    "業務負担": ["データの準備に時間がかかり負担が大きい", "アセスメントシートの作成が大変だった", "会議の回数が多く負担に感じる"],
    "データ活用": ["データで客観的に判断できる", "抽出された項目が参考になった", "データだけでは分からないこともある"],
    "個人情報": ["個人情報の扱いに不安がある", "情報の取り扱いルールを明確にしてほしい"],
    "支援体制": ["支援につなぐ先が少ない", "継続した見守りの仕組みが必要", "スクールソーシャルワーカーとの連携を強めたい"],
}


def _hearing(fy: int, rng: np.random.Generator) -> pd.DataFrame:
    """Staff hearing: Likert answers (views improving year on year) and free comments."""
    n_city, n_school = int(rng.integers(14, 20)), int(rng.integers(22, 32))
    shift = 0.35 * (fy - 2024)
    rows = []
    for who, n in (("市職員", n_city), ("教職員", n_school)):
        for _ in range(n):
            def lik(mu: float) -> int:
                return int(np.clip(np.round(rng.normal(mu, 0.9)), 1, 5))
            themes = list(HEARING_COMMENTS)
            th = themes[int(rng.integers(0, len(themes)))]
            c = HEARING_COMMENTS[th]
            comment = c[int(rng.integers(0, len(c)))] if rng.random() < 0.8 else ""
            rows.append({"所属区分": who, "Q1_対象者認識の一致": lik(3.0 + shift), "Q2_こども理解の深まり": lik(3.3 + shift),
                         "Q3_データの有用性": lik(3.4 + shift * 0.8), "Q4_業務負担": lik(3.6 - shift * 0.5),
                         "自由記述": comment, "_uid": -1})
    return pd.DataFrame(rows)


def planted_effects() -> pd.DataFrame:
    """The survey's planted odds ratios (item × outcome; 1.0 where the item depends on neither)."""
    rows = []
    for item, (q, yes, outcome, odds, _p0, _slope) in SURVEY_ITEMS.items():
        for o in ("poverty", "refusal"):
            rows.append({"item": item, "question": q, "answers": "・".join(map(str, yes)), "outcome": o,
                         "planted_odds_ratio": odds if o == outcome else (1.0 if outcome is None else np.nan),
                         "direct": o == outcome or outcome is None})
    return pd.DataFrame(rows)


__all__ = ["Timeline", "build_timeline", "year_records", "planted_effects"]

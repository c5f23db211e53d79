"""The synthetic city's people: households, members, names, addresses, moves and latent states.

Everything here is the *truth*: what the departments' systems would know if they were perfect. What they
actually export (formats, quirks, typos, broken rows) is made from it in :mod:`records` and :mod:`exports`.
Rates and their published sources are listed in ``mimamori_lib/synth/README.md``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)
DATA = Path(__file__).resolve().parent / "data"

# --- calibration targets (see README.md for sources) -------------------------------------------------
CHILD_POVERTY = 0.115            # relative poverty among children
POVERTY_SINGLE_ADULT = 0.445     # in single-adult (one parent) households
SEIHO_CHILD_RATE = 0.012         # children in households on 生活保護
YOTAIKYO_CHILD_RATE = 0.014      # children on the 要対協 register (要保護 + 要支援), open
FOREIGN_SHARE = 0.02             # foreign-resident households
TWIN_BIRTH_RATE = 0.025          # per later-born child: gives twins in about 1% of deliveries (2% of children)
HOUSEHOLD_TYPES = {              # share of households with children
    "two_parent": 0.845, "single_mother": 0.105, "single_father": 0.015, "grandparents": 0.035,
}
KIDS_PER_HOUSEHOLD = {1: 0.38, 2: 0.40, 3: 0.18, 4: 0.04}
THREE_GENERATION = 0.08          # two-parent or single-parent households living with grandparents
MOVE_OUT = 0.03                  # households leaving the city per year
MOVE_IN = 0.03                   # households arriving per year (share of households)
MOVE_WITHIN = 0.045              # households moving within the city per year


@dataclass
class City:
    """All people of the synthetic city across the years generated."""

    seed: int
    years: list[int]
    ref_dates: dict[int, dt.date]
    households: pd.DataFrame
    persons: pd.DataFrame
    schools: pd.DataFrame
    extra: dict = field(default_factory=dict)


def reference_date(fy: int, month: int = 9, day: int = 1) -> dt.date:
    """The fiscal year's 基準日 (default 1 September of the fiscal year)."""
    return dt.date(fy, month, day)


def ymd(d: np.ndarray) -> np.ndarray:
    """datetime64[D] → int YYYYMMDD (NaT → 0)."""
    s = pd.to_datetime(pd.Series(d))
    out = (s.dt.year * 10000 + s.dt.month * 100 + s.dt.day).fillna(0).astype(np.int64)
    return out.to_numpy()


def age_on(birth: np.ndarray, day: dt.date) -> np.ndarray:
    """Completed years of age on ``day`` (vectorised over datetime64 births)."""
    d = day.year * 10000 + day.month * 100 + day.day
    return (d - ymd(birth)) // 10000


def school_cohort(birth: np.ndarray) -> np.ndarray:
    """The calendar year whose April 2 – April 1 window holds the birth (Japanese school cohort)."""
    b = ymd(birth)
    year, md = b // 10000, b % 10000
    return np.where(md >= 402, year, year - 1)


def grade_in(birth: np.ndarray, fy: int) -> np.ndarray:
    """School grade in fiscal year ``fy``: 1–6 elementary, 7–9 junior high, else outside compulsory school."""
    return fy - school_cohort(birth) - 6


@cache
def name_pools() -> dict[str, pd.DataFrame]:
    """The name pools (kanji, kana, Zipf-like weights by rank)."""
    sur = pd.read_csv(DATA / "surnames.csv", dtype=str)
    sur["w"] = 1.0 / (np.arange(len(sur)) + 4.0) ** 1.05
    given = pd.read_csv(DATA / "given_names.csv", dtype=str)
    given["w"] = 0.0
    for _, idx in given.groupby(["sex", "generation"]).groups.items():
        given.loc[idx, "w"] = 1.0 / (np.arange(len(idx)) + 6.0) ** 0.9
    foreign = pd.read_csv(DATA / "foreign_names.csv", dtype=str)
    towns = pd.read_csv(DATA / "towns.csv", dtype={"chome": int, "weight": float})
    return {"surnames": sur, "given": given, "foreign": foreign, "towns": towns}


def _pick(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(p), size=n, p=p / p.sum())


def _days(years: np.ndarray | float) -> np.ndarray:
    return np.round(np.asarray(years) * 365.25).astype("timedelta64[D]")


def _unique_ids(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    """``n`` distinct random integers in [low, high), in random order."""
    out = np.empty(0, dtype=np.int64)
    while len(out) < n:
        more = rng.integers(low, high, size=int((n - len(out)) * 1.1) + 16)
        out = np.unique(np.concatenate([out, more]))
    out = out[:n] if len(out) == n else rng.choice(out, size=n, replace=False)
    return rng.permutation(out)


def build_city(children: int, seed: int, years: list[int]) -> City:
    """Generate households and people so that ``children`` children aged 0–18 live in the city on the
    first year's reference date; later years follow the same people, a year older, with moves and births."""
    rng = np.random.default_rng(seed)
    years = sorted(years)
    refs = {y: reference_date(y) for y in years}
    first, last = refs[years[0]], refs[years[-1]]
    pools = name_pools()

    # Oversample households, then keep a prefix holding exactly the requested number of children.
    n_h = int(children / 1.55 * 1.25) + 50
    hh = pd.DataFrame({"hh": np.arange(n_h)})
    types = list(HOUSEHOLD_TYPES)
    hh["type"] = np.array(types)[_pick(rng, np.array(list(HOUSEHOLD_TYPES.values())), n_h)]
    hh["n_kids"] = np.array(list(KIDS_PER_HOUSEHOLD))[_pick(rng, np.array(list(KIDS_PER_HOUSEHOLD.values())), n_h)]
    hh["three_gen"] = (hh["type"] != "grandparents") & (rng.random(n_h) < THREE_GENERATION)
    hh["foreign"] = rng.random(n_h) < FOREIGN_SHARE
    # households arriving between the first and last reference dates are the newcomers of later years
    span_days = (last - first).days
    newcomer = rng.random(n_h) < MOVE_IN * max(len(years) - 1, 0) / (1 + MOVE_IN)
    hh["arrive"] = np.where(
        newcomer,
        np.datetime64(first) + rng.integers(1, max(span_days, 2), n_h).astype("timedelta64[D]"),
        np.datetime64("NaT"),
    )

    # first child's birth date: spread over 24 years before the last reference date, more in the past
    # (births fall year on year)
    u = rng.random(n_h) ** 0.85
    t0 = np.datetime64(last) - _days(u * 24.0)
    gaps = 1.0 + rng.gamma(2.0, 0.9, size=(n_h, 4))
    twin = rng.random((n_h, 4)) < TWIN_BIRTH_RATE
    kid_births = np.empty((n_h, 4), dtype="datetime64[D]")
    kid_births[:, 0] = t0
    for k in range(1, 4):
        step = np.where(twin[:, k - 1], 0.0, gaps[:, k])
        kid_births[:, k] = kid_births[:, k - 1] + _days(step)
    # the twin's partner gets the same birth date; twin flag marks kid k being a twin of kid k-1
    mother_age_first = np.clip(rng.normal(30.5, 4.8, n_h), 16.5, 44.0)
    teen = mother_age_first < 20
    mother_age_first[teen & (rng.random(n_h) < 0.6)] += 6.0
    mother_birth = t0 - _days(mother_age_first)
    father_birth = mother_birth - _days(np.clip(rng.normal(2.0, 3.0, n_h), -5, 15))
    grand_birth = mother_birth - _days(np.clip(rng.normal(28.0, 3.5, n_h), 18, 40))

    # --- members -------------------------------------------------------------------------------------
    rows = []
    for k in range(4):
        has = (hh["n_kids"].to_numpy() > k) & (kid_births[:, k] <= np.datetime64(last))
        rows.append(pd.DataFrame({
            "hh": hh["hh"][has], "role": "child", "birth": kid_births[has, k],
            "kid_index": k, "twin_of_prev": twin[has, k - 1] if k > 0 else False,
        }))
    t = hh["type"].to_numpy()
    mother = np.isin(t, ["two_parent", "single_mother"])
    father = np.isin(t, ["two_parent", "single_father"])
    grandparents = (t == "grandparents") | hh["three_gen"].to_numpy()
    rows.append(pd.DataFrame({"hh": hh["hh"][mother], "role": "mother", "birth": mother_birth[mother]}))
    rows.append(pd.DataFrame({"hh": hh["hh"][father], "role": "father", "birth": father_birth[father]}))
    gf = grandparents & (rng.random(n_h) < 0.6)
    gm = grandparents & ((rng.random(n_h) < 0.92) | ~gf)  # a household of grandparents has at least one
    rows.append(pd.DataFrame({"hh": hh["hh"][gm], "role": "grandmother", "birth": grand_birth[gm]}))
    rows.append(pd.DataFrame({
        "hh": hh["hh"][gf], "role": "grandfather", "birth": grand_birth[gf] - _days(rng.uniform(0, 4, gf.sum())),
    }))
    lodger = rng.random(n_h) < 0.004
    rows.append(pd.DataFrame({
        "hh": hh["hh"][lodger], "role": "lodger", "birth": mother_birth[lodger] - _days(rng.uniform(-8, 15, lodger.sum())),
    }))
    p = pd.concat(rows, ignore_index=True)
    p["kid_index"] = p["kid_index"].fillna(-1).astype(int)
    with pd.option_context("future.no_silent_downcasting", True):  # cast to bool right after, as before
        p["twin_of_prev"] = p["twin_of_prev"].fillna(False).astype(bool)
    p["birth"] = p["birth"].astype("datetime64[s]").dt.floor("D")

    # keep households with a child 0–18 in some year; then take the prefix with the requested count
    age_first = age_on(p["birth"].to_numpy(), first)
    present_first = hh["arrive"].isna().to_numpy()[p["hh"].to_numpy()]
    in_scope_first = (p["role"].to_numpy() == "child") & (age_first >= 0) & (age_first <= 18) & present_first
    per_hh = np.bincount(p["hh"].to_numpy(), weights=in_scope_first, minlength=n_h)
    any_child = np.zeros(n_h, dtype=bool)
    for y in years:
        a = age_on(p["birth"].to_numpy(), refs[y])
        ok = (p["role"].to_numpy() == "child") & (a >= 0) & (a <= 18)
        any_child[p["hh"].to_numpy()[ok]] = True
    keep = any_child.copy()
    cum = np.cumsum(np.where(keep, per_hh, 0))
    if cum[-1] < children:
        raise RuntimeError("household oversampling too small")  # pragma: no cover
    cutoff = int(np.searchsorted(cum, children)) + 1
    keep[cutoff:] = False
    hh = hh[keep].reset_index(drop=True)
    old_to_new = -np.ones(n_h, dtype=np.int64)
    old_to_new[keep] = np.arange(keep.sum())
    p = p[keep[p["hh"].to_numpy()]].copy()
    p["hh"] = old_to_new[p["hh"].to_numpy()]
    p = p.sort_values(["hh", "birth", "kid_index"], kind="stable").reset_index(drop=True)
    n_h = len(hh)

    # sex, names
    n_p = len(p)
    p["sex"] = np.where(p["role"].isin(["mother", "grandmother"]), 2,
                        np.where(p["role"].isin(["father", "grandfather"]), 1, rng.integers(1, 3, n_p)))
    # twins: keep random sexes; a share of twins are same-sex pairs (identical twins)
    p = _assign_names(p, hh, pools, rng)
    p["uid"] = np.arange(n_p)
    p["atena_no"] = _unique_ids(rng, n_p, 100_000, 99_999_999)
    hh["setai_no"] = _unique_ids(rng, n_h, 100_000, 9_999_999)

    # addresses and moves
    hh = _assign_addresses(hh, pools["towns"], rng, refs, years)
    hh = _assign_states(hh, p, rng, first)
    p = _child_states(p, hh, rng, refs, years)
    log.info("city built: %d households, %d persons", n_h, n_p)
    schools = pools["towns"][["elementary", "junior_high"]]
    return City(seed=seed, years=years, ref_dates=refs, households=hh, persons=p, schools=schools)


def _assign_names(p: pd.DataFrame, hh: pd.DataFrame, pools: dict, rng: np.random.Generator) -> pd.DataFrame:
    sur, given, foreign = pools["surnames"], pools["given"], pools["foreign"]
    n_h = len(hh)
    s_idx = _pick(rng, sur["w"].to_numpy(), n_h)
    hh_family = sur["kanji"].to_numpy()[s_idx]
    hh_family_kana = sur["kana"].to_numpy()[s_idx]
    # foreign households: family and given names from the foreign pool, written in its script
    f_idx = rng.integers(0, len(foreign), n_h)
    is_f = hh["foreign"].to_numpy()
    hh_family = np.where(is_f, foreign["family"].to_numpy()[f_idx], hh_family)
    hh_family_kana = np.where(is_f, foreign["family_kana"].to_numpy()[f_idx], hh_family_kana)
    hh_script = np.where(is_f, foreign["script"].to_numpy()[f_idx], "ja")
    p["family"] = hh_family[p["hh"].to_numpy()]
    p["family_kana"] = hh_family_kana[p["hh"].to_numpy()]
    p["script"] = hh_script[p["hh"].to_numpy()]
    p["foreign"] = is_f[p["hh"].to_numpy()]
    # a share of mothers in two-parent foreign or mixed households keep their own name: keep it simple
    year = pd.to_datetime(p["birth"]).dt.year.to_numpy()
    gen = np.where(year >= 2004, "child", np.where(year >= 1962, "parent", "grand"))
    gk = np.empty(len(p), dtype=object)
    gkana = np.empty(len(p), dtype=object)
    for (sex, g), grp in given.groupby(["sex", "generation"]):
        m = (p["sex"].to_numpy() == int(sex)) & (gen == g) & ~p["foreign"].to_numpy()
        if m.any():
            i = _pick(rng, grp["w"].to_numpy(), int(m.sum()))
            gk[m] = grp["kanji"].to_numpy()[i]
            gkana[m] = grp["kana"].to_numpy()[i]
    for sex in (1, 2):
        for script in ("romaji", "kanji", "katakana"):
            m = (p["sex"].to_numpy() == sex) & (p["script"].to_numpy() == script)
            cand = foreign[(foreign["sex"] == str(sex)) & (foreign["script"] == script)]
            if m.any():
                i = rng.integers(0, len(cand), int(m.sum()))
                gk[m] = cand["given"].to_numpy()[i]
                gkana[m] = cand["given_kana"].to_numpy()[i]
    p["given"] = gk
    p["given_kana"] = gkana
    # twins never share a given name (siblings rarely do; keep it impossible within a household)
    dup = p.duplicated(["hh", "given"]) & (p["role"] == "child")
    for i in np.flatnonzero(dup.to_numpy()):
        row = p.iloc[i]
        taken = set(p.loc[p["hh"] == row["hh"], "given"])
        if row["foreign"]:
            pool = foreign[(foreign["sex"] == str(row["sex"])) & (foreign["script"] == row["script"])]
            options = pool[~pool["given"].isin(taken)].rename(columns={"given": "kanji", "given_kana": "kana"})
        else:
            same = given[(given["sex"] == str(row["sex"])) & (given["generation"] == "child")]
            options = same[~same["kanji"].isin(taken)]
        if len(options):
            j = int(rng.integers(0, len(options)))
            p.iat[i, p.columns.get_loc("given")] = options["kanji"].iat[j]
            p.iat[i, p.columns.get_loc("given_kana")] = options["kana"].iat[j]
    return p


def _address_text(town: np.ndarray, chome: np.ndarray, ban: np.ndarray, go: np.ndarray) -> np.ndarray:
    return np.array([
        f"{t}{c}丁目{b}番{g}号" if c > 0 else f"{t}{b}番{g}号"
        for t, c, b, g in zip(town, chome, ban, go, strict=True)
    ], dtype=object)


def _draw_address(towns: pd.DataFrame, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    ti = _pick(rng, towns["weight"].to_numpy(), n)
    maxc = towns["chome"].to_numpy()[ti]
    chome = np.where(maxc > 0, rng.integers(1, np.maximum(maxc, 1) + 1), 0)
    ban = np.where(maxc > 0, rng.integers(1, 30, n), rng.integers(1, 2500, n))
    go = rng.integers(1, 40, n)
    building = rng.random(n) < 0.12
    room = rng.integers(1, 6, n) * 100 + rng.integers(1, 10, n)
    names = np.array(["コーポ", "メゾン", "ハイツ", "グランドール", "サンハイム"])[rng.integers(0, 5, n)]
    town = towns["town"].to_numpy()[ti]
    text = _address_text(town, chome, ban, go)
    text = np.where(building, [f"{a} {b}{t[:2]}{r}号室" for a, b, t, r in zip(text, names, town, room, strict=True)], text)
    return {"town": town, "chome": chome, "ban": ban, "go": go, "address": text,
            "elementary": towns["elementary"].to_numpy()[ti], "junior_high": towns["junior_high"].to_numpy()[ti]}


def _assign_addresses(hh: pd.DataFrame, towns: pd.DataFrame, rng: np.random.Generator,
                      refs: dict[int, dt.date], years: list[int]) -> pd.DataFrame:
    n = len(hh)
    first = refs[years[0]]
    a = _draw_address(towns, rng, n)
    for k, v in a.items():
        hh[k] = v
    # 住定日: lifelong residents since a random date; newcomers since arrival
    since = np.datetime64(first) - rng.integers(30, 365 * 15, n).astype("timedelta64[D]")
    hh["since"] = np.where(hh["arrive"].notna(), hh["arrive"].to_numpy(), since)
    # arrivals into the city (転入) in the past: most households none, mobile households several
    mobile = rng.random(n)
    n_arrivals = np.where(mobile < 0.80, 0, np.where(mobile < 0.95, 1, np.where(mobile < 0.99, 2, 3)))
    arrivals = []
    for i in range(n):
        k = int(n_arrivals[i])
        last_arrival = hh["since"].iat[i]
        dates = [last_arrival - np.timedelta64(int(d), "D") for d in np.sort(rng.integers(0, 365 * 6, k))]
        if pd.notna(hh["arrive"].iat[i]):
            dates = [hh["arrive"].iat[i]] + dates
        arrivals.append(sorted({np.datetime64(d, "D") for d in dates}))
    hh["arrivals"] = arrivals
    # moves between reference dates: out of the city, within it
    span = (refs[years[-1]] - first).days
    hh["leave"] = np.where(
        (rng.random(n) < MOVE_OUT * (len(years) - 1)) & hh["arrive"].isna(),
        np.datetime64(first) + rng.integers(1, max(span, 2), n).astype("timedelta64[D]"),
        np.datetime64("NaT"),
    )
    moved = (rng.random(n) < MOVE_WITHIN * (len(years) - 1)) & hh["leave"].isna() & hh["arrive"].isna()
    b = _draw_address(towns, rng, n)
    hh["moved_on"] = np.where(
        moved, np.datetime64(first) + rng.integers(1, max(span, 2), n).astype("timedelta64[D]"), np.datetime64("NaT"))
    for k, v in b.items():
        hh[f"new_{k}"] = np.where(moved, v, hh[k].to_numpy())
    for c in ("arrive", "leave", "since", "moved_on"):
        hh[c] = pd.to_datetime(hh[c]).astype("datetime64[s]")
    return hh


def _calibrate(base_weights: np.ndarray, mult: np.ndarray, target: float) -> float:
    """Scale so that the weighted mean of min(1, s·mult) equals ``target`` (bisection)."""
    lo, hi = 0.0, 1.0 / max(mult.min(), 1e-9)
    for _ in range(60):
        mid = (lo + hi) / 2
        if np.average(np.minimum(1, mid * mult), weights=base_weights) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _assign_states(hh: pd.DataFrame, p: pd.DataFrame, rng: np.random.Generator, first: dt.date) -> pd.DataFrame:
    """Household latent states, calibrated on child-weighted shares on the first reference date."""
    n = len(hh)
    a = age_on(p["birth"].to_numpy(), first)
    kids = ((p["role"] == "child").to_numpy() & (a >= 0) & (a <= 18))
    w = np.bincount(p["hh"].to_numpy(), weights=kids, minlength=n) + 1e-6
    single = hh["type"].isin(["single_mother", "single_father"]).to_numpy() & ~hh["three_gen"].to_numpy()
    hh["single_adult"] = single
    hh["single_parent"] = hh["type"].isin(["single_mother", "single_father"]).to_numpy()
    share_single = np.average(single, weights=w)
    p_other = (CHILD_POVERTY - share_single * POVERTY_SINGLE_ADULT) / (1 - share_single)
    p_other_hh = np.where(hh["type"].to_numpy() == "grandparents", p_other * 2.0, p_other)
    hh["low_income"] = rng.random(n) < np.where(single, POVERTY_SINGLE_ADULT, p_other_hh)
    li = hh["low_income"].to_numpy()
    hh["parental_disability"] = rng.random(n) < (0.035 + 0.05 * li)
    pdis = hh["parental_disability"].to_numpy()
    # 生活保護: within low-income households, more often single-adult or with a disabled parent
    mult = li * (1.0 + 1.3 * single + 1.5 * pdis)
    s = _calibrate(w, mult, SEIHO_CHILD_RATE)
    hh["seiho"] = rng.random(n) < np.minimum(1, s * mult)
    hh["seiho_start"] = (pd.Timestamp(first) - pd.to_timedelta(rng.integers(30, 365 * 8, n), unit="D")).floor("D")
    # neglect / child-rearing risk (drives 要対協, health-check no-shows, vaccinations, consultations)
    mult = 1.0 + 3.0 * li + 1.5 * single + 2.5 * pdis + 1.0 * hh["seiho"].to_numpy()
    s = _calibrate(w, mult, 0.03)
    hh["neglect_risk"] = rng.random(n) < np.minimum(1, s * mult)
    hh["vaccine_hesitant"] = rng.random(n) < 0.015
    return hh


def _child_states(p: pd.DataFrame, hh: pd.DataFrame, rng: np.random.Generator,
                  refs: dict[int, dt.date], years: list[int]) -> pd.DataFrame:
    """Per-child latent states; school refusal per school year (with persistence)."""
    n = len(p)
    h = p["hh"].to_numpy()
    is_child = (p["role"] == "child").to_numpy()
    for c in ("low_income", "single_parent", "single_adult", "parental_disability", "neglect_risk", "seiho"):
        p[c] = hh[c].to_numpy()[h] & is_child
    boy = p["sex"].to_numpy() == 1
    p["developmental_disability"] = is_child & (rng.random(n) < np.where(boy, 0.085, 0.04))
    # public-school attendance (others go to private or national schools and are not in the school files)
    p["public_school"] = is_child & (rng.random(n) < 0.965)
    # school refusal per school year, Markov chain with persistence, rates by school level
    li = p["low_income"].to_numpy()
    mult = (1.0 + 2.5 * li) * (1.0 + 0.6 * p["developmental_disability"].to_numpy()) * (
        1.0 + 0.8 * p["neglect_risk"].to_numpy())
    targets = {"elementary": 0.0208, "junior_high": 0.0641}  # so that 30+ non-illness days measure 2.1% and 6.7%
    base = {level: _calibrate(np.ones(int(is_child.sum())), mult[is_child], t) for level, t in targets.items()}
    stay = 0.65
    prev_state = np.zeros(n, dtype=bool)
    prev_p = np.zeros(n)
    for fy in range(years[0] - 2, years[-1] + 1):
        g = grade_in(p["birth"].to_numpy(), fy)
        in_school = is_child & (g >= 1) & (g <= 9)
        p_now = np.where(g >= 7, base["junior_high"], base["elementary"]) * mult
        p_now = np.minimum(p_now, 0.9)
        onset = np.clip((p_now - stay * prev_p) / np.maximum(1 - prev_p, 1e-9), 0, 1)
        prob = np.where(prev_state, stay, onset)
        state = in_school & (rng.random(n) < prob)
        p[f"refusal_{fy}"] = state
        prev_state, prev_p = state, np.where(in_school, p_now, 0.0)
    return p


def members_on(city: City, fy: int) -> pd.DataFrame:
    """Everyone on the resident registry extract of ``fy``: members of households present on the reference
    date that hold at least one child aged 0–18 on that date. Addresses are those valid on the date."""
    ref = pd.Timestamp(city.ref_dates[fy])
    hh = city.households
    present = (hh["arrive"].isna() | (hh["arrive"] <= ref)) & (hh["leave"].isna() | (hh["leave"] > ref))
    p = city.persons
    born = p["birth"] <= ref
    age = age_on(p["birth"].to_numpy(), city.ref_dates[fy])
    child_in_scope = (p["role"] == "child") & born & (age <= 18)
    with_child = np.bincount(p["hh"].to_numpy(), weights=child_in_scope.to_numpy(), minlength=len(hh)) > 0
    ok_hh = present.to_numpy() & with_child
    m = p[ok_hh[p["hh"].to_numpy()] & born.to_numpy()].copy()
    m["age"] = age_on(m["birth"].to_numpy(), city.ref_dates[fy])
    m["grade"] = grade_in(m["birth"].to_numpy(), fy)
    m["in_scope"] = (m["role"] == "child") & (m["age"] <= 18)
    moved = hh["moved_on"].notna() & (hh["moved_on"] <= ref)
    hcols = hh.loc[m["hh"].to_numpy()]
    mv = moved.to_numpy()[m["hh"].to_numpy()]
    for k in ("town", "chome", "ban", "go", "address", "elementary", "junior_high"):
        m[k] = np.where(mv, hcols[f"new_{k}"].to_numpy(), hcols[k].to_numpy())
    m["since"] = np.where(mv, hcols["moved_on"].to_numpy(), hcols["since"].to_numpy())
    m["since"] = np.maximum(pd.to_datetime(m["since"]).to_numpy(), m["birth"].to_numpy())
    lo = np.datetime64(ref - pd.DateOffset(years=5))
    m["arrivals_5y"] = [sum(1 for d in arr if lo <= d <= np.datetime64(ref)) for arr in hcols["arrivals"]]
    m["setai_no"] = hcols["setai_no"].to_numpy()
    m["refusal"] = m[f"refusal_{fy}"]
    return m.reset_index(drop=True)

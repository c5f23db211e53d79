"""名寄せ: link school-network records (no 宛名番号) to the resident registry with Splink, one-to-one.

Splink 5 on DuckDB (embedded; Spark selectable in params for very large runs). One Fellegi–Sunter model is
trained per year on the attendance file (it has every field), by EM on date-of-birth and full-name blocks —
never on address, which would learn "same household" — and applied to every school source. Japanese-specific
comparisons: names compared in kanji (variant kanji folded at ingestion) and katakana reading together, edit
distance on readings (Jaro–Winkler scores short kana too low), a date of birth with room for one typo, and
school-district consistency learnt from the exact matches. The "given names differ" level has a fixed, very
low m-probability so that twins and siblings (same surname, address, even birth date) are never merged.
Each source is linked one-to-one with Splink's single-best-links clustering; pairs above the upper threshold
link automatically, pairs in the band below go to a review queue for staff, whose decisions are applied on the
next run.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .ages import age_on
from .ingest import load_registry, read_identity, read_table, registry_path, role_source
from .params import Linkage as LinkageParams
from .params import Params
from .restricted import private_file

log = logging.getLogger(__name__)
REGISTRY = "a_registry"  # sorts first: Splink puts it on the left of every pair
RECORDS = "b_records"
COLUMNS = ["unique_id", "family_name", "given_name", "family_kana", "given_kana", "full_name", "full_kana",
           "birth_date", "birth_ym", "sex", "address", "town", "school", "district_elem", "district_jhs",
           "household_id"]
DECISION_YES, DECISION_NO = "一致", "不一致"
COMPARISON_LABELS = {"family_name": "姓", "given_name": "名", "birth_date": "生年月日", "sex": "性別", "address": "住所",
                     "school_district": "通学区域"}
# EM training blocks: birth date, then full reading. Never address: address blocks hold households, and EM
# would learn "same household" (siblings) instead of "same person".
# On the reading block Splink leaves the name comparisons alone (they use its columns) and trains the rest.
EM_BLOCKS = (("birth_date",), ("family_kana", "given_kana"))


# --- inputs ------------------------------------------------------------------------------------------

def _town(address: pd.Series) -> pd.Series:
    return address.fillna("").str.split(" ").str[0].str.extract(r"^(\D+)")[0]


def _common(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({
        "family_name": df["family_name"], "given_name": df["given_name"],
        "family_kana": df.get("family_kana"), "given_kana": df.get("given_kana"),
    })
    for c in out.columns:
        out[c] = out[c].astype("string").replace("", pd.NA)
    out["full_name"] = (out["family_name"].fillna("") + out["given_name"].fillna("")).replace("", pd.NA)
    out["full_kana"] = (out["family_kana"].fillna("") + out["given_kana"].fillna("")).replace("", pd.NA)
    bd = pd.to_datetime(df["birth_date"])
    out["birth_date"] = bd.dt.strftime("%Y-%m-%d").astype("string")
    out["birth_ym"] = bd.dt.strftime("%Y-%m").astype("string")
    out["sex"] = df["sex"].astype("string") if "sex" in df else pd.Series(pd.NA, index=df.index, dtype="string")
    addr = df["address"].astype("string") if "address" in df else pd.Series(pd.NA, index=df.index, dtype="string")
    out["address"] = addr.str.split(" ").str[0]
    out["town"] = _town(addr).astype("string")
    return out


def registry_side(ident: pd.DataFrame, p: Params) -> pd.DataFrame:
    """Registry children of school age (with a margin) as the left side of the linkage."""
    reg = ident[ident["source"] == registry_path(p)].copy()
    lo, hi = p.linkage.registry_age
    reg = reg[age_on(reg["birth_date"], p.reference_date).between(lo, hi)]
    out = _common(reg)
    out.insert(0, "unique_id", reg["person_id"].astype("string"))
    out["school"] = pd.NA
    out["household_id"] = reg["household_id"].astype("string")
    return out.reset_index(drop=True)


def record_side(ident: pd.DataFrame, source_path: str, registry_households: pd.Series) -> pd.DataFrame:
    """One school-network source's records (identity rows) as the right side of the linkage."""
    rec = ident[ident["source"] == source_path].copy()
    out = _common(rec)
    out.insert(0, "unique_id", rec["row"].astype(int).astype(str).astype("string"))
    out["school"] = rec["school"].astype("string") if "school" in rec else pd.NA
    # 就学援助: the parent's 宛名番号 points at the household to search first
    if "parent_person_id" in rec and rec["parent_person_id"].notna().any():
        out["household_id"] = rec["parent_person_id"].map(registry_households).astype("string")
    else:
        out["household_id"] = pd.NA
    return out.reset_index(drop=True)


def add_districts(registry: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """School district of each registry town, learnt from exact matches (name, reading and birth date)."""
    key = ["full_name", "full_kana", "birth_date"]
    r = registry.dropna(subset=key).drop_duplicates(key, keep=False)
    s = records.dropna(subset=key + ["school"]).drop_duplicates(key, keep=False)
    m = r.merge(s[key + ["school"]], on=key, suffixes=("", "_rec"))
    m = m.dropna(subset=["town"])
    out = registry.copy()
    for level, pat in (("district_elem", "小学校"), ("district_jhs", "中学校")):
        mm = m[m["school_rec"].str.contains(pat, na=False)]
        mode = mm.groupby("town")["school_rec"].agg(lambda x: x.value_counts().index[0]) if len(mm) else pd.Series(dtype=str)
        out[level] = out["town"].map(mode).astype("string")
    return out


# --- the model ---------------------------------------------------------------------------------------

def _levels_name(part: str, kana: str, fixed_else_m: float | None) -> list[dict]:
    """Kanji and reading compared together; edit distance on the reading."""
    else_level = {"sql_condition": "ELSE", "label_for_charts": "異なる"}
    if fixed_else_m is not None:
        else_level |= {"m_probability": fixed_else_m, "fix_m_probability": True}
    return [
        {"sql_condition": f"{part}_l IS NULL OR {part}_r IS NULL", "label_for_charts": "欠損", "is_null_level": True},
        {"sql_condition": f"{part}_l = {part}_r AND {kana}_l = {kana}_r", "label_for_charts": "漢字・読み一致",
         "tf_adjustment_column": part, "tf_adjustment_weight": 1.0, "disable_tf_exact_match_detection": True},
        {"sql_condition": f"{kana}_l = {kana}_r", "label_for_charts": "読み一致 (漢字違い)"},
        {"sql_condition": f"{part}_l = {part}_r", "label_for_charts": "漢字一致 (読み違い)"},
        {"sql_condition": f"levenshtein({kana}_l, {kana}_r) <= 1", "label_for_charts": "読み 1 文字違い"},
        else_level,
    ]


def model_settings(lk: LinkageParams, link_type: str = "link_only") -> dict:
    """Splink settings: comparisons, blocking rules for prediction, training settings."""
    twin_m = lk.different_given_name_m
    comparisons = [
        {"output_column_name": "family_name", "comparison_description": "姓 (漢字と読み)",
         "comparison_levels": _levels_name("family_name", "family_kana", None)},
        {"output_column_name": "given_name", "comparison_description": "名 (漢字と読み)",
         "comparison_levels": _levels_name("given_name", "given_kana", twin_m)},
        {"output_column_name": "birth_date", "comparison_description": "生年月日", "comparison_levels": [
            {"sql_condition": "birth_date_l IS NULL OR birth_date_r IS NULL", "label_for_charts": "欠損", "is_null_level": True},
            {"sql_condition": "birth_date_l = birth_date_r", "label_for_charts": "一致"},
            {"sql_condition": "levenshtein(birth_date_l, birth_date_r) <= 1 OR (substr(birth_date_l, 1, 4) = substr(birth_date_r, 1, 4)"
                              " AND substr(birth_date_l, 6, 2) = substr(birth_date_r, 9, 2)"
                              " AND substr(birth_date_l, 9, 2) = substr(birth_date_r, 6, 2))",
             "label_for_charts": "1 か所違い・月日入れ違い"},
            {"sql_condition": "birth_ym_l = birth_ym_r OR substr(birth_date_l, 1, 4) = substr(birth_date_r, 1, 4)",
             "label_for_charts": "年または年月一致"},
            {"sql_condition": "ELSE", "label_for_charts": "異なる"},
        ]},
        {"output_column_name": "sex", "comparison_description": "性別", "comparison_levels": [
            {"sql_condition": "sex_l IS NULL OR sex_r IS NULL", "label_for_charts": "欠損", "is_null_level": True},
            {"sql_condition": "sex_l = sex_r", "label_for_charts": "一致"},
            {"sql_condition": "ELSE", "label_for_charts": "異なる"},
        ]},
        {"output_column_name": "address", "comparison_description": "住所", "comparison_levels": [
            {"sql_condition": "address_l IS NULL OR address_r IS NULL", "label_for_charts": "欠損", "is_null_level": True},
            {"sql_condition": "address_l = address_r", "label_for_charts": "一致"},
            {"sql_condition": "town_l = town_r", "label_for_charts": "町名一致"},
            {"sql_condition": "ELSE", "label_for_charts": "異なる"},
        ]},
        {"output_column_name": "school_district", "comparison_description": "通学区域の整合", "comparison_levels": [
            {"sql_condition": "school_r IS NULL OR (district_elem_l IS NULL AND district_jhs_l IS NULL)",
             "label_for_charts": "欠損", "is_null_level": True},
            {"sql_condition": "school_r = district_elem_l OR school_r = district_jhs_l", "label_for_charts": "学区内"},
            # pupils may attend outside their district (指定校変更, a move mid-year): never let EM call it impossible
            {"sql_condition": "ELSE", "label_for_charts": "学区外",
             "m_probability": lk.out_of_district_m, "fix_m_probability": True},
        ]},
    ]
    return {
        "link_type": link_type,
        "unique_id_column_name": "unique_id",
        "comparisons": comparisons,
        "blocking_rules_to_generate_predictions": [{"blocking_rule": r} for r in lk.blocking_rules],
        "retain_intermediate_calculation_columns": True,
        "retain_matching_columns": True,
        "max_iterations": lk.em_max_iterations,
        "em_convergence": lk.em_convergence,
        "additional_columns_to_retain": [],
    }


def _db_api(lk: LinkageParams, backend: str | None = None):
    if (backend or lk.backend) == "spark":
        from pyspark.sql import SparkSession
        from splink import SparkAPI

        builder = SparkSession.builder.master(lk.spark.master).appName("mimamori")
        for k, v in {"spark.sql.shuffle.partitions": "8", "spark.ui.enabled": "false", **lk.spark.conf}.items():
            builder = builder.config(k, str(v))
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        spark.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="mimamori-spark-"))
        return SparkAPI(spark_session=spark), spark
    from splink import DuckDBAPI

    return DuckDBAPI(), None


def _register(api, spark, df: pd.DataFrame, name: str):
    df = df.reindex(columns=COLUMNS).astype("string")
    if spark is not None:
        from pyspark.sql.types import StringType, StructField, StructType

        schema = StructType([StructField(c, StringType(), True) for c in COLUMNS])
        rows = df.astype(object).where(df.notna(), None).values.tolist()
        return api.register(spark.createDataFrame(rows, schema=schema), dataset_display_name=name)
    return api.register(df, dataset_display_name=name)


@dataclass
class Training:
    model: dict
    em_iterations: list[int]
    em_rules: list[str]
    converged: bool
    seconds: float


def train(lk: LinkageParams, registry: pd.DataFrame, records: pd.DataFrame) -> Training:
    """Estimate u by random sampling and m by EM on birth-date and full-name blocks (never on address)."""
    from splink import Linker, block_on

    t0 = time.perf_counter()
    # training always runs on embedded DuckDB: EM on Spark can underflow an m-probability to exactly 0.0, which
    # Splink rejects; the trained model is then used unchanged by whichever backend predicts
    api, spark = _db_api(lk, backend="duckdb")
    s = model_settings(lk)
    linker = Linker([_register(api, spark, registry, REGISTRY), _register(api, spark, records, RECORDS)], s,
                    log_level=logging.ERROR)
    recall = lk.prior_recall
    linker.training.estimate_probability_two_random_records_match(
        [block_on("full_name", "birth_date"), block_on("full_kana", "birth_date")], recall=recall)
    linker.training.estimate_u_using_random_sampling(max_pairs=lk.u_max_pairs, seed=1)
    iterations, rules, retried = [], [], False
    max_pairs = lk.em_max_pairs
    for rule in EM_BLOCKS:
        try:
            session = linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(*rule), estimate_without_term_frequencies=True, max_pairs=max_pairs)
        except ValueError as e:
            # on small data EM can drive a level's m to exactly 0.0, which Splink refuses: retry with a short run
            log.warning("EM (%s) が停止しました (%s)。反復 5 回で学習し直します", " AND ".join(rule), str(e)[:60])
            full = linker._settings_obj.training_settings
            linker._settings_obj.training_settings = dataclasses.replace(full, max_iterations=5)
            retried = True
            try:
                session = linker.training.estimate_parameters_using_expectation_maximisation(
                    block_on(*rule), estimate_without_term_frequencies=True, max_pairs=max_pairs)
            except ValueError:
                log.warning("EM (%s) を省略します: この規模のデータでは推定できません (他のブロックの推定値を使います)",
                            " AND ".join(rule))
                linker._settings_obj.training_settings = full
                iterations.append(0)
                rules.append(" AND ".join(rule) + " (skipped)")
                continue
            linker._settings_obj.training_settings = full
        # Splink logs "converged" even when it stopped at the cap: count the iterations ourselves
        iterations.append(len(session._core_model_settings_history) - 1)
        rules.append(" AND ".join(rule))
    max_it = s["max_iterations"]
    converged = all(0 < i < max_it for i in iterations) and not retried
    if not any(iterations):
        raise RuntimeError("名寄せモデルの EM 学習がすべてのブロックで失敗しました (データが少なすぎる可能性があります)")
    if not converged:
        log.warning("EM が収束していません (上限 %d 回、または学習し直し・省略あり): %s", max_it, iterations)
    model = floor_m(linker.misc.save_model_to_json(), lk.m_floor)
    if spark is not None:
        spark.stop()
    return Training(model=model, em_iterations=iterations, em_rules=rules, converged=converged,
                    seconds=round(time.perf_counter() - t0, 2))


def floor_m(model: dict, floor: float) -> dict:
    """Raise trained m-probabilities below ``floor``: a level EM never saw among matches (a reading typo in the
    family name) must weigh against a match, not rule it out."""
    for c in model["comparisons"]:
        for lvl in c["comparison_levels"]:
            m = lvl.get("m_probability")
            if m is not None and not lvl.get("fix_m_probability") and m < floor:
                lvl["m_probability"] = floor
    return model


def predict(lk: LinkageParams, model: dict, registry: pd.DataFrame, records: pd.DataFrame, lower: float) -> pd.DataFrame:
    """Scored candidate pairs (registry person × record) at or above ``lower``, one-to-one flagged."""
    from splink import Linker

    api, spark = _db_api(lk)
    linker = Linker([_register(api, spark, registry, REGISTRY), _register(api, spark, records, RECORDS)], model,
                    log_level=logging.ERROR)
    pred = linker.inference.predict(threshold_match_probability=lower)
    best = linker.clustering.cluster_using_single_best_links(
        pred, duplicate_free_datasets=[REGISTRY, RECORDS], threshold_match_probability=lower, ties_method="drop")
    pairs = pred.as_pandas_dataframe()
    clusters = best.as_pandas_dataframe()
    if spark is not None:
        spark.stop()
    if pairs.empty:
        return pairs
    # orient: left = registry, right = record
    swap = pairs["source_dataset_l"] != REGISTRY
    for c in [c[:-2] for c in pairs.columns if c.endswith("_l") and c[:-2] + "_r" in pairs.columns]:
        left, right = pairs[c + "_l"].copy(), pairs[c + "_r"].copy()
        pairs.loc[swap, c + "_l"], pairs.loc[swap, c + "_r"] = right[swap], left[swap]
    reg_cluster = clusters[clusters["source_dataset"] == REGISTRY].set_index("unique_id")["cluster_id"]
    rec_cluster = clusters[clusters["source_dataset"] == RECORDS].set_index("unique_id")["cluster_id"]
    pairs["chosen"] = pairs["unique_id_l"].map(reg_cluster).to_numpy() == pairs["unique_id_r"].map(rec_cluster).to_numpy()
    return pairs


# --- decisions, one-to-one, outputs ------------------------------------------------------------------

def read_decisions(p: Params) -> pd.DataFrame:
    """Staff review decisions saved under ``<raw>/<fy>/linkage/review_decisions.csv`` (if any)."""
    f = p.raw_year / "linkage" / "review_decisions.csv"
    cols = ["source", "row", "atena_no", "判定"]
    if not f.exists():
        return pd.DataFrame(columns=cols)
    d = pd.read_csv(f, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    missing = [c for c in cols if c not in d.columns]
    if missing:
        log.error("確認結果ファイルに必要な列がありません: %s (%s)", "・".join(missing), f)
        return pd.DataFrame(columns=cols)
    d["row"] = pd.to_numeric(d["row"], errors="coerce").astype("Int64")
    d["atena_no"] = d["atena_no"].str.strip().str.zfill(10)
    bad = ~d["判定"].isin([DECISION_YES, DECISION_NO]) | d["row"].isna()
    if bad.any():
        log.warning("確認結果ファイルの %d 行は判定 (一致/不一致) または行番号が読めないため無視します: %s", int(bad.sum()), f)
    return d[~bad][cols]


def assign(pairs: pd.DataFrame, records: pd.DataFrame, source_path: str, upper: float, lower: float,
           decisions: pd.DataFrame, person_to_atena: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per record: linked person, probability and status; and the pairs that need review."""
    out = pd.DataFrame({"source": source_path, "row": records["unique_id"].astype(int).to_numpy()})
    out["person_id"] = pd.NA
    out["match_probability"] = np.nan
    out["status"] = "unmatched"
    review = pd.DataFrame()
    if len(pairs):
        pairs = pairs.copy()
        # twins and siblings: a wholly different given name (kanji, reading and spelling) is never the same child
        if "gamma_given_name" in pairs:
            pairs = pairs[pairs["gamma_given_name"] != 0]
        pairs["row"] = pairs["unique_id_r"].astype(int)
        pairs["atena_no"] = pairs["unique_id_l"].map(person_to_atena)
        dec = decisions[decisions["source"] == source_path]
        yes = dec[dec["判定"] == DECISION_YES].set_index("row")["atena_no"]
        no = set(zip(dec.loc[dec["判定"] == DECISION_NO, "row"].astype(int), dec.loc[dec["判定"] == DECISION_NO, "atena_no"],
                     strict=True))
        rejected = np.array([(r, a) in no for r, a in zip(pairs["row"], pairs["atena_no"], strict=True)], dtype=bool)
        pairs = pairs[~rejected]
        chosen = pairs[pairs["chosen"]].set_index("row")
        idx = out.set_index("row").index
        best = pairs.sort_values("match_probability", ascending=False).drop_duplicates("row").set_index("row")
        out["match_probability"] = best["match_probability"].reindex(idx).to_numpy()
        p_chosen = chosen["match_probability"].reindex(idx)
        auto = (p_chosen >= upper).to_numpy()
        out.loc[auto, "person_id"] = chosen["unique_id_l"].reindex(idx).to_numpy()[auto]
        out.loc[auto, "status"] = "auto"
        # records in the band, or whose best candidates tie: staff decide
        band = ~auto & out["match_probability"].notna().to_numpy() & (out["match_probability"] >= lower).to_numpy()
        out.loc[band, "status"] = "review"
        review = pairs[pairs["row"].isin(out.loc[band, "row"])].sort_values(["row", "match_probability"], ascending=[True, False])
        # decisions: a confirmed pair links, whatever the model said
        for r, atena in yes.items():
            cand = pairs[(pairs["row"] == r) & (pairs["atena_no"] == atena)]
            if len(cand):
                i = out.index[out["row"] == r]
                out.loc[i, "person_id"] = cand["unique_id_l"].iloc[0]
                out.loc[i, "status"] = "reviewed"
                out.loc[i, "match_probability"] = cand["match_probability"].iloc[0]
        review = review[~review["row"].isin(yes.index)]
    # one registry child per source: a reviewed link wins over an automatic one
    linked = out[out["person_id"].notna()].sort_values(["status", "match_probability"], ascending=[False, False])
    dup = linked.duplicated("person_id")
    out.loc[dup[dup].index, ["person_id", "status"]] = [pd.NA, "review"]
    return out, review


@dataclass
class LinkResult:
    links: pd.DataFrame
    review: pd.DataFrame
    training: Training
    rates: pd.DataFrame
    seconds: float
    sources: list[str] = field(default_factory=list)


def link_year(p: Params, write: bool = True) -> LinkResult:
    """Link every school-network source of the year; write links, the model and the review queue."""
    t0 = time.perf_counter()
    lk = p.linkage
    upper, lower = lk.auto_threshold, lk.review_threshold
    ident = read_identity(p)
    registry = registry_side(ident, p)
    reg_all = ident[ident["source"] == registry_path(p)]
    households = reg_all.set_index("person_id")["household_id"]
    person_to_atena = reg_all.set_index("person_id")["atena_no"]
    paths_ = {s: load_registry(p)[s]["path"] for s in lk.sources}
    _path = paths_.__getitem__
    sources = [s for s in paths_ if (ident["source"] == _path(s)).any()]
    recs = {s: record_side(ident, _path(s), households) for s in sources}
    train_on = lk.train_on or role_source(p, "attendance")
    train_on = train_on if train_on in recs else sources[0]
    registry = add_districts(registry, recs[train_on])
    log.info("名寄せモデルを学習中 (%s × 住基 %d 人) ...", train_on, len(registry))
    training = train(lk, registry, recs[train_on])
    decisions = read_decisions(p)
    links, reviews = [], []
    inherit = set(lk.inherit_from_train)
    base_links = None
    for s in sorted(sources, key=lambda x: x != train_on):
        t1 = time.perf_counter()
        rec, inherited = recs[s], None
        if s in inherit and base_links is not None:
            inherited = inherit_links(ident, _path(train_on), _path(s), base_links)
            rec = rec[~rec["unique_id"].astype(int).isin(inherited["row"])]
        pairs = predict(lk, training.model, registry, rec, lower) if len(rec) else pd.DataFrame()
        if inherited is not None and len(pairs):  # one-to-one: a child already linked through the school network
            pairs = pairs[~pairs["unique_id_l"].isin(inherited["person_id"])]
        lnk, rev = assign(pairs, rec, _path(s), upper, lower, decisions, person_to_atena)
        if inherited is not None:
            lnk = pd.concat([inherited, lnk], ignore_index=True).sort_values("row", ignore_index=True)
        if s == train_on:
            base_links = lnk
        links.append(lnk)
        if len(rev):
            reviews.append(rev.assign(source=_path(s)))
        log.info("  %-26s %6d 件: 自動 %d, 確認済 %d, 要確認 %d, 未連結 %d (%.1f 秒)", _path(s), len(lnk),
                 (lnk["status"] == "auto").sum(), (lnk["status"] == "reviewed").sum(), (lnk["status"] == "review").sum(),
                 (lnk["status"] == "unmatched").sum(), time.perf_counter() - t1)
    links_df = pd.concat(links, ignore_index=True)
    review_df = pd.concat(reviews, ignore_index=True) if reviews else pd.DataFrame()
    rates = link_rates(links_df)
    res = LinkResult(links_df, review_df, training, rates, 0.0, sources)
    if write:
        write_outputs(p, res, ident, person_to_atena)
    res.seconds = round(time.perf_counter() - t0, 2)
    return res


SCHOOL_KEY = ["school", "grade", "family_name", "given_name", "birth_date"]


def inherit_links(ident: pd.DataFrame, base_path: str, path: str, base_links: pd.DataFrame) -> pd.DataFrame:
    """Records of another school-network file that are, field for field, a pupil of the attendance file (the
    network's one master record: same school, grade, name and birth date, unique on both sides) take that
    pupil's link. The rest are linked by the model."""
    key = SCHOOL_KEY
    a = ident[ident["source"] == base_path][["row", *key]].dropna(subset=key)
    b = ident[ident["source"] == path][["row", *key]].dropna(subset=key)
    if a.empty or b.empty:
        return pd.DataFrame(columns=["source", "row", "person_id", "match_probability", "status"])
    a = a[~a.duplicated(key, keep=False)]
    b = b[~b.duplicated(key, keep=False)]
    m = b.merge(a, on=key, suffixes=("", "_base"))
    linked = base_links[base_links["status"].isin(["auto", "reviewed"])].set_index("row")
    m = m[m["row_base"].isin(linked.index)]
    return pd.DataFrame({"source": path, "row": m["row"].astype(int).to_numpy(),
                         "person_id": linked.loc[m["row_base"], "person_id"].to_numpy(),
                         "match_probability": linked.loc[m["row_base"], "match_probability"].to_numpy(),
                         "status": linked.loc[m["row_base"], "status"].to_numpy()})


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


def write_outputs(p: Params, res: LinkResult, ident: pd.DataFrame, person_to_atena: pd.Series) -> None:
    out = p.processed
    res.links.to_parquet(out / "links.parquet", index=False)
    (out / "linkage_model.json").write_text(json.dumps(res.training.model, ensure_ascii=False, indent=1), encoding="utf-8")
    meta = {"em_iterations": res.training.em_iterations, "em_rules": res.training.em_rules, "converged": res.training.converged,
            "training_seconds": res.training.seconds, "seconds": res.seconds}
    (out / "linkage_meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    res.rates.to_csv(out / "linkage_rates.csv", index=False, encoding="utf-8-sig")
    write_review_queue(p, res.review, ident, person_to_atena)
    save_match_weights_chart(p, res.training.model)


REVIEW_COLS = {"source": "ファイル", "row": "行", "match_probability": "一致確率"}


def write_review_queue(p: Params, review: pd.DataFrame, ident: pd.DataFrame, person_to_atena: pd.Series) -> Path:
    """``reports/internal/<fy>/review_queue.xlsx``: both records side by side, each comparison's weight, and
    drop-down columns for the staff decision (saved back as ``linkage/review_decisions.csv``)."""
    from openpyxl import Workbook
    from openpyxl.worksheet.datavalidation import DataValidation

    target = p.internal / "review_queue.xlsx"
    wb = Workbook()
    ws = wb.active
    ws.title = "要確認"
    header = ["ファイル", "行", "宛名番号", "一致確率",
              "記録: 氏名", "記録: ふりがな", "記録: 生年月日", "記録: 性別", "記録: 学校", "記録: 住所",
              "住基: 氏名", "住基: カナ", "住基: 生年月日", "住基: 性別", "住基: 住所",
              "重み: 姓", "重み: 名", "重み: 生年月日", "重み: 性別", "重み: 住所", "重み: 学区", "判定", "確認者", "メモ"]
    ws.append(header)
    if len(review):
        reg = ident[ident["source"] == registry_path(p)].set_index("person_id")
        recs = ident.set_index(["source", "row"])
        for _, r in review.iterrows():
            src = recs.loc[(r["source"], int(r["row"]))]
            g = reg.loc[r["unique_id_l"]]
            w = [round(float(np.log2(r[f"bf_{c}"])), 2) if pd.notna(r.get(f"bf_{c}")) and r.get(f"bf_{c}", 0) > 0 else None
                 for c in ("family_name", "given_name", "birth_date", "sex", "address", "school_district")]
            ws.append([r["source"], int(r["row"]), person_to_atena.get(r["unique_id_l"]), round(float(r["match_probability"]), 4),
                       src.get("name"), src.get("name_kana"), _d(src.get("birth_date")), _sex(src.get("sex")), src.get("school"),
                       src.get("address"), g.get("name"), g.get("name_kana"), _d(g.get("birth_date")), _sex(g.get("sex")),
                       g.get("address"), *w, None, None, None])
    dv = DataValidation(type="list", formula1=f'"{DECISION_YES},{DECISION_NO}"', allow_blank=True)
    ws.add_data_validation(dv)
    dv.add(f"V2:V{max(ws.max_row, 2) + 200}")
    ws.freeze_panes = "E2"
    info = wb.create_sheet("説明")
    for line in ("名寄せの確認待ちリストです。各行は学校側の記録 (左) と住民基本台帳の候補 (右) の組です。",
                 "「判定」に 一致 / 不一致 を選び、列 ファイル・行・宛名番号・判定 を CSV (UTF-8) で",
                 f"{p.raw_year / 'linkage' / 'review_decisions.csv'} に保存すると、次回の実行で反映されます。",
                 "重み: 各比較がこの組の一致の見込みをどれだけ変えたか (log2 ベイズ因子)。正は一致寄り、負は不一致寄り。",
                 "このファイルは個人を特定できる情報を含みます。庁内の定められた場所以外に保存しないでください。"):
        info.append([line])
    with private_file(target, p.internal_root) as f:
        wb.save(f)
    return target


def _d(v) -> str | None:
    return None if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d")


def _sex(v) -> str | None:
    return {"1": "男", "2": "女"}.get(str(v)) if v is not None and not pd.isna(v) else None


def read_links(p: Params) -> pd.DataFrame | None:
    """The year's links (``None`` before linkage has run)."""
    return read_table(p, "links")


def match_weights(model: dict) -> pd.DataFrame:
    """Each comparison level's m, u and match weight (log2 m/u) from a trained model."""
    rows = []
    for c in model["comparisons"]:
        for lvl in c["comparison_levels"]:
            if lvl.get("is_null_level"):
                continue
            m, u = lvl.get("m_probability"), lvl.get("u_probability")
            w = float(np.log2(m / u)) if m and u else np.nan
            rows.append({"比較": COMPARISON_LABELS.get(c["output_column_name"], c["output_column_name"]), "列": c["output_column_name"],
                         "水準": lvl.get("label_for_charts"), "m": m, "u": u, "重み(log2)": round(w, 2)})
    return pd.DataFrame(rows)


def save_match_weights_chart(p: Params, model: dict) -> Path:
    """Splink's match-weights chart as a self-contained HTML file (libraries inline: the city network is closed)."""
    from splink import DuckDBAPI, Linker

    api = DuckDBAPI()
    empty = pd.DataFrame({c: pd.Series(dtype="string") for c in COLUMNS})
    linker = Linker([api.register(empty, dataset_display_name=REGISTRY), api.register(empty.copy(), dataset_display_name=RECORDS)],
                    model, log_level=logging.ERROR)
    target = p.reports / p.fy / "linkage_match_weights.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    linker.visualisations.match_weights_chart().save(str(target), inline=True)
    return target

"""The Fellegi–Sunter model of 名寄せ (Splink 5): comparisons, training, and one prediction pass over every record.

Names are compared in kanji and reading together (variant kanji folded at ingestion): exact, reading only (a kanji
typo, or a name written in katakana for a romaji registration), kanji only (a reading typo), and names whose parts
come in another order (foreign residents: ``VAN AN NGUYEN`` for ``NGUYEN VAN AN``). A given name that differs
otherwise — twins and siblings, even one kana apart (レン/ラン) — has a fixed, near-zero m-probability, and such
pairs never link. Birth dates allow one slip (a day either side, day and month swapped, one of year, month or day
wrong). Addresses are compared after normalisation, and a registry move within the last year makes a different
address expected rather than evidence against (the school may still have the old one); the same holds for a school
outside the district. 就学援助 records carry the applicant parent's household, compared with the child's.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..params import Linkage as LinkageParams
from .inputs import COLUMNS, RECORDS, REGISTRY, TEXT

if TYPE_CHECKING:  # Splink is imported where a model is built: the steps that only read links never load it
    import splink.comparison_library as cl

log = logging.getLogger(__name__)
# EM training blocks: birth date, then full reading. Never address: address blocks hold households, and EM would
# learn "same household" (siblings) instead of "same person".
EM_BLOCKS = (("family_kana", "given_kana"), ("birth_date",))
# starting values for levels that are rare among matches and among random pairs (typos, other scripts or orders):
# EM re-estimates them where the data show them; where they never occur, these weak priors stand
RARE = {"m_probability": 0.005, "u_probability": 0.0001}
COMPARISON_LABELS = {"family_name": "姓", "given_name": "名", "birth_date": "生年月日", "sex": "性別", "address": "住所",
                     "school_district": "通学区域", "household": "就学援助の世帯"}


def _name(part: str, kana: str, fixed_else_m: float | None, guard_kana_typo: bool) -> cl.CustomComparison:
    """Kanji and reading compared together; name parts in another order; a one-kana slip in the reading."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    typo = cll.CustomLevel(f"levenshtein({kana}_l, {kana}_r) <= 1", "読み 1 文字違い").configure(**RARE)
    if guard_kana_typo:
        # both written in kanji, the kanji differ and the readings are one kana apart: twins (蓮 レン / 蘭 ラン),
        # not a typo; a one-kana slip counts only where a name is in romaji or katakana
        typo = cll.CustomLevel(f"levenshtein({kana}_l, {kana}_r) <= 1 AND NOT (given_is_kanji_l = '1' AND given_is_kanji_r = '1')",
                               "読み 1 文字違い (ローマ字・カタカナ表記)").configure(**RARE)
    else_level = cll.ElseLevel().configure(label_for_charts="異なる")
    if fixed_else_m is not None:
        else_level = cll.ElseLevel().configure(label_for_charts="異なる", m_probability=fixed_else_m, fix_m_probability=True)
    return cl.CustomComparison(comparison_levels=[
        cll.And(cll.ExactMatchLevel(part), cll.ExactMatchLevel(kana)).configure(
            tf_adjustment_column=part, tf_adjustment_weight=1.0, disable_tf_exact_match_detection=True,
            label_for_charts="漢字・読み一致"),
        # the whole name agrees, split elsewhere (劉静 / 劉 静, チャンバン ナム / チャン バン ナム)
        cll.Or(cll.ExactMatchLevel("full_name"), cll.ExactMatchLevel("full_kana")).configure(
            label_for_charts="姓名全体が一致 (姓と名の区切り違い)", **RARE),
        cll.Or(cll.NullLevel(part), cll.NullLevel(kana)).configure(is_null_level=True, label_for_charts="欠損"),
        cll.ExactMatchLevel(kana).configure(label_for_charts="読み一致 (漢字・表記違い)", **RARE),
        cll.ExactMatchLevel(part).configure(label_for_charts="漢字一致 (読み違い)", **RARE),
        cll.Or(cll.ExactMatchLevel("name_tokens"), cll.ExactMatchLevel("kana_tokens")).configure(
            label_for_charts="姓名の順序違い", **RARE),
        typo,
        else_level,
    ], output_column_name=part, comparison_description=f"{COMPARISON_LABELS[part]} (漢字と読み)")


def _one_field_off() -> str:
    y = "substr(birth_date_{s}, 1, 4)"
    m = "substr(birth_date_{s}, 6, 2)"
    d = "substr(birth_date_{s}, 9, 2)"
    eq = [f"{f.format(s='l')} = {f.format(s='r')}" for f in (y, m, d)]
    return " OR ".join(f"({a} AND {b})" for a, b in ((eq[0], eq[1]), (eq[0], eq[2]), (eq[1], eq[2])))


def model_settings(lk: LinkageParams, link_type: str = "link_only", dialect: str = "duckdb") -> dict:
    """Splink settings (a dict, as saved with the model) in a backend's SQL dialect: comparisons, prediction blocking
    rules, training."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    comparisons = [
        _name("family_name", "family_kana", None, guard_kana_typo=False),
        _name("given_name", "given_kana", lk.different_given_name_m, guard_kana_typo=True),
        cl.CustomComparison(comparison_levels=[
            cll.NullLevel("birth_date").configure(label_for_charts="欠損"),
            cll.ExactMatchLevel("birth_date").configure(label_for_charts="一致"),
            cll.AbsoluteDateDifferenceLevel("birth_date", input_is_string=True, metric="day", threshold=1).configure(
                label_for_charts="1 日違い", **RARE),
            cll.CustomLevel("substr(birth_date_l, 1, 4) = substr(birth_date_r, 1, 4) AND substr(birth_date_l, 6, 2) = "
                            "substr(birth_date_r, 9, 2) AND substr(birth_date_l, 9, 2) = substr(birth_date_r, 6, 2)",
                            "月日の入れ違い").configure(**RARE),
            cll.CustomLevel(_one_field_off(), "年・月・日のうち 1 つだけ違う").configure(m_probability=RARE["m_probability"]),
            cll.CustomLevel("birth_ym_l = birth_ym_r OR substr(birth_date_l, 1, 4) = substr(birth_date_r, 1, 4)",
                            "年または年月一致"),
            cll.ElseLevel().configure(label_for_charts="異なる"),
        ], output_column_name="birth_date", comparison_description="生年月日"),
        cl.CustomComparison(comparison_levels=[
            cll.NullLevel("sex").configure(label_for_charts="欠損"),
            cll.ExactMatchLevel("sex").configure(label_for_charts="一致"),
            cll.ElseLevel().configure(label_for_charts="異なる"),
        ], output_column_name="sex", comparison_description="性別"),
        cl.CustomComparison(comparison_levels=[
            cll.NullLevel("address").configure(label_for_charts="欠損"),
            cll.ExactMatchLevel("address").configure(label_for_charts="一致"),
            cll.ExactMatchLevel("block").configure(label_for_charts="丁目まで一致"),
            cll.ExactMatchLevel("town").configure(label_for_charts="町名一致"),
            cll.CustomLevel("moved_recently_l = '1' OR moved_recently_r = '1'", "異なる (1 年以内に転居: 旧住所の可能性)").configure(
                m_probability=0.01),
            cll.ElseLevel().configure(label_for_charts="異なる"),
        ], output_column_name="address", comparison_description="住所"),
        cl.CustomComparison(comparison_levels=[
            cll.CustomLevel("school_r IS NULL OR (district_elem_l IS NULL AND district_jhs_l IS NULL)", "欠損").configure(
                is_null_level=True),
            cll.CustomLevel("school_r = district_elem_l OR school_r = district_jhs_l", "学区内"),
            # a recent move is already weighed by the address: outside the district after one is no evidence twice
            cll.CustomLevel("moved_recently_l = '1' OR moved_recently_r = '1'", "学区外 (1 年以内に転居)").configure(
                is_null_level=True),
            # pupils may attend outside their district (指定校変更, a move mid-year): never let EM call it impossible
            cll.ElseLevel().configure(label_for_charts="学区外", m_probability=lk.out_of_district_m, fix_m_probability=True),
        ], output_column_name="school_district", comparison_description="通学区域の整合"),
        cl.CustomComparison(comparison_levels=[
            cll.Or(cll.NullLevel("household_id")).configure(is_null_level=True, label_for_charts="欠損 (就学援助以外)"),
            cll.ExactMatchLevel("household_id").configure(label_for_charts="申請した保護者と同じ世帯"),
            cll.ElseLevel().configure(label_for_charts="別の世帯"),
        ], output_column_name="household", comparison_description="就学援助の申請世帯"),
    ]
    from splink import SettingsCreator

    settings = SettingsCreator(
        link_type=link_type, unique_id_column_name="unique_id", comparisons=comparisons,
        blocking_rules_to_generate_predictions=list(lk.blocking_rules),
        retain_intermediate_calculation_columns=True, retain_matching_columns=False,
        max_iterations=lk.em_max_iterations, em_convergence=lk.em_convergence,
    )
    return settings.create_settings_dict(dialect)


def for_dialect(model: dict, lk: LinkageParams, dialect: str) -> dict:
    """A model trained on DuckDB as the settings of another backend (Spark): the comparisons built again by Splink's
    comparison library in that backend's SQL (DuckDB's date difference is not Spark's), the trained probabilities
    carried over level by level."""
    out = model_settings(lk, model.get("link_type", "link_only"), dialect)
    out["probability_two_random_records_match"] = model["probability_two_random_records_match"]
    for c_new, c_old in zip(out["comparisons"], model["comparisons"], strict=True):
        if c_new["output_column_name"] != c_old["output_column_name"]:
            raise ValueError(f"the saved model's comparisons differ: {c_old['output_column_name']}")
        for l_new, l_old in zip(c_new["comparison_levels"], c_old["comparison_levels"], strict=True):
            for key in ("m_probability", "u_probability", "fix_m_probability", "fix_u_probability"):
                if key in l_old:
                    l_new[key] = l_old[key]
    return out


# --- the database ------------------------------------------------------------------------------------

@contextlib.contextmanager
def duckdb_api(lk: LinkageParams, work: Path) -> Iterator:
    """Embedded DuckDB with a memory limit and a modest thread count. Beyond the limit it spills pairs — names and
    readings — to ``work`` (a private folder of the out dir, removed by its owner); the connection is closed when
    the block ends, whether it succeeded or not."""
    import duckdb
    from splink import DuckDBAPI

    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit='{lk.memory_limit}'")
        con.execute("SET temp_directory='{}'".format(str(work).replace("'", "''")))
        con.execute("SET preserve_insertion_order=false")
        with contextlib.suppress(duckdb.Error):  # in Jupyter without ipywidgets DuckDB refuses the setting; it is off there
            con.execute("SET enable_progress_bar=false")
        yield DuckDBAPI(connection=con)
    finally:
        con.close()


def _spark_api(lk: LinkageParams, work: Path):
    from pyspark.sql import SparkSession
    from splink import SparkAPI

    builder = SparkSession.builder.master(lk.spark.master).appName("mimamori")
    for k, v in {"spark.sql.shuffle.partitions": "8", "spark.ui.enabled": "false", "spark.local.dir": str(work),
                 **lk.spark.conf}.items():
        builder = builder.config(k, str(v))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    logging.getLogger("py4j").setLevel(logging.WARNING)   # its connection chatter, logged even at interpreter exit
    spark.sparkContext.setCheckpointDir(str(work / "checkpoints"))
    return SparkAPI(spark_session=spark), spark


def register(api, df: pd.DataFrame, name: str, spark=None):
    """A side of the linkage as a table of the backend (every column as text; to DuckDB as an Arrow table, which it
    reads in place, never as Python strings)."""
    import pyarrow as pa

    df = df.reindex(columns=COLUMNS).astype(TEXT)
    if spark is not None:
        from pyspark.sql.types import StringType, StructField, StructType

        schema = StructType([StructField(c, StringType(), True) for c in COLUMNS])
        rows = df.astype(object).where(df.notna(), None).values.tolist()
        return api.register(spark.createDataFrame(rows, schema=schema), dataset_display_name=name)
    return api.register(pa.Table.from_pandas(df, preserve_index=False), dataset_display_name=name)


# --- training ----------------------------------------------------------------------------------------

@dataclass
class Training:
    model: dict
    em_iterations: list[int]
    em_rules: list[str]
    converged: bool
    seconds: float


class _IterationCounter(logging.Handler):
    """Counts Splink's EM iterations from its log (it logs "converged" even when it stopped at the cap)."""

    def __init__(self):
        super().__init__(level=logging.INFO)
        self.n = 0

    def emit(self, record: logging.LogRecord) -> None:
        if re.match(r"Iteration \d+:", record.getMessage()):
            self.n += 1


def train(lk: LinkageParams, registry: pd.DataFrame, records: pd.DataFrame, api):
    """Estimate the prior from exact matches, u by random sampling and m by EM on birth-date and reading blocks
    (never on address), on the backend ``api`` (:func:`duckdb_api`). Returns (training summary, the linker, ready to
    predict). Splink checks the settings once, on the first linker; the linkers made again from its own saved model
    (a retried EM session, the rounded model) are not checked again (a fifth of a second each)."""
    from splink import Linker, block_on

    t0 = time.perf_counter()
    tables = [register(api, registry, REGISTRY), register(api, records, RECORDS)]
    linker = Linker(tables, model_settings(lk), log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("full_name", "birth_date"), block_on("full_kana", "birth_date")], recall=lk.prior_recall)
    # one pass over a fixed sample: waiting for 100 pairs in every level (Splink's default) means scanning every
    # chunk, as typo levels are rare among random pairs
    linker.training.estimate_u_using_random_sampling(max_pairs=lk.u_max_pairs, seed=lk.sample_seed, min_count_per_level=None,
                                                     num_chunks=1)
    iterations, rules, retried = [], [], False
    splink_log = logging.getLogger("splink")
    for rule in EM_BLOCKS:
        counter = _IterationCounter()
        old_level, old_propagate = splink_log.level, splink_log.propagate
        splink_log.addHandler(counter)
        splink_log.setLevel(logging.INFO)
        splink_log.propagate = False
        before = linker.misc.save_model_to_json()  # a failed EM session leaves the linker without some comparisons
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(*rule), estimate_without_term_frequencies=True, max_pairs=lk.em_max_pairs)
        except ValueError as e:
            # on small data EM can drive a level's m to exactly 0.0, which Splink refuses: retry with a short run
            log.warning("EM (%s) が停止しました (%s)。反復 5 回で学習し直します", " AND ".join(rule), str(e)[:60])
            retried = True
            counter.n = 0
            short = {**before, "max_iterations": 5}
            linker = Linker(tables, short, log_level=logging.ERROR, validate_settings=False)
            splink_log.setLevel(logging.INFO)
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    block_on(*rule), estimate_without_term_frequencies=True, max_pairs=lk.em_max_pairs)
                restored = {**linker.misc.save_model_to_json(), "max_iterations": lk.em_max_iterations}
            except ValueError:
                log.warning("EM (%s) を省略します: この規模のデータでは推定できません (他のブロックの推定値を使います)",
                            " AND ".join(rule))
                linker = Linker(tables, before, log_level=logging.ERROR, validate_settings=False)
                iterations.append(0)
                rules.append(" AND ".join(rule) + " (skipped)")
                continue
            linker = Linker(tables, restored, log_level=logging.ERROR, validate_settings=False)
        finally:
            splink_log.removeHandler(counter)
            splink_log.setLevel(old_level)
            splink_log.propagate = old_propagate
        iterations.append(counter.n)
        rules.append(" AND ".join(rule))
    converged = all(0 < i < lk.em_max_iterations for i in iterations) and not retried
    if not any(iterations):
        raise RuntimeError("名寄せモデルの EM 学習がすべてのブロックで失敗しました (データが少なすぎる可能性があります)")
    if not converged:
        log.warning("EM が収束していません (上限 %d 回、または学習し直し・省略あり): %s", lk.em_max_iterations, iterations)
    trained = linker.misc.save_model_to_json()
    model = rounded(floor_m(copy.deepcopy(trained), lk.m_floor))
    if model != trained:  # a new linker only when the floor or the rounding changed something
        linker = Linker(tables, model, log_level=logging.ERROR, validate_settings=False)
    return Training(model=model, em_iterations=iterations, em_rules=rules, converged=converged,
                    seconds=round(time.perf_counter() - t0, 2)), linker


SIGNIFICANT = 10


def rounded(model: dict, digits: int = SIGNIFICANT) -> dict:
    """The model's probabilities to ``digits`` significant digits: EM sums over pairs in whatever order DuckDB's
    threads finish, so the last digits of m differ from run to run; rounded, the same exports give the same model,
    the same links and no re-run of the steps after 名寄せ."""
    def r(v: float) -> float:
        return float(f"{v:.{digits}g}")

    out = copy.deepcopy(model)
    if out.get("probability_two_random_records_match") is not None:
        out["probability_two_random_records_match"] = r(out["probability_two_random_records_match"])
    for c in out["comparisons"]:
        for lvl in c["comparison_levels"]:
            for k in ("m_probability", "u_probability"):
                if lvl.get(k) is not None:
                    lvl[k] = r(lvl[k])
    return out


def floor_m(model: dict, floor: float) -> dict:
    """Raise trained m-probabilities below ``floor``: a level EM never saw among matches (a reading typo in the
    family name) must weigh against a match, not rule it out."""
    for c in model["comparisons"]:
        for lvl in c["comparison_levels"]:
            m = lvl.get("m_probability")
            if m is not None and not lvl.get("fix_m_probability") and m < floor:
                lvl["m_probability"] = floor
    return model


# --- prediction --------------------------------------------------------------------------------------

def predict(linker, lower: float) -> pd.DataFrame:
    """Every scored pair (registry child × record) at or above ``lower``, in one pass over all records; left is
    the registry child, right the record."""
    pairs = linker.inference.predict(threshold_match_probability=lower).as_pandas_dataframe()
    if pairs.empty:
        return pairs
    swap = (pairs["source_dataset_l"] != REGISTRY).to_numpy()
    if swap.any():
        for c in [c[:-2] for c in pairs.columns if c.endswith("_l") and c[:-2] + "_r" in pairs.columns]:
            left, right = pairs[c + "_l"].copy(), pairs[c + "_r"].copy()
            pairs.loc[swap, c + "_l"], pairs.loc[swap, c + "_r"] = right[swap], left[swap]
    return pairs


def predict_with(lk: LinkageParams, model: dict, registry: pd.DataFrame, records: pd.DataFrame, lower: float,
                 work: Path) -> pd.DataFrame:
    """Prediction with a saved model on the configured backend (DuckDB, or Spark for very large runs), spilling to
    the private folder ``work``."""
    from splink import Linker

    if lk.backend != "spark":
        with duckdb_api(lk, work) as api:
            linker = Linker([register(api, registry, REGISTRY), register(api, records, RECORDS)], model,
                            log_level=logging.ERROR)
            return predict(linker, lower)
    api, spark = _spark_api(lk, work)
    try:
        linker = Linker([register(api, registry, REGISTRY, spark), register(api, records, RECORDS, spark)],
                        for_dialect(model, lk, "spark"), log_level=logging.ERROR)
        return predict(linker, lower)
    finally:
        spark.stop()


def match_weights(model: dict) -> pd.DataFrame:
    """Each comparison level's m, u and match weight (log2 m/u) from a trained model."""
    rows = []
    for c in model["comparisons"]:
        for lvl in c["comparison_levels"]:
            if lvl.get("is_null_level"):
                continue
            m, u = lvl.get("m_probability"), lvl.get("u_probability")
            w = float(np.log2(m / u)) if m and u else np.nan
            rows.append({"比較": COMPARISON_LABELS.get(c["output_column_name"], c["output_column_name"]),
                         "列": c["output_column_name"], "水準": lvl.get("label_for_charts"), "m": m, "u": u,
                         "重み(log2)": round(w, 2)})
    return pd.DataFrame(rows)

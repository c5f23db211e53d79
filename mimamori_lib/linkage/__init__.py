"""名寄せ: link school-network records (no 宛名番号) to the resident registry with Splink, one-to-one per source.

Splink 5 on DuckDB (embedded, with a memory limit; Spark selectable for prediction in very large runs). One model
is trained per year and scores every school-network record in one pass; records of the other school files that are
exact copies of an attendance record take its outcome. Pairs above the upper threshold link automatically; pairs in
the band below go to the staff review queue, whose decisions are applied on the next run.

Modules: :mod:`.inputs` (the two sides), :mod:`.model` (comparisons, training, prediction), :mod:`.assignment`
(decisions applied, one-to-one, statuses), :mod:`.review` (the queue and what staff saved). :func:`run` only
orchestrates.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..arrays import isin, release_unused_memory
from ..catalogue import datasets
from ..catalogue.registry import load_registry, registry_path, role_source
from ..catalogue.tables import read_identity, registry_people
from ..params import Params
from ..privacy.restricted import work_folder
from .assignment import DECISION_NO, DECISION_YES, assign, exact_matches, inherit_links, link_rates
from .inputs import add_districts, records_side, registry_side
from .model import (
    EM_BLOCKS,
    Training,
    duckdb_api,
    match_weights,
    model_settings,
    predict,
    predict_with,
    train,
)
from .review import match_weights_chart, read_decisions, write_review_queue

log = logging.getLogger(__name__)
IDENTITY_COLUMNS = ["source", "row", "person_id", "atena_no", "household_id", "name", "family_name", "given_name", "name_kana",
                    "family_kana", "given_kana", "birth_date", "sex", "address", "resident_since", "school", "grade",
                    "parent_person_id"]

__all__ = ["run", "write_queue", "DECISION_NO", "DECISION_YES", "EM_BLOCKS", "LinkResult", "Training", "assign", "decisions_summary",
           "exact_matches", "inherit_links", "link_rates", "match_weights", "model_settings", "predict", "read_links",
           "review_summary", "train"]


@dataclass
class LinkResult:
    links: pd.DataFrame
    review: pd.DataFrame
    training: Training
    rates: pd.DataFrame
    seconds: float
    sources: list[str] = field(default_factory=list)
    decisions: pd.DataFrame = field(default_factory=pd.DataFrame)
    unmatched: pd.DataFrame = field(default_factory=pd.DataFrame)


def run(p: Params, write: bool = True) -> LinkResult:
    """Link every school-network source of the year; write links, the model and the review queue."""
    t0 = time.perf_counter()
    lk = p.linkage
    reg = load_registry(p)
    train_on = lk.train_on or role_source(p, "attendance")
    # the registry and the school files (not the other departments' rows: millions in a big city)
    ident = read_identity(p, columns=IDENTITY_COLUMNS,
                          sources=[registry_path(p), *(reg[s]["path"] for s in {*lk.sources, train_on} if s in reg)])
    reg_all = registry_people(p, ident[["source", "person_id", "household_id", "atena_no"]])
    households = reg_all.set_index("person_id")["household_id"]
    person_to_atena = reg_all.set_index("person_id")["atena_no"]
    sources = [s for s in lk.sources if s in reg and (ident["source"] == reg[s]["path"]).any()]
    base_path = reg[train_on]["path"] if train_on in reg else None
    paths = [reg[s]["path"] for s in sources]
    in_sources = ident["source"].isin(paths).to_numpy()
    decisions, decision_report = read_decisions(p, ident.loc[in_sources, ["source", "row"]], person_to_atena)
    # exact copies of an attendance record in the other school files take its outcome instead of being scored
    # (unless staff decided about the copy itself)
    decided = set(zip(decisions["source"], decisions["row"].astype(int), strict=True))
    matches = {reg[s]["path"]: exact_matches(ident, base_path, reg[s]["path"])
               for s in lk.inherit_from_train if s in sources and base_path}
    copies = {path: {int(r) for r in m["row"]} - {r for s, r in decided if s == path} for path, m in matches.items()}
    is_copy = np.zeros(len(ident), dtype=bool)
    for path, rows in copies.items():
        is_copy |= (ident["source"] == path).to_numpy() & isin(ident["row"], rows)
    scored = records_side(ident[in_sources & ~is_copy], p, sources, households)
    registry = add_districts(registry_side(ident, p), scored[(scored["source"] == base_path).to_numpy()])
    ident = ident[["source", "row", "school", "grade", "family_name", "given_name", "birth_date"]]  # what is still needed
    log.info("名寄せ: 住基のこども %d 人 × 学校系の記録 %d 件 (うち出欠と同一の記録 %d 件は出欠の結果を引き継ぎ)",
             len(registry), int(in_sources.sum()), int(is_copy.sum()))
    del reg_all
    release_unused_memory()
    pseudonym_of = pd.Series(registry["unique_id"].to_numpy(), index=registry["train_id"].to_numpy())
    with work_folder(p.processed / "restricted", p.processed.parent) as work, duckdb_api(lk, work) as api:
        # trained over the exports' own identities (registry row, record row), so another key trains the same model
        training, linker = train(lk, registry.assign(unique_id=registry["train_id"]), scored, api)
        chart = match_weights_chart(linker)
        if lk.backend == "duckdb":  # the backend holds both sides now: keep only what assignment needs
            registry, scored = None, scored[["unique_id", "source", "row"]]
        t1 = time.perf_counter()
        pairs = predict(linker, lk.review_threshold) if lk.backend == "duckdb" else \
            predict_with(lk, training.model, registry.assign(unique_id=registry["train_id"]), scored, lk.review_threshold,
                         work)
        if len(pairs):
            pairs["unique_id_l"] = pairs["unique_id_l"].map(pseudonym_of).astype("string")
        del linker, api
        log.info("  予測 %d 組 (%.1f 秒)", len(pairs), time.perf_counter() - t1)
    links, review = assign(pairs, scored, lk.auto_threshold, lk.review_threshold, decisions, person_to_atena)
    if base_path:
        base_links = links[(links["source"] == base_path).to_numpy()]
        inherited = [inherit_links(m, path, base_links) for path, m in matches.items()]
        inherited = [x[isin(x["row"], copies[path])] for x, path in zip(inherited, matches, strict=True)]
        links = pd.concat([links, *inherited], ignore_index=True)
    links = links.sort_values(["source", "row"], ignore_index=True)
    rates = link_rates(links)
    for r in rates.itertuples():
        log.info("  %-26s %6d 件: 自動 %d, 確認済 %d, 要確認 %d, 未連結 %d", r.source, r.records, r.auto, r.reviewed, r.review,
                 r.unmatched)
    res = LinkResult(links, review, training, rates, 0.0, sources, decision_report,
                     unmatched_by_school(ident, links))
    if write:
        write_outputs(p, res, chart)
    res.seconds = round(time.perf_counter() - t0, 2)
    return res


def unmatched_by_school(ident: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """Records not linked (unmatched or waiting), per source, school and grade, with the share of that school's roll
    in the file — a school whose file went wrong stands out. School names stay internal to the 20_link report."""
    m = links.merge(ident[["source", "row", "school", "grade"]].drop_duplicates(["source", "row"]), on=["source", "row"], how="left")
    m["not_linked"] = ~isin(m["status"], ["auto", "reviewed"])
    t = m.groupby(["source", "school", "grade"], dropna=False).agg(records=("row", "size"), not_linked=("not_linked", "sum"))
    t = t.reset_index()
    t["share"] = (t["not_linked"] / t["records"]).round(4)
    return t[t["not_linked"] > 0].sort_values(["share", "not_linked"], ascending=False).reset_index(drop=True)


def write_outputs(p: Params, res: LinkResult, chart: str) -> None:
    datasets.write(p, "links", res.links)
    # without Splink's random linker_uid: the same model gives the same file, and the steps after it are not re-run
    datasets.write(p, "linkage_model", {k: v for k, v in res.training.model.items() if k != "linker_uid"})
    lk = p.linkage
    datasets.write(p, "linkage_meta", {"em_iterations": res.training.em_iterations, "em_rules": res.training.em_rules,
                                        "converged": res.training.converged, "training_seconds": res.training.seconds,
                                        "sampling": {"u_max_pairs": lk.u_max_pairs, "em_max_pairs": lk.em_max_pairs,
                                                     "seed": lk.sample_seed, "over": SAMPLED_OVER}})
    datasets.write(p, "linkage_rates", res.rates)
    datasets.write(p, "review_decisions_report", res.decisions)  # it names 宛名番号: private, like every processed file
    datasets.write(p, "review_pairs", review_pairs(res.review))
    datasets.write(p, "match_weights_chart", chart)


SAMPLED_OVER = ("records by their identity in the exports (registry: <seed>:R:<row>; school files: "
                "<seed>:<source>:<row>), never the keyed pseudonym")


def review_pairs(review: pd.DataFrame) -> pd.DataFrame:
    """The pairs waiting for staff, without identities (record: source, row; candidate: person_id), with each
    comparison's Bayes factor: 30_extract orders the review queue by what confirming each would change."""
    cols = ["source", "row", "unique_id_l", "match_probability", "match_weight"]
    if review.empty:
        return pd.DataFrame(columns=["source", "row", "person_id", "match_probability", "match_weight"])
    bf = [c for c in review.columns if c.startswith("bf_")]
    return review[cols + bf].rename(columns={"unique_id_l": "person_id"}).reset_index(drop=True)


def write_queue(p: Params, order: pd.DataFrame | None = None) -> None:
    """``review_queue.xlsx`` from the saved pairs (in ``order``: those that change the list first)."""
    pairs = datasets.read(p, "review_pairs")
    pairs = pairs.rename(columns={"person_id": "unique_id_l"}) if pairs is not None else pd.DataFrame()
    links = read_links(p)
    ident = _queue_identity(p, pairs)
    reg_all = registry_people(p, ident)
    write_review_queue(p, pairs, links if links is not None else pd.DataFrame(columns=["source", "row", "reason"]), ident,
                       reg_all.set_index("person_id")["atena_no"], order)


def _queue_identity(p: Params, pairs: pd.DataFrame) -> pd.DataFrame:
    """The identity rows the queue shows — its school records and their registry candidates — read with filters
    (never the whole table: over a million rows at 500,000 children)."""
    reg = registry_path(p)
    ids = sorted(set(pairs["unique_id_l"].dropna())) if len(pairs) else []
    parts = [read_identity(p, sources=[reg], filters=[("person_id", "in", ids or ["-"])])]
    for src, g in (pairs.groupby("source") if len(pairs) else []):
        parts.append(read_identity(p, sources=[src], filters=[("row", "in", sorted({int(x) for x in g["row"]}))]))
    return pd.concat(parts, ignore_index=True)


def review_summary(res: LinkResult) -> pd.DataFrame | str:
    """Records waiting for review, by file and reason (counts only)."""
    w = res.links[res.links["status"] == "review"]
    if w.empty:
        return "確認待ちの記録はありません。"
    t = w.groupby(["source", "reason"]).size().rename("件数").reset_index()
    return t.rename(columns={"source": "ファイル", "reason": "理由"})


def _first_lines(lines: pd.Series, n: int = 20) -> str:
    """The first line numbers of a group (``2・5・9``; ``…`` when there are more)."""
    nums = [str(int(v)) for v in lines.dropna()]
    return "・".join(nums[:n]) + ("…" if len(nums) > n else "")


def decisions_summary(res: LinkResult) -> pd.DataFrame | str:
    """Staff decisions read back: applied and refused rows, with the reason (file, line, reason; no names)."""
    d = res.decisions
    if d is None or d.empty:
        return "保存された確認結果はありません。"
    t = d.groupby(["file", "outcome", "reason"], dropna=False).agg(行数=("outcome", "size"),
                                                                   行番号=("line", _first_lines))
    return t.reset_index().rename(columns={"file": "ファイル", "outcome": "結果", "reason": "理由"})


def read_links(p: Params) -> pd.DataFrame | None:
    """The year's links (``None`` before linkage has run)."""
    return datasets.read(p, "links")

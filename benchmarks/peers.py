"""The peers of mimamori's 名寄せ, run on the same normalised inputs (the registry's children of school age and the
school network's records, as :mod:`mimamori_lib.linkage.inputs` builds them):

- an exact join on reading and birth date (one record per child, ambiguous joins dropped);
- recordlinkage (https://recordlinkage.readthedocs.io) with its ECM classifier, candidates blocked on birth date
  and on reading as its documentation shows, comparisons on names (kanji and reading), birth date, sex and
  address (ECM fitted per block, see below); each record keeps its most probable candidate above 0.5 and each
  child one record per source.

Each function returns links shaped like mimamori's (source, row, person_id, match_probability, status).
"""

from __future__ import annotations

import pandas as pd


def inputs(p) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(registry side, records side) exactly as mimamori builds them."""
    from mimamori_lib.catalogue.registry import load_registry, registry_path
    from mimamori_lib.catalogue.tables import read_identity
    from mimamori_lib.linkage.inputs import records_side, registry_side

    ident = read_identity(p)
    reg_all = ident[ident["source"] == registry_path(p)].drop_duplicates("person_id")
    households = reg_all.set_index("person_id")["household_id"]
    sources = [s for s in p.linkage.sources if s in load_registry(p)]
    return registry_side(ident, p), records_side(ident, p, sources, households)


def _one_to_one(pairs: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """pairs: unique_id_l (child), unique_id_r (record), score. Best candidate per record, one record per child and
    source; every record in the output."""
    pairs = pairs.merge(records[["unique_id", "source", "row"]], left_on="unique_id_r", right_on="unique_id")
    pairs = pairs.sort_values("score", ascending=False).drop_duplicates("unique_id_r")
    pairs = pairs.drop_duplicates(["source", "unique_id_l"])
    out = records[["source", "row", "unique_id"]].merge(pairs[["unique_id_r", "unique_id_l", "score"]], left_on="unique_id",
                                                         right_on="unique_id_r", how="left")
    return pd.DataFrame({"source": out["source"], "row": out["row"].astype(int), "person_id": out["unique_id_l"],
                         "match_probability": out["score"],
                         "status": out["unique_id_l"].notna().map({True: "auto", False: "unmatched"})})


def exact_join(registry: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """Reading and birth date equal, unique on the registry side."""
    key = ["full_kana", "birth_date"]
    reg = registry.dropna(subset=key)
    reg = reg[~reg.duplicated(key, keep=False)]
    m = records.dropna(subset=key).merge(reg[["unique_id", *key]], on=key, suffixes=("_r", "_l"))
    pairs = pd.DataFrame({"unique_id_l": m["unique_id_l"], "unique_id_r": m["unique_id_r"], "score": 1.0})
    return _one_to_one(pairs, records)


def recordlinkage_ecm(registry: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """recordlinkage: candidates blocked on birth date and, separately, on reading; in each block ECM learns from the
    other fields (a field used to block always agrees within its block, so ECM cannot learn from it — with both
    blocks pooled it learns "same surname" instead of "same person"); each pair keeps its higher probability; then
    the most probable candidate per record."""
    import recordlinkage

    a = registry.set_index("unique_id")
    b = records.set_index("unique_id")

    def block(key: str, compare) -> pd.Series:
        indexer = recordlinkage.Index()
        indexer.block(key)
        candidates = indexer.index(a, b)
        features = compare.compute(candidates, a, b)
        ecm = recordlinkage.ECMClassifier(binarize=0.5)
        ecm.fit(features)
        return ecm.prob(features)

    by_birth = recordlinkage.Compare()
    by_birth.exact("family_name", "family_name", label="family_name")
    by_birth.exact("given_name", "given_name", label="given_name")
    by_birth.string("family_kana", "family_kana", method="jarowinkler", threshold=0.85, label="family_kana")
    by_birth.string("given_kana", "given_kana", method="jarowinkler", threshold=0.85, label="given_kana")
    by_reading = recordlinkage.Compare()
    by_reading.exact("family_name", "family_name", label="family_name")
    by_reading.exact("given_name", "given_name", label="given_name")
    by_reading.string("birth_date", "birth_date", method="levenshtein", threshold=0.85, label="birth_date")
    for c in (by_birth, by_reading):
        c.exact("sex", "sex", label="sex", missing_value=0)
        c.exact("address", "address", label="address", missing_value=0)
    prob = pd.concat([block("birth_date", by_birth), block("full_kana", by_reading)]).groupby(level=[0, 1]).max()
    prob = prob[prob >= 0.5]
    pairs = pd.DataFrame({"unique_id_l": prob.index.get_level_values(0), "unique_id_r": prob.index.get_level_values(1),
                          "score": prob.to_numpy()})
    return _one_to_one(pairs, records)

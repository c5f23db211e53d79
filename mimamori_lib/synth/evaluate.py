"""Accuracy against the synthetic city's truth — for tests, benchmarks and the cells marked 「合成データのみ」.
The pipeline itself never reads the truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..params import Params
from .marker import read_marker, truth_root


def truth_dir(p: Params) -> Path | None:
    """The truth folder of the run's year, if the raw folder is a marked synthetic city (``None`` otherwise)."""
    base = truth_root(p.raw_dir)
    d = base / p.fy if base else None
    return d if d is not None and (d / "rows.csv").exists() else None


def _text_columns(f: Path, columns: list[str]):
    """Some columns of one of the truth's CSV files, every value as text (empty where blank), as an Arrow table (read
    by Arrow's parser: the truth holds millions of rows at a big city's scale)."""
    import pyarrow as pa
    from pyarrow import csv

    return csv.read_csv(f, convert_options=csv.ConvertOptions(
        include_columns=columns, column_types={c: pa.string() for c in columns}, strings_can_be_null=False))


def truth_rows(truth: Path, sources: list[str] | None = None) -> pd.DataFrame:
    """The truth of each export row (``source``, ``row``, the true child's ``atena_no``; empty where none), of some
    ``sources`` only (the file holds every department's rows)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = _text_columns(truth / "rows.csv", ["source", "row", "atena_no"])
    if sources is not None:
        t = t.filter(pc.is_in(t["source"], value_set=pa.array(sorted(set(sources)), pa.string())))
    rows = t.to_pandas()
    rows["row"] = rows["row"].astype(int)
    return rows


def truth_children(truth: Path, columns: list[str]) -> pd.DataFrame:
    """Some columns of the synthetic city's children (every value as text, empty where blank)."""
    return _text_columns(truth / "children.csv", columns).to_pandas()


def linkage_accuracy(links: pd.DataFrame, identity: pd.DataFrame, truth: Path) -> dict:
    """Precision, recall and F1 of the links (auto + reviewed), merged twins, and truly-absent children linked."""
    return _accuracy(links, identity, truth_rows(truth, sorted(set(links["source"]))),
                     truth_children(truth, ["atena_no", "twin"]))


def linkage_breakdown(links: pd.DataFrame, identity: pd.DataFrame, truth: Path, reference_date) -> pd.DataFrame:
    """Recall by hard case (synthetic city only): records whose true child moved within the city in the last year
    (the school may still have the old address), whose birth date or name differs from the registry's (a typo),
    foreign residents, twins, and each source. One row per case: true links, found, recall; wrong links."""
    return _breakdown(links, identity, truth_rows(truth, sorted(set(links["source"]))),
                      truth_children(truth, ["atena_no", "foreign", "twin"]), reference_date)


_FIELDS = ["address", "birth_date", "name", "name_kana"]


def _joined(links: pd.DataFrame, identity: pd.DataFrame, rows: pd.DataFrame, by_atena: bool) -> pd.DataFrame:
    """One row per link, in order: its status, the true child's 宛名番号 (``true``, empty where none) and the linked
    child's (``pred``); with ``by_atena`` also the registry row of the true child (``g_*``, ``on_registry``) and the
    record's own fields (``r_*``). Joined in DuckDB: pandas took seconds a join on a big city's text keys."""
    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    try:
        con.register("links_", links[["source", "row", "person_id", "status"]].reset_index(drop=True)
                     .assign(_order=range(len(links))))
        con.register("truth_", rows[["source", "row", "atena_no"]])
        con.register("ident_", identity[[c for c in ["source", "row", "person_id", "atena_no", "resident_since", *_FIELDS]
                                         if c in identity]])
        # the registry: rows with both ids, the first row of each 宛名番号 (by_atena) or of each child
        reg = ("SELECT * FROM ident_ WHERE atena_no IS NOT NULL AND person_id IS NOT NULL "
               "QUALIFY row_number() OVER (PARTITION BY atena_no ORDER BY source, row) = 1" if by_atena else
               "SELECT * FROM ident_ WHERE atena_no IS NOT NULL AND person_id IS NOT NULL")
        extra = ""
        if by_atena:
            extra = (", g.atena_no IS NOT NULL AS on_registry, g.resident_since AS g_resident_since, "
                     + ", ".join(f"g.{c} AS g_{c}, r.{c} AS r_{c}" for c in _FIELDS))
        sql = f"""
            WITH reg AS ({reg}),
            to_atena AS (SELECT person_id, atena_no FROM reg
                         QUALIFY row_number() OVER (PARTITION BY person_id ORDER BY source, row) = 1)
            SELECT l.source, l.row, l.status, coalesce(t.atena_no, '') AS true, coalesce(a.atena_no, '') AS pred {extra}
            FROM links_ l
            LEFT JOIN truth_ t ON t.source = l.source AND t.row = l.row
            LEFT JOIN to_atena a ON a.person_id = l.person_id
            {"LEFT JOIN reg g ON g.atena_no = t.atena_no LEFT JOIN ident_ r ON r.source = l.source AND r.row = l.row"
             if by_atena else ""}
            ORDER BY l._order"""
        text = pd.StringDtype("pyarrow")  # the text stays in Arrow (no Python string per cell)
        return con.sql(sql).to_arrow_table().to_pandas(types_mapper={pa.string(): text, pa.large_string(): text}.get)
    finally:
        con.close()


def _accuracy(links: pd.DataFrame, identity: pd.DataFrame, rows: pd.DataFrame, kids: pd.DataFrame) -> dict:
    m = _joined(links, identity, rows, by_atena=False)
    linked = m["status"].isin(["auto", "reviewed"]) & (m["pred"] != "")
    tp = int((linked & (m["pred"] == m["true"])).sum())
    fp = int((linked & (m["pred"] != m["true"])).sum())
    fn = int(((m["true"] != "") & ~(linked & (m["pred"] == m["true"]))).sum())
    twins = set(kids.loc[kids["twin"] == "True", "atena_no"])
    merged_twins = int((linked & (m["pred"] != m["true"]) & m["true"].isin(twins) & m["pred"].isin(twins)).sum())
    absent = m["true"] == ""
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return {"records": len(m), "true_links": int((m["true"] != "").sum()), "tp": tp, "fp": fp, "fn": fn,
            "precision": round(precision, 5), "recall": round(recall, 5),
            "f1": round(2 * precision * recall / (precision + recall), 5) if precision + recall else 0.0,
            "merged_twins": merged_twins, "absent_records": int(absent.sum()),
            "absent_linked": int((absent & linked).sum()), "in_review": int((m["status"] == "review").sum())}


def _breakdown(links: pd.DataFrame, identity: pd.DataFrame, rows: pd.DataFrame, kids: pd.DataFrame,
               reference_date) -> pd.DataFrame:
    kids = kids.set_index("atena_no")
    m = _joined(links, identity, rows, by_atena=True)
    m = m[(m["true"] != "").to_numpy()].reset_index(drop=True)
    m["found"] = m["status"].isin(["auto", "reviewed"]).to_numpy() & (m["pred"] == m["true"]).to_numpy()
    m["wrong"] = m["status"].isin(["auto", "reviewed"]).to_numpy() & (m["pred"] != "").to_numpy() & (m["pred"] != m["true"]).to_numpy()
    quarantined = ~m["on_registry"].to_numpy(bool)  # the child's registry row was set aside as broken
    ref = pd.Timestamp(reference_date)
    since = pd.to_datetime(m["g_resident_since"], errors="coerce")

    def text(c: str, side: str, spaces: bool = True) -> np.ndarray:
        v = m[f"{side}_{c}"].astype(pd.StringDtype("pyarrow")).fillna("")
        return (v if spaces else v.str.replace(" ", "", regex=False)).to_numpy(dtype=object)

    cases = {
        "moved within the city (last 12 months)": (since > ref - pd.DateOffset(years=1)).to_numpy()
        & (text("address", "r") != "") & (text("address", "r") != text("address", "g")),
        "birth-date typo": pd.to_datetime(m["r_birth_date"]).to_numpy() != pd.to_datetime(m["g_birth_date"]).to_numpy(),
        "name or reading differs": (text("name", "r", False) != text("name", "g", False))
        | (text("name_kana", "r", False) != text("name_kana", "g", False)),
        "foreign resident": kids.reindex(m["true"])["foreign"].fillna("False").to_numpy() == "True",
        "twin": kids.reindex(m["true"])["twin"].fillna("False").to_numpy() == "True",
    }
    cases = {k: v & ~quarantined for k, v in cases.items()}
    cases["registry row quarantined (cannot link)"] = quarantined
    out = []
    for name, mask in cases.items():
        x = m[mask]
        out.append({"case": name, "true_links": len(x), "found": int(x["found"].sum()),
                    "recall": round(x["found"].mean(), 4) if len(x) else None, "wrong_links": int(x["wrong"].sum())})
    for src, x in m.groupby("source"):
        out.append({"case": src, "true_links": len(x), "found": int(x["found"].sum()), "recall": round(x["found"].mean(), 4),
                    "wrong_links": int(x["wrong"].sum())})
    return pd.DataFrame(out)


def linkage_check(p: Params, links: pd.DataFrame):
    """Precision, recall and F1 of a year's links against the synthetic city's truth, for the 20_link cell marked
    「合成データのみ」 (a city's own exports: a sentence saying there is no truth)."""
    from ..catalogue.registry import registry_path
    from ..catalogue.tables import read_identity

    if read_marker(p.raw_dir) is None:
        return "実データのため正解との照合はありません。"
    truth = truth_dir(p)
    if truth is None:
        return "正解データが見つかりません。"
    sources = sorted(set(links["source"]))
    ident = read_identity(p, columns=["source", "row", "person_id", "atena_no", "name", "name_kana", "birth_date", "address",
                                      "resident_since"], sources=[registry_path(p), *sources])
    rows, kids = truth_rows(truth, sources), truth_children(truth, ["atena_no", "foreign", "twin"])
    return {"accuracy": _accuracy(links, ident, rows, kids),
            "cases": _breakdown(links, ident, rows, kids, p.reference_date)}

"""Privacy end to end: the key never appears in logs or outputs, the identity tables are 600 in 700 folders, and a
person keeps one pseudonym across years."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pandas as pd

from mimamori_lib import ingest
from mimamori_lib.params import load_params


def test_the_key_is_in_no_output(smoke_run: Path, session_key: Path) -> None:
    key = session_key.read_text().strip()
    assert len(key) >= 32
    needles = (key.encode(), key[:16].encode(), key.encode("utf-16-le"))
    scanned = 0
    for f in (smoke_run / "out").rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert not any(n in data for n in needles), f"the key is in {f}"
            scanned += 1
    assert scanned > 100, "reports, notebook HTML, model JSON, scores, parquet tables were scanned"


def test_the_key_is_in_no_log(small_city: Path, tmp_path: Path, session_key: Path, caplog) -> None:
    key = session_key.read_text().strip()
    with caplog.at_level(logging.DEBUG):
        ingest.run(load_params("params/fy2025.yaml", {"raw_dir": str(small_city / "raw"), "out_dir": str(tmp_path / "out")}))
    assert caplog.records and key not in caplog.text and key[:16] not in caplog.text


def test_identity_tables_are_restricted(smoke_run: Path) -> None:
    for fy in ("fy2024", "fy2025"):
        d = smoke_run / "out" / "processed" / fy / "restricted"
        assert stat.S_IMODE(d.stat().st_mode) == 0o700
        assert stat.S_IMODE((d / "identity.parquet").stat().st_mode) == 0o600
        for f in (smoke_run / "out" / "processed" / fy).glob("*.parquet"):
            cols = set(pd.read_parquet(f).columns)
            assert not cols & {"atena_no", "name", "name_kana", "address", "setai_no"}, f"{f.name} carries identities"


def test_a_person_keeps_one_pseudonym_across_years(smoke_run: Path) -> None:
    ids = []
    for fy in ("fy2024", "fy2025"):
        ident = pd.read_parquet(smoke_run / "out" / "processed" / fy / "restricted" / "identity.parquet")
        reg = ident[ident["source"] == "shimin/juki.csv"][["atena_no", "person_id"]].drop_duplicates()
        ids.append(reg.set_index("atena_no")["person_id"])
    both = ids[0].index.intersection(ids[1].index)
    assert len(both) > 500
    assert (ids[0][both] == ids[1][both]).all(), "the keyed pseudonym follows a child from FY2024 to FY2025"


def test_a_column_of_identifiers_gets_the_pseudonyms_one_at_a_time_would() -> None:
    """The column-wise pseudonyms (one keyed state, copied per value) are exactly :func:`pseudonym`'s, per domain;
    a missing or empty identifier has none."""
    from mimamori_lib.privacy.pseudonym import pseudonym, pseudonym_series

    key = bytes(range(32))
    values = pd.Series(["0000000001", "0123456789", None, "", "0000000001", "宛名"], dtype="string[pyarrow]")
    for domain in ("person", "household"):
        got = pseudonym_series(key, values, domain).astype(object).where(lambda s: s.notna(), None).tolist()
        assert got == [pseudonym(key, v, domain) if v else None for v in [*values[:2], None, None, values[4], values[5]]]
    assert pseudonym_series(key, values)[0] != pseudonym_series(key, values, "household")[0]
    # the pseudonym itself: HMAC-SHA256 of "<domain>:<identifier>", its first 20 hex digits (what every earlier
    # year's outputs were made with: a change would split each child in two across years)
    import hmac

    assert pseudonym(key, "0123456789", "person") == hmac.digest(key, b"person:0123456789", "sha256").hex()[:20]

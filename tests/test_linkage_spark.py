"""The Spark backend: a model trained on DuckDB scores on Spark the same pairs as on DuckDB, on a small city (make test
runs it where Java 17+ and pyspark are installed; make test-spark asks for it)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.spark


def test_spark_backend_links_like_duckdb(small_city: Path, tmp_path: Path, monkeypatch) -> None:
    # make test-spark asks for this test: a missing pyspark or Java is a failure, not a skip
    if importlib.util.find_spec("pyspark") is None:
        pytest.fail("pyspark がありません: pip install -e '.[spark]' (make test-spark が入れます)")
    if shutil.which("java") is None:
        pytest.fail("Spark には Java 17 以降が必要です (java が見つかりません)")
    from mimamori_lib import ingest, linkage
    from mimamori_lib.catalogue.tables import read_identity
    from mimamori_lib.params import load_params
    from mimamori_lib.synth.evaluate import linkage_accuracy

    monkeypatch.setenv("MIMAMORI_KEY_FILE", str(tmp_path / "k.key"))
    base = {"raw_dir": str(small_city / "raw"), "out_dir": str(tmp_path / "out")}
    p = load_params("params/fy2025.yaml", base)
    ingest.run(p)
    duck = linkage.run(p, write=False)
    ps = load_params("params/fy2025.yaml", {**base, "linkage": {"backend": "spark"}})
    spark = linkage.run(ps, write=False)
    truth = small_city / "synthetic_truth" / "fy2025"
    acc_d = linkage_accuracy(duck.links, read_identity(p), truth)
    acc_s = linkage_accuracy(spark.links, read_identity(p), truth)
    assert acc_s["precision"] >= 0.998 and acc_s["f1"] >= 0.99, acc_s
    agree = (duck.links["person_id"].fillna("") == spark.links["person_id"].fillna("")).mean()
    assert agree > 0.99, (agree, acc_d, acc_s)

"""Params: one schema holds every default; bad files give one Japanese line naming the file and the key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mimamori_lib import cli, paths
from mimamori_lib.params import Params, ParamsError, load_params, reference, run_years, year_params


def _write(d: Path, name: str, text: str) -> Path:
    f = d / name
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(text, encoding="utf-8")
    return f


def test_defaults_come_from_the_schema() -> None:
    p = load_params("params/fy2025.yaml")
    assert p.linkage.auto_threshold == Params.model_fields["linkage"].default.auto_threshold == 0.95
    assert p.linkage.review_threshold == 0.50 and p.extraction.supported_items == ["B01", "B08", "N05"]
    assert p.reference_date == dt.date(2025, 9, 1) and p.processed == paths.PROCESSED / "fy2025"
    assert p.ingest.registry == paths.PARAMS / "sources.yaml" and p.indicators.catalogue == paths.PARAMS / "indicators.yaml"
    assert run_years(p) == [2024, 2025] and year_params(p, 2024).fiscal_year == 2024


def test_every_parameter_is_documented() -> None:
    undocumented = [k for k, _default, desc in reference() if not desc]
    assert undocumented == [], undocumented


def test_no_second_default_in_code() -> None:
    """Code reads typed params; no module falls back to its own default with .get(…, default)."""
    import re

    for f in paths.PACKAGE.rglob("*.py"):
        if "synth" in f.parts:
            continue
        text = f.read_text(encoding="utf-8")
        assert not re.search(r'p\.get\("', text) and 'p["_' not in text, f"{f.name} reads params as a dict"


@pytest.mark.parametrize(("text", "needle"), [
    ("fiscal_year: 2025\nextends: common.yaml\nextraction:\n  top_basic: twenty\n", "extraction.top_basic: 整数ではありません"),
    ("fiscal_year: 2025\nextends: common.yaml\nextraction:\n  top_basci: 20\n", "extraction.top_basci: 不明な項目です"),
    ("fiscal_year: 2025\nextends: common.yaml\nlinkage:\n  auto_threshold: 1.5\n", "linkage.auto_threshold: 1 以下"),
    ("fiscal_year: 2025\nextends: common.yaml\nextraction:\n  ties: maybe\n", "extraction.ties: 次のいずれか"),
    ("fiscal_year: 2025\nextends: common.yaml\nlinkage:\n  review_threshold: 0.99\n", "review_threshold は auto_threshold 以下"),
    ("fiscal_year: 2025\nextends: common.yaml\nreference_date: 2025-13-01\n", "reference_date"),
    ("extends: common.yaml\nyears: {}\n", "fiscal_year: 必須の項目がありません"),
    ("fiscal_year: 2025\nextends: common.yaml\nextraction: [1, 2]\n", "extraction: 「キー: 値」の形ではありません"),
    ("- a\n- b\n", "「キー: 値」の形ではありません"),
    ("fiscal_year: 2025\n  bad: [\n", "YAML が読めません"),
])
def test_bad_params_name_the_file_and_key(tmp_path: Path, text: str, needle: str) -> None:
    common = (paths.PARAMS / "common.yaml").read_text(encoding="utf-8")
    _write(tmp_path, "common.yaml", common.replace("fy2024.yaml", str(paths.PARAMS / "fy2024.yaml"))
           .replace("fy2025.yaml", str(paths.PARAMS / "fy2025.yaml")))
    f = _write(tmp_path, "city.yaml", text)
    with pytest.raises(ParamsError) as e:
        load_params(f)
    msg = str(e.value)
    assert needle in msg and str(f) in msg or ("YAML" in needle and str(f) in msg), msg
    assert "\n" not in msg and "Traceback" not in msg


def test_missing_file_and_extends_cycle(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="見つかりません"):
        load_params(tmp_path / "nope.yaml")
    _write(tmp_path, "a.yaml", "extends: b.yaml\nfiscal_year: 2025\n")
    _write(tmp_path, "b.yaml", "extends: a.yaml\n")
    with pytest.raises(ParamsError, match="循環"):
        load_params(tmp_path / "a.yaml")
    _write(tmp_path, "c.yaml", "extends: missing.yaml\nfiscal_year: 2025\n")
    with pytest.raises(ParamsError, match="missing.yaml"):
        load_params(tmp_path / "c.yaml")


def test_the_key_is_named_in_the_file_that_wrote_it(tmp_path: Path) -> None:
    _write(tmp_path, "base.yaml", f"extends: {paths.PARAMS / 'common.yaml'}\nextraction:\n  tier_band: -3\n")
    f = _write(tmp_path, "fy.yaml", "extends: base.yaml\nfiscal_year: 2025\n")
    with pytest.raises(ParamsError) as e:
        load_params(f)
    assert "extraction.tier_band" in str(e.value) and str(tmp_path / "base.yaml") in str(e.value)


def test_a_city_file_outside_params_resolves_its_paths(tmp_path: Path) -> None:
    """Relative paths resolve against the file that wrote them: a file elsewhere may extend the city's file."""
    f = _write(tmp_path / "mine", "fy2025.yaml", f"extends: {paths.PARAMS / 'fy2025.yaml'}\nraw_dir: exports\n"
               "out_dir: ../out\nextraction:\n  tier_band: 30\n")
    p = load_params(f)
    assert p.raw_dir == tmp_path / "mine" / "exports" and p.out_dir == tmp_path / "out"
    assert p.ingest.registry == paths.PARAMS / "sources.yaml" and p.ingest.registry.exists()
    assert p.years[2024] == paths.PARAMS / "fy2024.yaml" and p.extraction.tier_band == 30
    assert p.with_overrides({"extraction": {"tier_band": 5}}).extraction.tier_band == 5


def test_cli_prints_user_errors_without_traceback(tmp_path: Path, capsys) -> None:
    import subprocess
    import sys

    f = _write(tmp_path, "bad.yaml", f"extends: {paths.PARAMS / 'fy2025.yaml'}\nextraction:\n  top_basic: twenty\n")
    r = subprocess.run([sys.executable, "-m", "mimamori_lib.cli", "params", "--params", str(f)], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "extraction.top_basic: 整数ではありません" in lines[0] and str(f) in lines[0], r.stderr
    assert cli.main(["run", "--params", str(tmp_path / "missing.yaml")]) == 2
    assert "見つかりません" in capsys.readouterr().err
    assert cli.main(["-v", "params", "--params", str(f)]) == 2
    assert "Traceback" in capsys.readouterr().err, "-v shows the traceback"
    assert cli.main(["params", "--params", "params/fy2025.yaml"]) == 0
    assert "auto_threshold: 0.95" in capsys.readouterr().out
    assert cli.main(["params", "--reference"]) == 0
    assert "extraction.tier_band: 0" in capsys.readouterr().out


def test_a_notebook_gets_its_years_parameters_back(tmp_path: Path) -> None:
    """A notebook is given the params file and ``overrides()``: for a year written inline in a one-file city that
    must give that year (its own settings), not the file's latest year."""
    from mimamori_lib.params import run_years, year_params

    f = tmp_path / "city.yaml"
    f.write_text(f"extends: {Path('params/common.yaml').resolve()}\nyears:\n  2024: {{extraction: {{top_basic: 15}}}}\n"
                 "  2025: {}\n", encoding="utf-8")
    base = load_params(f, {"out_dir": str(tmp_path / "out")})
    for fy in run_years(base):
        p = year_params(base, fy)
        again = load_params(p.params_path, p.overrides())
        assert again.fiscal_year == fy and again.processed == p.processed
        assert again.model_dump() == p.model_dump()
    assert year_params(base, 2024).extraction.top_basic == 15 and base.extraction.top_basic != 15
    for fy in (2024, 2025):   # a year with its own file, as in params/
        p = year_params(load_params("params/fy2025.yaml"), fy)
        assert load_params(p.params_path, p.overrides()).model_dump() == p.model_dump()

"""The ``mimamori`` command: ``synth``, ``run`` and ``report``."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from . import paths


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr)
    for noisy in ("papermill", "traitlets", "matplotlib", "asyncio", "blib2to3", "nbconvert", "NbConvertApp"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def cmd_synth(a: argparse.Namespace) -> int:
    if a.what in ("meeting", "review"):
        return cmd_meeting(a)
    from .synth.generate import generate

    out = paths.resolve(a.out, paths.RAW)
    truth = paths.resolve(a.truth, paths.TRUTH) if a.truth else (
        paths.TRUTH if out == paths.RAW else out.parent / "synthetic_truth")
    s = generate(out, truth, children=a.children, seed=a.seed, years=a.years)
    logging.getLogger(__name__).info("合成データを書き出しました: %s (%d ファイル, %.1f 秒); 正解データ: %s",
                                     out, len(s["files"]), s["seconds"], truth)
    return 0


def cmd_meeting(a: argparse.Namespace) -> int:
    """Demo: fill the year's meeting decisions from the synthetic truth (after the extraction list exists)."""
    from .params import load_params
    from .synth.meeting import fill_decisions

    if not a.fy:
        logging.getLogger(__name__).error("--fy を指定してください (例: mimamori synth meeting --fy 2025)")
        return 2
    raw = paths.resolve(a.raw_dir or a.out, paths.RAW)
    p = load_params(paths.PARAMS / f"fy{a.fy}.yaml", {"raw_dir": str(raw), "out_dir": a.out_dir})
    truth = paths.resolve(a.truth, paths.TRUTH) if a.truth else (paths.TRUTH if raw == paths.RAW else raw.parent / "synthetic_truth")
    if a.what == "review":
        from .synth.review import fill_review

        f = fill_review(raw, truth, p["_internal_dir"], int(a.fy))
        logging.getLogger(__name__).info("名寄せの確認結果 (合成) を書き出しました: %s (次回の実行で反映されます)", f)
        return 0
    f = fill_decisions(raw, truth, p["_internal_dir"], int(a.fy), p["reference_date"], seed=int(p["synth"]["seed"]))
    logging.getLogger(__name__).info("会議の判断 (合成) を書き出しました: %s", f)
    return 0


def cmd_run(a: argparse.Namespace) -> int:
    from .pipeline import StepFailed, run_year

    try:
        r = run_year(a.params, a.raw_dir, a.out_dir)
    except StepFailed as e:
        logging.getLogger(__name__).error("%s", e)
        return 1
    logging.getLogger(__name__).info("FY%d: %d ステップ完了 (%.1f 秒)", r.fiscal_year, len(r.steps), r.seconds)
    return 0


MEETING_STEP = "35_meeting"


def cmd_report(a: argparse.Namespace) -> int:
    """The whole demo: synthetic city (if data/raw is empty), then every year's pipeline."""
    from .params import load_params
    from .pipeline import StepFailed, run_year
    from .synth.generate import generate

    log = logging.getLogger(__name__)
    t0 = time.perf_counter()
    base = load_params(a.params)
    raw = paths.resolve(a.raw_dir, paths.RAW)
    years = [int(y) for y in base["synth"]["years"]]
    if not any(raw.glob("fy*/*/*.csv")):
        log.info("%s が空なので合成データを生成します (こども %d 人, seed %d)", raw, base["synth"]["children"], base["synth"]["seed"])
        truth = paths.TRUTH if raw == paths.RAW else raw.parent / "synthetic_truth"
        generate(raw, truth, children=int(a.children or base["synth"]["children"]), seed=int(base["synth"]["seed"]), years=years)
    from .synth.meeting import fill_decisions

    results = []
    for fy in years:
        pfile = paths.PARAMS / f"fy{fy}.yaml"
        try:
            first = run_year(pfile, str(raw), a.out_dir, stop=MEETING_STEP)
            p = load_params(pfile, {"raw_dir": str(raw), "out_dir": a.out_dir})
            if (p["_internal_dir"] / "extraction.csv").exists():
                truth = paths.TRUTH if raw == paths.RAW else raw.parent / "synthetic_truth"
                f = fill_decisions(raw, truth, p["_internal_dir"], fy, p["reference_date"], seed=int(base["synth"]["seed"]))
                log.info("FY%d 支援担当者会議の判断 (合成データ) を記入しました: %s", fy, f)
            second = run_year(pfile, str(raw), a.out_dir, start=MEETING_STEP)
            first.steps += second.steps
            results.append(first)
        except StepFailed as e:
            log.error("%s", e)
            return 1
    rep = paths.reports_dir(a.out_dir)
    log.info("完了 (%.1f 秒)。レポート: %s", time.perf_counter() - t0, rep)
    for r in results:
        for s in r.steps:
            log.info("  FY%d %s: %s", r.fiscal_year, s["step"], s["html"])
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="mimamori", description="こども見守り: 庁内データ連携による支援の必要なこどもの早期発見")
    ap.add_argument("-v", "--verbose", action="store_true")
    sub = ap.add_subparsers(dest="command", required=True)

    s = sub.add_parser("synth", help="合成都市のエクスポートを生成する (meeting: 会議の判断を合成して記入する)")
    s.add_argument("what", nargs="?", choices=["city", "meeting", "review"], default="city",
                   help="city: 合成都市 / meeting: 会議の判断 / review: 名寄せの確認結果 (いずれも合成データ用)")
    s.add_argument("--out", default="data/raw", help="出力先 (年度フォルダ fyYYYY/ をその下に作る)")
    s.add_argument("--fy", type=int, default=None, help="meeting: 年度 (例: 2025)")
    s.add_argument("--raw-dir", default=None, help="meeting: 入力フォルダ (既定: --out)")
    s.add_argument("--out-dir", default=None, help="meeting: 抽出リストを書いた実行の出力先")
    s.add_argument("--truth", default=None, help="正解データの出力先 (既定: data/synthetic_truth)")
    s.add_argument("--children", type=int, default=16696, help="初年度の基準日に 0–18 歳のこどもの数")
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--years", type=int, nargs="+", default=[2024, 2025])
    s.set_defaults(func=cmd_synth)

    r = sub.add_parser("run", help="ある年度のノートブックを順に実行し HTML にする")
    r.add_argument("--params", required=True, help="例: params/fy2025.yaml")
    r.add_argument("--raw-dir", default=None, help="年度フォルダ (fyYYYY/) を含む入力フォルダ")
    r.add_argument("--out-dir", default=None, help="出力先 (<out>/processed/<fy>/, <out>/reports/)")
    r.set_defaults(func=cmd_run)

    p = sub.add_parser("report", help="デモ全体: 合成データ → 各年度のパイプライン → レポート")
    p.add_argument("--raw-dir", default=None)
    p.add_argument("--out-dir", default=None)
    p.add_argument("--children", type=int, default=None, help="合成都市の大きさ (既定: パラメータの synth.children)")
    p.add_argument("--params", default="params/fy2025.yaml", help="合成都市の設定 (synth:) を読むパラメータ (例: params/smoke.yaml)")
    p.set_defaults(func=cmd_report)
    return ap


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    _setup_logging(a.verbose)
    return a.func(a)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

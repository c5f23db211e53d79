"""The ``mimamori`` command: ``report`` (the annual run, or the demo), ``run`` (one year), ``synth`` (the
synthetic city and its stand-ins for staff) and ``params`` (what a run will use).

A user's mistake (a params file, a missing input, a decisions file that cannot be used) prints one Japanese line
and exits with status 2; ``-v`` shows the traceback. A failing notebook exits with status 1, naming the step and
the cell.

Each command imports what it needs inside its function (the only module that does so, with the plots and the
synthetic city's stand-ins): measured on this machine, importing the CLI takes 1.4–1.6 s, and every command's
modules together 2.7–2.8 s, which ``mimamori sources check`` or ``mimamori kaiji`` would otherwise wait for.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from . import paths
from .catalogue import datasets
from .errors import UserError

log = logging.getLogger(__name__)
MEETING_STEP = "35_meeting"


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr, force=True)
    for noisy in ("papermill", "traitlets", "matplotlib", "asyncio", "blib2to3", "nbconvert", "NbConvertApp", "splink",
                  "numexpr", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def _dir(arg: str | None) -> str | None:
    """A folder given on the command line: relative to the working directory."""
    return None if arg is None else str(Path(arg).expanduser().resolve())


# --- synth -------------------------------------------------------------------------------------------

def cmd_synth(a: argparse.Namespace) -> int:
    if a.what != "city":
        return cmd_stand_in(a)
    from .synth.generate import generate

    out = Path(_dir(a.out) or paths.RAW)
    truth = Path(_dir(a.truth)) if a.truth else (paths.TRUTH if out == paths.RAW else out.parent / "synthetic_truth")
    s = generate(out, truth, children=a.children, seed=a.seed, years=a.years)
    log.info("合成データを書き出しました: %s (%d ファイル, %.1f 秒); 正解データ: %s", out, len(s["files"]), s["seconds"], truth)
    return 0


def _synthetic_raw(raw: Path) -> dict:
    """The manifest of a marked synthetic city; a city's own exports are refused."""
    from .synth.marker import MARKER, read_marker

    m = read_marker(raw)
    if m is None:
        raise UserError(f"{raw} は合成データ (デモ) の入力フォルダではありません ({MARKER} がありません)。"
                        "会議の判断・名寄せの確認結果・事例記録は職員が記入したものだけを使います。合成データで"
                        "代わりに記入するのは mimamori synth で作ったフォルダだけです")
    return m


def cmd_stand_in(a: argparse.Namespace) -> int:
    """Demo: the meeting's decisions, the review answers or case records, made up from the synthetic truth."""
    from .params import load_params, year_params
    from .synth.marker import truth_root

    if not a.fy:
        raise UserError(f"--fy を指定してください (例: mimamori synth {a.what} --fy 2025)")
    base = load_params(a.params, {"raw_dir": _dir(a.raw_dir or a.out), "out_dir": _dir(a.out_dir)})
    p = year_params(base, a.fy)
    _synthetic_raw(p.raw_dir)
    truth = truth_root(p.raw_dir)
    if a.what == "review":
        from .synth.review import fill_review

        f, n = fill_review(p, truth, only_changing=a.only_changing)
        log.info("名寄せの確認結果 (合成, %d 組) を書き出しました: %s (次回の実行で反映されます)", n, f)
        return 0
    if a.what == "kikitori":
        from .synth.kikitori import fill_kikitori

        files = fill_kikitori(p, truth)
        if not files:
            raise UserError(f"FY{a.fy} の聞き取り票がまだありません ({datasets.path(p, 'hearing_forms')})。先に実行してください")
        log.info("学校からの聞き取りの回答 (合成, %d 校) を書き出しました: %s (次回の実行で反映されます)", len(files),
                 datasets.saved_target(p, "hearing"))
        return 0
    if a.what == "cases":
        from .synth.cases import fill_cases

        f = fill_cases(p)
        if f is None:
            raise UserError(f"FY{a.fy} の会議の判断がまだ読み込まれていません ({datasets.path(p, 'decisions')})。"
                            "先に会議の判断を記入して実行してください (mimamori synth meeting → mimamori run)")
        log.info("事例記録 (合成) を書き出しました: %s (次回の実行で反映されます)", f)
        return 0
    from .synth.meeting import fill_decisions

    f = fill_decisions(p, truth)
    log.info("会議の判断 (合成) を書き出しました: %s", f)
    return 0


# --- run and report ----------------------------------------------------------------------------------

def cmd_run(a: argparse.Namespace) -> int:
    from .pipeline import run_year

    r = run_year(a.params, _dir(a.raw_dir), _dir(a.out_dir), force=a.force, from_step=a.from_step, wait=a.wait)
    _summary([r])
    return 0


def _summary(results: list) -> None:
    for r in results:
        ran = [s["step"] for s in r.steps if s["outcome"] == "ran"]
        skipped = [s["step"] for s in r.steps if s["outcome"] == "skipped"]
        log.info("FY%d: 実行 %d ステップ (%.1f 秒)%s", r.fiscal_year, len(ran), r.seconds,
                 f"、最新のためスキップ {len(skipped)} ステップ ({'・'.join(skipped)})" if skipped else "")


def _has_exports(raw: Path) -> bool:
    return any(raw.glob("fy*/*/*.csv"))


def cmd_report(a: argparse.Namespace) -> int:
    """Every year of the run in order. A city's own exports: each year straight through, reading whatever staff
    saved. The synthetic demo: generated first when the raw folder is empty, with made-up meetings in between."""
    from .params import load_params, run_years, year_params
    from .pipeline import Node, live_years, run_all
    from .synth.demo import DemoStaff
    from .synth.marker import read_marker

    t0 = time.perf_counter()
    base = load_params(a.params, {"raw_dir": _dir(a.raw_dir), "out_dir": _dir(a.out_dir)})
    raw = base.raw_dir
    years = run_years(base)
    if not _has_exports(raw):
        if not (a.demo or raw == paths.RAW):
            raise UserError(f"入力フォルダにエクスポートがありません: {raw} (各課のエクスポートを <年度>/<部署>/<ファイル>.csv の形で"
                            "置いてください。合成データでデモを実行するには --demo を付けます)")
        from .synth.generate import generate

        children = int(a.children or base.synth.children)
        log.info("%s にエクスポートがないため合成データ (デモ) を生成します (こども %d 人, seed %d)", raw, children, base.synth.seed)
        truth = paths.TRUTH if raw == paths.RAW else raw.parent / "synthetic_truth"
        generate(raw, truth, children=children, seed=base.synth.seed, years=years)
    demo = read_marker(raw) is not None
    log.info("%s: %s (年度 %s)", raw, "合成データのデモ" if demo else "市のエクスポート", "・".join(map(str, years)))
    staff = DemoStaff(base) if demo else None
    # the demo's schools answer right after extraction: the runner runs the extraction again with their answers
    results = run_all(base, staff.hooks(Node) if staff else {}, force=a.force, from_step=a.from_step, wait=a.wait)
    log.info("完了 (%.1f 秒)。レポート: %s", time.perf_counter() - t0, base.reports)
    _summary(results)
    for fy in live_years(base, say=False):
        p = year_params(base, fy)
        if not datasets.exists(p, "decisions"):
            log.info("FY%d: 支援担当者会議の判断はまだありません。会議後に記入した抽出リストを %s に保存すると、次回の実行で反映されます",
                     fy, datasets.saved_target(p, "decisions", ".xlsx"))
    return 0


# --- sources ---------------------------------------------------------------------------------------------

def cmd_sources(a: argparse.Namespace) -> int:
    """``mimamori sources check``: every export against the source registry, nothing written. Exit 0 when a run
    would start, 1 when it would not."""
    from .ingest.check import check_all, report
    from .params import load_params

    base = load_params(a.params, {"raw_dir": _dir(a.raw_dir)})
    checks = check_all(base)
    sys.stdout.write(f"登録簿: {base.ingest.registry}\n")
    for line in report(checks, base.raw_dir):
        sys.stdout.write(line + "\n")
    return 1 if not checks or any(c.blocks for c in checks) else 0


# --- key -----------------------------------------------------------------------------------------------

def cmd_key(a: argparse.Namespace) -> int:
    """``mimamori key new``: a new pseudonym key (never over an existing file). Outputs made with another key stay
    as they are until every year is run again with ``--force``."""
    from .params import load_params
    from .privacy.pseudonym import key_path, new_key

    p = load_params(a.params, {"out_dir": _dir(a.out_dir)})
    f = Path(_dir(a.key_file)) if a.key_file else key_path(p)
    new_key(f)
    log.info("新しい仮名化キーを作りました: %s。このキーで全年度を作り直すには mimamori report --force を実行します。"
             "キーはエクスポートと同じ保管場所にバックアップしてください", f)
    return 0


# --- params ------------------------------------------------------------------------------------------

def cmd_params(a: argparse.Namespace) -> int:
    """Print the values a run will use, or the reference of every parameter."""
    import yaml

    from .params import load_params, reference

    if a.reference:
        for key, default, desc in reference():
            sys.stdout.write(f"{key}: {default}  # {desc}\n" if default else f"{key}:  # {desc}\n")
        return 0
    p = load_params(a.params, {"raw_dir": _dir(a.raw_dir), "out_dir": _dir(a.out_dir)})
    sys.stdout.write(f"# {p.params_path}\n")
    sys.stdout.write(yaml.safe_dump(p.model_dump(mode="json"), allow_unicode=True, sort_keys=False))
    return 0


# --- the family's rights and the records a city keeps ------------------------------------------------------

def cmd_kaiji(a: argparse.Namespace) -> int:
    """``mimamori kaiji --atena N``: everything the out dir holds about a child, in one private workbook."""
    from .params import load_params
    from .pipeline.lock import run_lock
    from .rights import kaiji

    p = load_params(a.params, {"raw_dir": _dir(a.raw_dir), "out_dir": _dir(a.out_dir)})
    try:
        with run_lock(datasets.path(p, "run_lock"), wait=a.wait):
            f = kaiji.write(p, a.atena)
    except kaiji.NotHeld as e:
        sys.stdout.write(f"{e}\n")
        return 0
    log.info("開示の資料を書き出しました (提供記録に記録しました): %s", f)
    sys.stdout.write(f"{f}\n")
    return 0


def cmd_file_register(a: argparse.Namespace) -> int:
    """``mimamori fairu-bo``: the 個人情報ファイル簿 from the registry and params (no personal data)."""
    from .params import load_params
    from .records import file_register

    p = load_params(a.params, {"out_dir": _dir(a.out_dir)})
    f = file_register.write(p)
    log.info("個人情報ファイル簿を書き出しました (記録項目 %d 項目): %s", len(file_register.recorded_items(p)), f)
    sys.stdout.write(f"{f}\n")
    return 0


def cmd_purge(a: argparse.Namespace) -> int:
    """``mimamori purge``: what has passed its retention; removed with ``--yes`` (logged, and kept purged)."""
    import datetime as dt

    from .params import load_params
    from .pipeline.lock import run_lock
    from .records import retention

    p = load_params(a.params, {"out_dir": _dir(a.out_dir)})
    try:
        today = dt.date.fromisoformat(a.today) if a.today else dt.date.today()
    except ValueError:
        raise UserError(f"--today は YYYY-MM-DD の形で指定してください: {a.today}") from None
    found = retention.expired(p, today)
    if not found:
        log.info("保存期間を過ぎたデータはありません (%s 現在; retention.years: %d, retention.records_years: %d)", today,
                 p.retention.years, p.retention.records_years)
        return 0
    for line in retention.describe(found):
        log.info("保存期間を過ぎています: %s", line)
    if not a.yes:
        log.info("削除するには --yes を付けて、もう一度実行してください (削除したものは %s に記録します)",
                 datasets.path(p, "purge_log"))
        return 0
    with run_lock(datasets.path(p, "run_lock"), wait=False):
        done = retention.purge(p, today)
    log.info("削除しました: %s。記録: %s。エクスポート (%s) は市のフォルダのため削除していません。文書の保存期間に従って"
             "市の手順で削除してください", "・".join(f"FY{e.fy} の{e.kind}" for e in done), datasets.path(p, "purge_log"),
             p.raw_dir)
    return 0


# --- the parser --------------------------------------------------------------------------------------

def _rerun_options(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--force", action="store_true", help="最新のステップも含めてすべて実行し直す")
    sp.add_argument("--from", dest="from_step", default=None, metavar="STEP",
                    help="このステップ (例: 30_extract) 以降を実行し直す")
    sp.add_argument("--wait", action="store_true", help="同じ出力先で別の実行が進行中なら、終わるのを待ってから実行する")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="mimamori", description="こども見守り: 庁内データ連携による支援の必要なこどもの早期発見")
    ap.add_argument("-v", "--verbose", action="store_true", help="詳しいログとエラーの詳細 (トレースバック) を表示する")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("report", help="年度ごとのパイプラインを順に実行しレポートを作る (入力が空なら合成データでデモ)")
    p.add_argument("--params", default="params/fy2025.yaml", help="パラメータ (years: の年度を順に実行する)")
    p.add_argument("--raw-dir", default=None, help="各課のエクスポート (<年度>/<部署>/<ファイル>.csv) のフォルダ")
    p.add_argument("--out-dir", default=None, help="出力先 (<out>/processed/, <out>/reports/)")
    p.add_argument("--demo", action="store_true", help="入力フォルダが空なら合成データを生成する (既定の data/raw では常に)")
    p.add_argument("--children", type=int, default=None, help="合成都市の大きさ (既定: パラメータの synth.children)")
    _rerun_options(p)
    p.set_defaults(func=cmd_report)

    r = sub.add_parser("run", help="ある年度のノートブックを順に実行し HTML にする")
    r.add_argument("--params", required=True, help="例: params/fy2025.yaml")
    r.add_argument("--raw-dir", default=None, help="年度フォルダ (fyYYYY/) を含む入力フォルダ")
    r.add_argument("--out-dir", default=None, help="出力先 (<out>/processed/<fy>/, <out>/reports/)")
    _rerun_options(r)
    r.set_defaults(func=cmd_run)

    s = sub.add_parser("synth", help="合成都市 (デモ・テスト用) と、職員の記入の代わり (合成データのフォルダのみ)")
    s.add_argument("what", nargs="?", choices=["city", "meeting", "review", "kikitori", "cases"], default="city",
                   help="city: 合成都市 / meeting: 会議の判断 / review: 名寄せの確認結果 / kikitori: 学校からの聞き取りの回答 / "
                        "cases: 事例記録")
    s.add_argument("--out", default="data/raw", help="city: 出力先 (年度フォルダ fyYYYY/ をその下に作る)")
    s.add_argument("--truth", default=None, help="city: 正解データの出力先 (既定: 出力先の隣の synthetic_truth)")
    s.add_argument("--children", type=int, default=16696, help="city: 初年度の基準日に 0–18 歳のこどもの数")
    s.add_argument("--seed", type=int, default=7, help="city: 乱数の種")
    s.add_argument("--years", type=int, nargs="+", default=[2024, 2025], help="city: 年度")
    s.add_argument("--fy", type=int, default=None, help="meeting/review/kikitori/cases: 年度 (例: 2025)")
    s.add_argument("--params", default="params/fy2025.yaml", help="meeting/review/cases: パラメータ")
    s.add_argument("--raw-dir", default=None, help="meeting/review/cases: 入力フォルダ (既定: --out)")
    s.add_argument("--out-dir", default=None, help="meeting/review/cases: 抽出リストを書いた実行の出力先")
    s.add_argument("--only-changing", action="store_true",
                   help="review: 抽出が変わりうる組 (グループが変わる・順位が上がる) だけを判定する")
    s.set_defaults(func=cmd_synth)

    c = sub.add_parser("sources", help="check: 各課のエクスポートを登録簿と照合する (何も書き出さない)")
    c.add_argument("what", choices=["check"])
    c.add_argument("--raw-dir", default=None, help="各課のエクスポート (<年度>/<部署>/<ファイル>.csv) のフォルダ")
    c.add_argument("--params", default="params/fy2025.yaml", help="パラメータ (ingest.registry: 市の登録簿)")
    c.set_defaults(func=cmd_sources)

    k = sub.add_parser("key", help="仮名化キー: new で新しいキーを作る (既存のファイルは上書きしない)")
    k.add_argument("what", choices=["new"])
    k.add_argument("--key-file", default=None, help="作るキーのファイル (既定: MIMAMORI_KEY_FILE、params の key_file、data/mimamori.key)")
    k.add_argument("--params", default="params/fy2025.yaml")
    k.add_argument("--out-dir", default=None)
    k.set_defaults(func=cmd_key)

    kj = sub.add_parser("kaiji", help="開示: あるこどもについて保有しているすべての情報を 1 つのファイルにする (庁内用)")
    kj.add_argument("--atena", required=True, help="こどもの宛名番号")
    kj.add_argument("--params", default="params/fy2025.yaml")
    kj.add_argument("--raw-dir", default=None, help="各課のエクスポートのフォルダ (元の記録を読む)")
    kj.add_argument("--out-dir", default=None)
    kj.add_argument("--wait", action="store_true", help="同じ出力先で実行が進行中なら、終わるのを待つ")
    kj.set_defaults(func=cmd_kaiji)

    fb = sub.add_parser("fairu-bo", help="個人情報ファイル簿を登録簿とパラメータから作る (公表できる: 個人情報を含まない)")
    fb.add_argument("--params", default="params/fy2025.yaml")
    fb.add_argument("--out-dir", default=None, help="出力先 (<out>/reports/個人情報ファイル簿.xlsx)")
    fb.set_defaults(func=cmd_file_register)

    pg = sub.add_parser("purge", help="保存期間を過ぎたデータを示す (--yes で削除し、削除の記録を残す)")
    pg.add_argument("--params", default="params/fy2025.yaml", help="パラメータ (retention: 保存期間)")
    pg.add_argument("--out-dir", default=None)
    pg.add_argument("--yes", action="store_true", help="表示したものを削除する")
    pg.add_argument("--today", default=None, help="基準にする日 (YYYY-MM-DD; 既定は今日)")
    pg.set_defaults(func=cmd_purge)

    q = sub.add_parser("params", help="実行に使われるパラメータ (既定値を含む) を表示する")
    q.add_argument("--params", default="params/fy2025.yaml")
    q.add_argument("--raw-dir", default=None)
    q.add_argument("--out-dir", default=None)
    q.add_argument("--reference", action="store_true", help="すべてのパラメータの既定値と説明を表示する")
    q.set_defaults(func=cmd_params)
    return ap


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    _setup_logging(a.verbose)
    from .pipeline import StepFailed

    try:
        return a.func(a)
    except UserError as e:
        if a.verbose:
            log.exception("エラー")
        log.error("エラー: %s", e)
        return 2
    except StepFailed as e:
        if a.verbose and e.__cause__ is not None:
            log.error("詳細", exc_info=e.__cause__)
        log.error("%s", e)
        return 2 if e.user_error else 1
    except KeyboardInterrupt:
        if a.verbose:
            log.exception("中断")
        log.error("中断しました。終わっていなかったステップは記録されていないため、次の実行でやり直します")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

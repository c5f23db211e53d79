"""Demo helper: case records (``shien/jirei.csv``) for the synthetic city's 支援要 children, the way staff would write
them after some months of support. A share is marked 公開可否=可; one 可 case deliberately names its child, which the
de-identification check must catch (the internal report then says why it was left out). Real cities never run this:
their staff write the records."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from ..catalogue import datasets
from ..params import Params

# by difficulty type: (判定前の状況, 確認できた状況, 状況の変化, 効果・示唆) — alternatives, one picked per case
TEXTS = {
    "貧困": [("就学援助を受けており、学校からは学用品の準備が難しいことがあると聞いていた。",
             "家庭訪問で、保護者の収入が減り、家計のやりくりに困っていることが分かった。",
             "生活困窮の相談窓口につなぎ、家計相談と就労支援が始まった。学用品もそろうようになった。",
             "福祉と学校の情報を合わせて見ることで、学校だけでは見えなかった家庭の経済的な困りごとに早く気づけた。"),
            ("給食費の未納が続いていたが、家庭の状況は分かっていなかった。",
             "保護者と面談し、病気で働けない期間があり、相談先を知らなかったことが分かった。",
             "生活保護の相談につながり、未納は解消した。こどもは落ち着いて登校している。",
             "未納の情報と相談の記録を一緒に見たことで、支援につなぐきっかけができた。")],
    "不登校": [("前年度から欠席が増えており、保健室の利用も多かった。",
               "スクールソーシャルワーカーが面談し、朝起きられないことと、家庭で悩みを話せる人がいないことが分かった。",
               "学校と福祉の担当が役割を分けて関わり、別室登校から少しずつ教室で過ごせる時間が増えた。",
               "出欠と福祉の情報を合わせたことで、欠席の背景にある家庭の事情を早く共有できた。"),
              ("欠席と遅刻が続いていたが、学校では理由がつかめていなかった。",
               "関係課で情報を共有し、保護者も疲れて相談できずにいたことが分かった。",
               "保護者の相談先が決まり、こどもは週に数日登校できるようになった。",
               "学校以外の課の情報から、家庭全体を支える必要があることに気づけた。")],
    "虐待の疑い": [("乳幼児健診の未受診と、家庭児童相談の記録があった。",
                  "関係機関で情報を集め、養育の負担が大きい家庭であることを確認した。",
                  "児童相談所と連携し、定期的な見守りと家事支援を始めた。",
                  "複数の課の小さな気がかりを合わせることで、早い段階で関係機関が動けた。")],
    "養育困難": [("予防接種の未接種と、保護者の体調不良の情報があった。",
                 "家庭訪問で、保護者がひとりで育児を抱え込んでいることが分かった。",
                 "子育て支援のサービスにつなぎ、保護者が休める時間ができた。",
                 "健康と子育ての情報を合わせて見たことで、支援が必要な家庭に早く気づけた。")],
    "発達・障害": [("特別支援学級に在籍し、保健室の利用も多かった。",
                  "学校と障害福祉の担当で話し合い、放課後の居場所がないことが分かった。",
                  "障害児通所支援の利用が始まり、放課後を安心して過ごせるようになった。",
                  "学校と福祉の情報がつながり、必要なサービスを早く案内できた。")],
    "ヤングケアラー": [("遅刻と欠席が増えており、保護者に障害者手帳の記録があった。",
                     "本人との面談で、家族の世話を毎日していることが分かった。",
                     "家事支援と相談支援を始め、本人が勉強や友人と過ごす時間が増えた。",
                     "福祉と学校の情報を合わせることで、本人が言い出せなかった負担に気づけた。")],
    "その他": [("いくつかの課の記録に、小さな気がかりがあった。",
               "関係課で情報を共有し、家庭の困りごとを確認した。",
               "必要な相談先につなぎ、見守りを続けている。",
               "ひとつの課では気づけなかったことに、データの連携で気づけた。")],
}


# what makes each case's sentences its own: when it began, who found out, when it changed, how it was seen
PREFIXES = (
    ("春ごろから", "夏休み明けから", "秋ごろから", "年度の初めから", "しばらく前から", "前の年度から", "この半年ほど",
     "冬ごろから", "学期の途中から", "ここ数か月"),
    ("担任が関わり", "スクールソーシャルワーカーが関わり", "こども家庭センターの担当が関わり", "保健師が訪問し",
     "教頭と担当課で話し合い", "家庭児童相談員が面談し", "養護教諭が話を聞き", "学年主任と相談し", "民生委員の協力を得て",
     "関係課の担当者が集まり"),
    ("支援を始めてから", "数か月のうちに", "年度の後半には", "関わりを続けるなかで", "半年ほどで", "次の学期には",
     "その後", "しばらくして", "夏までに", "年明けには"),
    ("振り返ると", "会議では", "担当者の間では", "関係課からは", "学校からは", "支援を終えて", "記録を見直すと",
     "こども家庭センターからは", "担任からは", "事業の担当としては"),
)


def _sentence(options: list[tuple[str, str, str, str]], column: int, rng: np.random.Generator, used: set[str]) -> str:
    """One sentence of a column, never one an earlier case of the year already used: a type's phrasing opened by a
    time, a person or a view drawn from small lists, so that no two cases of the handout read alike."""
    for _ in range(200):
        base = options[int(rng.integers(len(options)))][column]
        lead = PREFIXES[column][int(rng.integers(len(PREFIXES[column])))]
        text = f"{lead}、{base}" if column == 0 or not base.startswith(lead) else base
        sentences = [x for x in text.split("。") if x]
        if sentences and not any(x in used for x in sentences[1:]) and sentences[0] not in used:
            used.update(sentences)
            return text
        if len(sentences) > 1:  # a second sentence an earlier case used: this case says only the first
            first = sentences[0] + "。"
            if sentences[0] not in used:
                used.add(sentences[0])
                return first
    return base


def _earlier_sentences(p: Params) -> set[str]:
    """The sentences of the case records the demo saved for the run's other years."""
    from openpyxl import load_workbook

    from ..params import run_years, year_params

    out: set[str] = set()
    for fy in run_years(p):
        if fy == p.fiscal_year:
            continue
        for f in datasets.saved_files(year_params(p, fy), "cases"):
            if f.suffix == ".xlsx":
                wb = load_workbook(f, read_only=True)
                for row in wb.active.iter_rows(values_only=True):
                    for v in row:
                        if isinstance(v, str):
                            out.update(x for x in v.split("。") if x)
                wb.close()
    return out


def fill_cases(p: Params, public_share: float = 0.25) -> Path | None:
    """Fill in the case template the run wrote for the year's 支援要 children and save it as staff do:
    ``<raw>/<fy>/shien/jirei.xlsx`` (``None``: no decisions or no template yet)."""
    from openpyxl import load_workbook

    fy = p.fiscal_year
    dec = datasets.read(p, "decisions")
    if dec is None or not (dec["support_needed"] == "要").any():
        return None
    if not datasets.exists(p, "case_template"):  # the demo fills it in before 45_cases would write it: the same file
        from ..cases.records import template_rows, write_template
        from ..judgement.indicators import load_catalogue

        write_template(p, template_rows(dec, datasets.read(p, "scores"), load_catalogue(p, every_item=True)),
                       dict(zip(dec["extract_id"], dec["person_id"], strict=True)))
    need = dec[dec["support_needed"] == "要"].set_index("extract_id")
    lst = pd.read_csv(datasets.path(p, "extraction_csv"), dtype=str, keep_default_na=False,
                      encoding="utf-8-sig").set_index("抽出ID")
    wb = load_workbook(datasets.path(p, "case_template"))
    ws = wb.active
    col = {c.value: c.column for c in ws[1]}
    rng = np.random.default_rng([p.synth.seed, fy, 13])
    planted = False
    used = _earlier_sentences(p)  # another year's cases are in the same handout: none of their sentences again
    for i, r in enumerate(range(2, ws.max_row + 1)):
        eid = ws.cell(r, col["抽出ID"]).value
        if eid not in need.index:
            continue
        d = need.loc[eid]
        types = [t for t in str(d["difficulty_types"]).replace("発達・障害", "発達障害").split("・") if t]
        t = "発達・障害" if types and types[0] == "発達障害" else (types[0] if types else "その他")
        choices = TEXTS.get(t, TEXTS["その他"])
        public = bool(rng.random() < public_share) or i < 2      # at least two cases marked 可 (one planted, one clean)
        # the handout shows the public cases side by side: none repeats a sentence of another (the others may)
        before, found, change, effect = (_sentence(choices, k, rng, used if public else set()) for k in range(4))
        if public and not planted and eid in lst.index:
            before = f"{lst.at[eid, '氏名']}さんは、{before}"   # the slip the de-identification check must catch
            planted = True
        started = pd.Timestamp(d["support_started_on"]) if pd.notna(d["support_started_on"]) else None
        recorded = (started or pd.Timestamp(dt.date(fy, 12, 1))) + pd.Timedelta(days=int(rng.integers(60, 150)))
        for c, v in {"判定前の状況": before, "確認できた状況": found, "状況の変化": change, "効果・示唆": effect,
                     "公開可否": "可" if public else "否", "記録日": recorded.to_pydatetime()}.items():
            ws.cell(r, col[c]).value = v
    target = datasets.saved_target(p, "cases", ".xlsx")
    target.parent.mkdir(parents=True, exist_ok=True)
    for other in datasets.saved_files(p, "cases"):
        if other != target:
            other.unlink()
    wb.save(target)
    return target

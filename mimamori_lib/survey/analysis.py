"""生活習慣等調査: how daily life relates to poverty and non-attendance (statsmodels).

For each survey item (an answer pattern, params ``survey.items``) and each difficulty (``survey.outcomes``: any of
its indicator items), a logistic regression of the difficulty on the item adjusted for grade and sex gives the
odds ratio, its 95% CI and p-value; Benjamini–Hochberg q-values correct for the many tests. A multivariable model
per difficulty puts all items together. These are associations in a cross-section, not causes.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..arrays import isin
from ..catalogue import datasets
from ..catalogue.registry import code_labels, load_registry, role_source
from ..catalogue.tables import read_table
from ..disclosure import protect, protect_many
from ..judgement.indicators import LINKED
from ..params import Params

log = logging.getLogger(__name__)
@dataclass
class SurveyResult:
    """The survey analysis of a year; empty (``available`` false) when the year has no survey, as in FY2024."""

    frame: pd.DataFrame | None = None            # one row per answer, linked to the registry (restricted)
    associations: pd.DataFrame | None = None     # odds ratios item × difficulty, with BH-corrected q-values
    multivariable: pd.DataFrame | None = None    # every item at once, per difficulty
    seconds: float = 0.0

    @property
    def available(self) -> bool:
        return self.associations is not None


LEVEL = {**{f"小{i}": "小学校" for i in range(1, 7)}, **{f"中{i}": "中学校" for i in range(1, 4)}}


def analysis_frame(p: Params) -> pd.DataFrame | None:
    """One row per linked respondent: answers, item flags (NaN where unanswered), outcomes, grade and sex."""
    sv_id = role_source(p, "survey")
    sv = read_table(p, sv_id)
    links = datasets.read(p, "links")
    items = datasets.read(p, "items")
    if sv is None or links is None or items is None:
        return None
    path = load_registry(p)[sv_id]["path"]
    lk = links[(links["source"] == path).to_numpy() & isin(links["status"], LINKED)][["row", "person_id"]]
    df = sv.merge(lk, on="row", how="left")
    scores = items
    juki = read_table(p, role_source(p, "registry"))[["person_id", "sex"]]
    cfg = p.survey
    for o, spec in cfg.outcomes.items():
        cols = [i for i in spec.items if i in scores]
        scores[o] = (scores[cols].sum(axis=1) > 0).astype(int)
    df = df.merge(scores[["person_id", *cfg.outcomes]], on="person_id", how="left").merge(juki, on="person_id", how="left")
    for item, spec in cfg.items.items():
        col = df[spec.column]
        df[item] = np.where(col.isna(), np.nan, col.isin([str(v) for v in spec.values]).astype(float))
    df["level"] = df["grade"].map(LEVEL)
    df["linked"] = df["person_id"].notna()
    return df


def response_summary(p: Params, df: pd.DataFrame) -> pd.DataFrame:
    """Respondents, linked respondents, and unanswered (blank or out-of-range) answers per question."""
    reg = load_registry(p)[role_source(p, "survey")]["columns"]
    rows = [{"設問": h, "回答数": int(df[c["name"]].notna().sum()), "無回答・範囲外": int(df[c["name"]].isna().sum())}
            for h, c in reg.items() if c["name"].startswith("q")]
    return pd.DataFrame(rows)


def distributions(p: Params, df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Answer counts per question by school level and sex, among respondents linked to the registry (whose sex it
    records; the few others would form rows of a handful of children). For disclosure control before publication."""
    reg = load_registry(p)[role_source(p, "survey")]["columns"]
    d = df[df["linked"].to_numpy() & df["sex"].notna().to_numpy() & df["level"].notna().to_numpy()]
    sex = d["sex"].map(code_labels(p, "sex"))
    out = {}
    for h, c in reg.items():
        if not c["name"].startswith("q"):
            continue
        labels = {str(k): v for k, v in c.get("labels", {}).items()}
        order = [labels.get(str(k), str(k)) for k in c.get("codes", [])] + ["無回答"]
        ans = d[c["name"]].map(lambda v, labels=labels: labels.get(v, v) if isinstance(v, str) else "無回答")
        t = pd.crosstab([d["level"], sex], ans)
        out[h] = t[[x for x in order if x in t.columns] + [x for x in t.columns if x not in order]]
    return out


def _fit(formula: str, data: pd.DataFrame):
    """A logistic regression of ``data`` (only the formula's columns), fitted once per distinct row with the number
    of respondents who gave it as a frequency weight: the same likelihood, estimates and standard errors as one row
    per respondent (to 1e-14), on a few hundred rows instead of 140,000. Returns (result, respondents)."""
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    # text columns as categories: patsy reads a category's codes, not every value of text one by one
    data = data.assign(**{c: data[c].astype("category") for c in data.columns
                          if isinstance(data[c].dtype, pd.StringDtype) or data[c].dtype == object})
    rows = data.groupby(list(data.columns), observed=True, sort=True).size().rename("_respondents").reset_index()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = smf.glm(formula, rows, family=sm.families.Binomial(), freq_weights=rows["_respondents"]).fit(maxiter=100, tol=1e-12)
    return result, int(rows["_respondents"].sum())


def associations(p: Params, df: pd.DataFrame) -> pd.DataFrame:
    """Odds ratio of each difficulty for each item, adjusted for grade and sex, with BH q-values."""
    from statsmodels.stats.multitest import multipletests

    cfg = p.survey
    base = df[df["linked"] & df["sex"].notna()]
    rows = []
    for outcome in cfg.outcomes:
        for item in cfg.items:
            d = base[[outcome, item, "grade", "sex"]].dropna()
            if d[item].nunique() < 2 or d[outcome].nunique() < 2:
                continue
            r, n = _fit(f"{outcome} ~ {item} + C(grade) + C(sex)", d)
            ci = r.conf_int().loc[item]
            x, y = d[item].to_numpy() == 1, d[outcome].to_numpy() == 1
            rows.append({"item": item, "outcome": outcome, "n": n, "odds_ratio": float(np.exp(r.params[item])),
                         "ci_low": float(np.exp(ci[0])), "ci_high": float(np.exp(ci[1])), "p_value": float(r.pvalues[item]),
                         "n11": int((x & y).sum()), "n10": int((x & ~y).sum()), "n01": int((~x & y).sum()),
                         "n00": int((~x & ~y).sum())})
    out = pd.DataFrame(rows)
    if len(out):
        out.insert(7, "q_value", multipletests(out["p_value"], method="fdr_bh")[1])
    return out


def multivariable(p: Params, df: pd.DataFrame) -> pd.DataFrame:
    """Per difficulty, all items together (adjusted for grade and sex): odds ratios, n and McFadden pseudo-R²."""
    cfg = p.survey
    items = list(cfg.items)
    base = df[df["linked"] & df["sex"].notna()]
    rows = []
    for outcome in cfg.outcomes:
        d = base[[outcome, *items, "grade", "sex"]].dropna()
        r, n = _fit(f"{outcome} ~ {' + '.join(items)} + C(grade) + C(sex)", d)
        ci = r.conf_int()
        pseudo_r2 = round(float(r.pseudo_rsquared(kind="mcf")), 4)  # McFadden's, as Logit's prsquared
        for item in items:
            rows.append({"outcome": outcome, "item": item, "n": n, "pseudo_r2": pseudo_r2,
                         "odds_ratio": float(np.exp(r.params[item])), "ci_low": float(np.exp(ci.loc[item, 0])),
                         "ci_high": float(np.exp(ci.loc[item, 1])), "p_value": float(r.pvalues[item])})
    return pd.DataFrame(rows)


def load_results(p: Params) -> SurveyResult:
    """The year's survey analysis as 40_survey saved it (no frame; nothing when the year has no survey): the public
    report reads these instead of fitting the models again."""
    return SurveyResult(associations=datasets.read(p, "survey_associations"),
                        multivariable=datasets.read(p, "survey_multivariable"))


def labelled(p: Params, table: pd.DataFrame) -> pd.DataFrame:
    """Japanese labels for items and outcomes, rounded for reading."""
    cfg = p.survey
    t = table.copy()
    t["項目"] = t["item"].map(lambda i: cfg.items[i].label)
    t["困難"] = t["outcome"].map(lambda o: cfg.outcomes[o].label)
    for c in ("odds_ratio", "ci_low", "ci_high"):
        t[c] = t[c].round(2)
    for c in ("p_value", "q_value"):
        if c in t:
            t[c] = t[c].map(lambda v: f"{v:.3g}")
    return t


def forest_plot(p: Params, assoc: pd.DataFrame):
    """Odds ratios with 95% CIs, one panel per difficulty (log scale; Japanese labels)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    from ..output.plots import setup

    setup()
    cfg = p.survey
    outcomes = list(cfg.outcomes)
    fig, axes = plt.subplots(1, len(outcomes), figsize=(5.2 * len(outcomes), 0.45 * len(cfg.items) + 1.5), sharey=True)
    axes = np.atleast_1d(axes)
    labels = [cfg.items[i].label for i in cfg.items]
    for ax, o in zip(axes, outcomes, strict=True):
        a = assoc[assoc["outcome"] == o].set_index("item").reindex(list(cfg.items))
        y = np.arange(len(a))[::-1]
        sig = a["q_value"] < cfg.alpha
        ax.errorbar(a["odds_ratio"], y, xerr=[a["odds_ratio"] - a["ci_low"], a["ci_high"] - a["odds_ratio"]], fmt="none",
                    ecolor="#888")
        ax.scatter(a["odds_ratio"], y, c=np.where(sig, "#c44e52", "#4c72b0"), zorder=3)
        ax.axvline(1, color="#333", lw=0.8)
        ax.set_xscale("log")
        ticks = [t for t in (0.125, 0.25, 0.5, 1, 2, 4, 8, 16) if a["ci_low"].min() / 1.5 <= t <= a["ci_high"].max() * 1.5]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_yticks(np.arange(len(a))[::-1], labels)
        ax.set_title(f"{cfg.outcomes[o].label} (赤: 補正後も有意)")
        ax.set_xlabel("オッズ比 (95%信頼区間, 学年・性別で調整)")
    fig.tight_layout()
    return fig


def plain_reading(p: Params, assoc: pd.DataFrame, multi: pd.DataFrame) -> list[str]:
    """What the data do and do not support, in plain Japanese."""
    cfg = p.survey
    alpha = cfg.alpha
    lines = []
    for o, spec in cfg.outcomes.items():
        a = assoc[assoc["outcome"] == o]
        sig = a[a["q_value"] < alpha].sort_values("odds_ratio", ascending=False)
        if len(sig):
            parts = [f"{cfg.items[r.item].label} (オッズ比 {r.odds_ratio:.1f}, 95%信頼区間 {r.ci_low:.1f}–{r.ci_high:.1f})"
                     for r in sig.itertuples()]
            lines.append(f"【{spec.label}】学年と性別をそろえて比べると、{'、'.join(parts)} のこどもで"
                         f"{spec.label}の項目に該当する割合が高い傾向がありました (多重比較の補正後も統計的に有意)。")
        nonsig = a[a["q_value"] >= alpha]
        if len(nonsig):
            lines.append(f"【{spec.label}】{'、'.join(cfg.items[i].label for i in nonsig['item'])} については、"
                         "補正後に明確な関連は確認できませんでした (関連がないことの証明ではありません)。")
        n = multi.loc[multi["outcome"] == o, "n"]
        r2 = multi.loc[multi["outcome"] == o, "pseudo_r2"]
        if len(n):
            lines.append(f"【{spec.label}】すべての項目を同時に入れたモデル (n={int(n.iloc[0])}) の擬似決定係数は "
                         f"{float(r2.iloc[0]):.3f} で、生活習慣だけで困難を言い当てることはできません。")
    if assoc.attrs.get("left_out"):
        lines.append(f"該当する人数が少ない組み合わせ ({assoc.attrs['left_out']} 件) は、結果から人数が分かってしまうため示していません。")
    lines.append("これらは一時点の調査での「関連」であり、生活習慣が困難の原因であることを示すものではありません。"
                 "また、回答しなかったこども (欠席が多いこどもを含む) は分析に含まれていません。")
    return lines


def public_distributions(p: Params, df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Answer distributions by school level and sex, disclosure-controlled for publication. Every question counts
    the same respondents, so a row's total is one quantity in all the tables: they are protected as one system."""
    tables = {}
    for q, t in distributions(p, df).items():
        t.index = [f"{a}・{b}" for a, b in t.index]
        tables[q] = t
    return protect_many(tables, threshold=p.disclosure.threshold, protection=p.disclosure.protection, shared_row_totals=True)


def _two_by_two(p: Params, df: pd.DataFrame, item: str, outcome: str) -> pd.DataFrame:
    cfg = p.survey
    d = df[df["linked"]][[item, outcome]].dropna()
    return pd.crosstab(d[item].map({1.0: f"{cfg.items[item].label}: はい", 0.0: "いいえ"}),
                       d[outcome].map({1: f"{cfg.outcomes[outcome].label}: 該当", 0: "非該当"}))


def public_crosstab(p: Params, df: pd.DataFrame, item: str, outcome: str) -> pd.DataFrame:
    """Item × difficulty among linked respondents, disclosure-controlled."""
    return protect(_two_by_two(p, df, item, outcome), threshold=p.disclosure.threshold,
                   protection=p.disclosure.protection, name=f"{item}×{outcome}")


def public_associations(p: Params, assoc: pd.DataFrame) -> pd.DataFrame:
    """The associations a public report may show: an odds ratio and its interval are computed from the item ×
    difficulty counts, so one whose 2×2 table has a small cell (which publication would hide) is left out."""
    threshold = p.disclosure.threshold
    cells = assoc[["n11", "n10", "n01", "n00"]].to_numpy() if len(assoc) else np.zeros((0, 4))
    keep = ~((cells >= 1) & (cells < threshold)).any(axis=1)
    out = assoc[keep].copy()
    out.attrs["left_out"] = int(len(assoc) - len(out))
    return out

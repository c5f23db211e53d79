"""The sections of a run's parameters (pydantic v2): each default and its meaning, in one place."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from .. import paths
from . import reads


def _project_file(v: Path) -> Path:
    """A data file named by the schema's default (relative): the project's ``params/`` folder."""
    return v if v.is_absolute() else paths.PARAMS / v


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)
    _where: str | None = PrivateAttr(None)   # its dotted place in the run's params ("ranking.kinds.attendance."),
                                             # set once the run's params are built (not while they are validated)

    def __getattribute__(self, name: str):
        value = super().__getattribute__(name)
        if reads.recording() and name[:1] != "_" and name in type(self).model_fields and not isinstance(value, _Section):
            where = self._where
            if where is not None:
                reads.record("param", where + name)
        return value


# --- sections ----------------------------------------------------------------------------------------

class Synth(_Section):
    """The synthetic demo city (`mimamori report` on a fresh machine, when the raw folder is empty)."""

    children: int = Field(16696, ge=10, description="children aged 0–18 on the first year's reference date")
    seed: int = Field(7, description="random seed: the same seed gives byte-identical exports")


class City(_Section):
    """The city whose exports these are."""

    name: str = Field("別府市", description="the city whose exports these are (dropped from addresses before comparison)")
    prefecture: str = Field("大分県", description="its prefecture (dropped from addresses too)")


class Ingest(_Section):
    """Ingestion: the source registry, refused columns, required sources and completeness checks."""

    registry: Path = Field(Path("sources.yaml"), description="the source registry (relative to the params file that names it)")
    refuse: dict[str, list[str]] = Field({}, description="columns refused on top of the registry's purpose limits: {source: [header]}")
    required_sources: list[str] = Field([], description="sources that stop the run when unreadable, empty or header-only "
                                                       "(the resident registry always does)")
    shrink_warning: float = Field(0.2, ge=0, le=1, description="a source with this share fewer rows than the previous year "
                                                              "or than the population it covers is flagged")
    fail_on_shrink: bool = Field(False, description="true: a flagged drop stops the run instead of warning")
    gaiji: Path | None = Field(None, description="the city's 外字 table (CSV: コード as U+E000 or E000, 文字, optional 読み): "
                                                "private-use characters in names and addresses → the standard character "
                                                "(relative to the params file)")

    _registry = field_validator("registry")(lambda v: _project_file(v))


class Spark(_Section):
    """The Spark backend (linkage.backend: spark) for runs that outgrow one machine."""

    master: str = Field("local[2]", description="Spark master URL")
    conf: dict[str, str] = Field({}, description="extra Spark settings, e.g. {spark.executor.memory: 8g}")


class Linkage(_Section):
    """名寄せ of school-network records to the resident registry."""

    backend: Literal["duckdb", "spark"] = Field("duckdb", description="duckdb (embedded) or spark (pip install -e .[spark])")
    sources: list[str] = Field(["shusseki", "hokenshitsu", "kyushoku_minou", "tokushi", "shugaku_enjo", "seikatsu"],
                               description="sources linked by name, reading and birth date")
    train_on: str | None = Field(None, description="source whose records train the model (null: the attendance file)")
    inherit_from_train: list[str] = Field(["hokenshitsu", "kyushoku_minou", "tokushi", "seikatsu"],
                                          description="school-network files whose exact pupils of the attendance file take its link")
    auto_threshold: float = Field(0.95, gt=0, le=1, description="match probability at or above: linked automatically")
    review_threshold: float = Field(0.50, gt=0, le=1, description="from here up to auto_threshold: the staff review queue")
    registry_age: tuple[int, int] = Field((5, 16), description="registry children considered (age on the reference date)")
    blocking_rules: list[str] = Field([
        "l.birth_date = r.birth_date AND l.family_kana = r.family_kana",
        "l.birth_date = r.birth_date AND l.given_kana = r.given_kana",
        "l.birth_date = r.birth_date AND l.family_name = r.family_name",
        "l.birth_date = r.birth_date AND l.given_name = r.given_name",
        # a whole name (or its parts in another order) with the birth year, or the birth month and day, in common:
        # a date with one field wrong still pairs, while namesakes born in another year on another day are not
        # scored at all (at 500,000 children they were 50 million pairs, none of them a link)
        *(f"l.{name} = r.{name} AND substr(l.birth_date, {start}, {length}) = substr(r.birth_date, {start}, {length})"
          for name in ("full_kana", "full_name", "name_tokens", "kana_tokens") for start, length in ((1, 4), (6, 5))),
        "l.household_id = r.household_id",
    ], min_length=1, description="candidate pairs: a record and a registry child sharing any of these (Splink SQL)")
    different_given_name_m: float = Field(1e-5, gt=0, lt=1, description="fixed m of 'given names differ': twins never merge")
    em_max_iterations: int = Field(50, ge=1, description="EM iterations at most (a run that stops here says so)")
    em_convergence: float = Field(1e-4, gt=0, description="EM stops when no m or u changes by more than this")
    prior_recall: float = Field(0.9, gt=0, le=1, description="recall assumed for the exact rules that estimate the prior")
    u_max_pairs: float = Field(3e5, gt=0, description="random pairs sampled (in one pass) to estimate u-probabilities")
    em_max_pairs: float = Field(2e6, gt=0, description="EM trains on a deterministic sample of at most this many pairs")
    sample_seed: int = Field(1, ge=0, description="the training samples (u and EM) are drawn over the records' own "
                                                  "identity in the exports (source and row), never over the keyed "
                                                  "pseudonym, so that another key trains the same model; this seed "
                                                  "draws another sample")
    out_of_district_m: float = Field(0.03, gt=0, lt=1, description="fixed m of 'school outside the district'")
    m_floor: float = Field(1e-4, gt=0, lt=1, description="no trained m-probability below this")
    memory_limit: str = Field("1.5GB", pattern=r"^\d+(\.\d+)?\s*(MB|GB|MiB|GiB)$",
                              description="DuckDB's memory for 名寄せ (beyond it, it works through a temporary folder)")
    spark: Spark = Spark()

    @model_validator(mode="after")
    def _thresholds(self) -> Linkage:
        if self.review_threshold > self.auto_threshold:
            raise ValueError("review_threshold は auto_threshold 以下にしてください")
        return self


class Indicators(_Section):
    """判定項目: the indicator catalogue and how items count."""

    catalogue: Path = Field(Path("indicators.yaml"), description="the indicator catalogue (relative to the params file)")
    survey_items: bool = Field(False, description="true: the lifestyle survey's S01–S05 count in the judgement")
    weights: dict[str, float] = Field({}, description="optional item weights for a weighted risk value, e.g. {B01: 2.0}")

    _catalogue = field_validator("catalogue")(lambda v: _project_file(v))


class Strata(_Section):
    """次点層 by kind of need and by age band."""

    enabled: bool = Field(True, description="false: one ordering for the whole band (the pooled model or the counts)")
    by_children: float = Field(0.5, ge=0, le=1, description="the share of the band given to age bands in proportion to "
                                                          "their not-yet-supported children (every age is seen); the "
                                                          "rest goes where the validated rankings expect the most "
                                                          "outcomes")
    min_places: int = Field(1, ge=0, description="places at least for every kind in every age band (its own ranking's "
                                                 "top), where it has candidates")
    places: dict[str, float] = Field({}, description="places set for a stratum, taken first: '<kind>/<age band>' → a "
                                                     "count, or a share of the band below 1 (e.g. {poverty/0〜5歳: 10})")


class Extraction(_Section):
    """抽出: the list for the support meeting (groups 1 and 2, ties, exclusions, the next tier)."""

    top_basic: int = Field(20, ge=0, description="group 1: top N by basic-item count (ties broken by other-item count)")
    top_other: int = Field(10, ge=0, description="group 2: top M of the rest by other-item count")
    ties: Literal["include", "break"] = Field("include", description="include: all tied at a cut-off are listed (同順位); "
                                                                     "break: a deterministic order decides")
    min_count: int = Field(1, ge=0, description="a child needs at least this many items of the group's kind")
    exclude_supported: bool = Field(False, description="true: children already supported are skipped in groups 1 and 2")
    tier_band: int = Field(0, ge=0, description="also list the next K not-yet-supported children below the top (次点層)")
    supported_items: list[str] = Field(["B01", "B08", "N05"], description="items that mean 'already supported' "
                                                                        "(and 支援要否=要 in an earlier year)")
    strata: Strata = Field(default_factory=lambda: Strata(), description="the tier band composed from strata: "
                           "each kind of need (ranking.kinds) × age band gets places")
    ranking: Literal["count", "model"] = Field("count", description="order of the tier band (次点層): count — by item "
                                               "counts (Beppu's rule; ties listed together); model — by the ranking "
                                               "model's validated risk (25_ranking), so that tier_band K lists K")


class Outcome(_Section):
    """One later event for the backtest: a rule on the NEXT year's processed table (same language as the catalogue;
    @ref is that year's reference date, @prev_ref the reference date of the year whose list is judged)."""

    label: str = Field(description="its name in reports (Japanese)")
    source: str = Field(description="a source of the registry (params/sources.yaml)")
    level: Literal["person", "household", "household_parent"] = Field("person", description="as in the catalogue")
    rule: str = Field(description="pandas query on the next year's table")
    new: bool = Field(False, description="true: only children who did not satisfy the same rule in the judged year")


def _default_outcomes() -> dict[str, Outcome]:
    return {
        "O1": Outcome(label="要対協に新たに登録", source="yotaikyo",
                      rule="category in ['要保護児童', '要支援児童'] and registered_on > @prev_ref and registered_on <= @ref"),
        "O2": Outcome(label="生活保護を新たに開始", source="seiho", level="household",
                      rule="started_on > @prev_ref and started_on <= @ref"),
        "O3": Outcome(label="就学援助を新たに受給", source="shugaku_enjo", rule="category in ['要保護', '準要保護']", new=True),
        "O4": Outcome(label="欠席 30日以上 (病気欠席を除く, 翌年度の出欠ファイルの「前年度」)", source="shusseki",
                      rule="absence_prev - absence_prev_illness >= 30"),
        "O5": Outcome(label="児童扶養手当を新たに受給", source="jido_fuyo", rule="payment in ['全部支給', '一部支給']", new=True),
        "O6": Outcome(label="世帯の生活困窮相談 (新たに)", source="konkyu", level="household",
                      rule="consulted_on > @prev_ref and consulted_on <= @ref"),
        "O7": Outcome(label="給食費未納 3か月以上 (新たに)", source="kyushoku_minou", rule="lunch_arrears_months >= 3", new=True),
        "O8": Outcome(label="保育料滞納 3か月以上 (新たに)", source="hoiku", rule="fee_arrears_months >= 3", new=True),
        "O9": Outcome(label="家庭児童相談 (養護, 新たに)", source="soudan",
                      rule="consult_type == '養護' and consulted_on > @prev_ref and consulted_on <= @ref"),
        "O10": Outcome(label="当年度欠席 10日以上 (新たに)", source="shusseki", rule="absence_cur >= 10", new=True),
    }


class NeedKind(_Section):
    """A kind of need: its own outcomes in the next year, and the catalogue's item types that belong to it."""

    label: str = Field(description="its name on the list (主な課題) and in reports")
    outcomes: list[str] = Field(min_length=1, description="outcomes (ranking.outcomes ids) that mean this kind of need")
    item_types: list[str] = Field(description="the catalogue's item `type`s of this kind (its count ranking)")
    weight: float = Field(1.0, gt=0, description="when kinds share an age band's places (extraction.strata), a "
                                                  "child's probability of this kind's outcomes counts this many times: "
                                                  "a policy value, not a fitted one. 不登校's outcome (absence that "
                                                  "persists) is rare beside 貧困's (services newly granted), so without "
                                                  "a weight the poverty model's higher probabilities take a band's "
                                                  "places from pupils who stop attending")


def _default_kinds() -> dict[str, NeedKind]:
    return {"poverty": NeedKind(label="貧困", outcomes=["O2", "O3", "O5", "O6", "O7", "O8"], item_types=["貧困"]),
            "attendance": NeedKind(label="不登校", outcomes=["O4", "O10"], item_types=["不登校"], weight=5.0),
            "care": NeedKind(label="養育困難・虐待の疑い", outcomes=["O1", "O9"], item_types=["養育"])}


class Ranking(_Section):
    """順位付けの検証 (25_ranking): later outcomes, the backtest, the model and the fairness audit."""

    outcomes: dict[str, Outcome] = Field(default_factory=_default_outcomes,
                                         description="events in the next year's exports that mean a difficulty "
                                                     "appeared or persisted (any of them is a 'hit'). O4 uses the next "
                                                     "export's previous-school-year absence: the school year that "
                                                     "contains the judged reference date (April–August before it count "
                                                     "too: an approximation, stated in the report)")
    ks: list[int] = Field([30, 50, 100, 300], description="list sizes judged in the backtest")
    model: Literal["logistic"] = Field("logistic", description="the ranking model (regularised logistic regression)")
    compare: list[Literal["hist_gradient_boosting"]] = Field([], description="other models shown in the backtest "
                                                                             "for comparison only (never used for the list)")
    C: float = Field(0.3, gt=0, description="inverse regularisation strength of the logistic regression")
    folds: int = Field(5, ge=2, le=20, description="cross-fitting folds (grouped by household) where only one pair "
                                                   "of years exists")
    reasons: int = Field(3, ge=1, le=10, description="主な理由: how many items to name per child")
    fairness_k: int = Field(100, ge=1, description="list size at which the fairness audit compares groups")
    kinds: dict[str, NeedKind] = Field(default_factory=_default_kinds,
                                       description="kinds of need, each with its own outcomes, model and count ranking "
                                                   "(the strata of the 次点層)")
    calibration_bins: int = Field(10, ge=2, le=50, description="bins of the calibration curve (equal counts)")

    @model_validator(mode="after")
    def _kinds(self) -> Ranking:
        for kid, k in self.kinds.items():
            unknown = [o for o in k.outcomes if o not in self.outcomes]
            if unknown:
                raise ValueError(f"kinds.{kid} の outcomes が ranking.outcomes にありません: {'・'.join(unknown)}")
        return self


class SurveyItem(_Section):
    """One survey item."""

    column: str = Field(description="the survey table's column (e.g. q1_breakfast)")
    values: list[str] = Field(description="answers that make the item")
    label: str = Field(description="its name in reports")


class SurveyOutcome(_Section):
    """One difficulty for the survey analysis."""

    items: list[str] = Field(description="indicator items whose any match is the difficulty")
    label: str = Field(description="its name in reports")


class Survey(_Section):
    """生活習慣等調査: items, difficulties and the significance level."""

    items: dict[str, SurveyItem] = Field(description="survey items: an answer pattern of a question")
    outcomes: dict[str, SurveyOutcome] = Field(description="difficulties, each 'any of these indicator items'")
    alpha: float = Field(0.05, gt=0, lt=1, description="significance level after Benjamini–Hochberg correction")


class Disclosure(_Section):
    """Disclosure control of public tables."""

    threshold: int = Field(5, ge=2, description="counts from 1 to threshold − 1 are suppressed in public tables")
    protection: int = Field(3, ge=1, description="each hidden small count must stay consistent with values at least "
                                                 "this far apart, given everything a report publishes (audited)")


class Evaluation(_Section):
    """評価 and the public 成果報告会 report."""

    years: list[int] | None = Field(None, description="years compared (null: every year of the run up to this one)")
    power: float = Field(0.8, gt=0, lt=1, description="power for the smallest detectable difference between years")
    alpha: float = Field(0.05, gt=0, lt=1, description="significance level of the comparison between years")
    public_report: str = Field("成果報告会_{fy}.html", description="file name under reports/public/")
    meeting_name: str = Field("こども見守りシステム 成果報告会", description="the meeting the public report is handed out at "
                                                                   "(its cover)")
    meeting_date: dt.date | None = Field(None, description="the meeting's date on the cover (null: the day the report "
                                                           "is written)")
    public_notebook: str = Field("50_evaluation", description="the notebook whose HTML is the public report")
    codebook: dict[str, list[str]] = Field({}, description="staff hearing: theme → keywords (a comment may match several)")
    narrative: Path = Field(Path("narrative.yaml"), description="the report's texts a city writes (事業概要, 課題・対応策・"
                                                                "効果 per phase, closing remarks), with {figures} filled in "
                                                                "from the year's published counts (relative to the params file)")

    _narrative = field_validator("narrative")(lambda v: _project_file(v))


class Cases(_Section):
    """支援の成果 (45_cases): the follow-up of children judged at the meeting, and the case records (事例)."""

    change_days: int = Field(3, ge=1, description="absence (April to the reference date, same months of both years) "
                                                  "counts as fewer or more when it changed by at least this many days")
    themes: list[str] = Field(["不登校", "貧困"], description="item types (the catalogue's `type`) followed into the "
                                                          "next year")
    status: dict[str, str] = Field({"要対協": "B08", "生活保護": "B01"},
                                   description="statuses followed into the next year: name → catalogue item")
    name_min_length: int = Field(2, ge=1, description="de-identification: a family or given name this long or longer "
                                                      "is searched for on its own (full names always)")
    kana_min_length: int = Field(3, ge=1, description="de-identification: the same for readings (kana)")


class Run(_Section):
    """How notebooks are run."""

    workers: int = Field(2, ge=1, le=16, description="notebooks run side by side when they do not depend on each other "
                                                     "(1: one at a time, the lowest memory)")
    heavy_parallel_mb: int = Field(100, ge=0, description="ingestion and 名寄せ (whose memory grows with the city) run "
                                                         "beside other steps only while a year's exports are smaller "
                                                         "than this many MB; in a larger city each runs alone, so the "
                                                         "run's memory is one of them at a time")
    ingest_parallel_mb: int | None = Field(50, ge=0, description="exports beside the registry larger than this many MB "
                                                                 "together are read in a second process while the "
                                                                 "registry is read (a big city: the same outputs, in "
                                                                 "less time, with more memory; null: never)")
    fork_kernels: bool = Field(True, description="each step's kernel is a copy of a process that has already "
                                                 "imported the libraries (its start takes a tenth of the time; "
                                                 "false: a new Python process for each kernel)")


# 支援要否, the meeting's decision (要, 否, 保留): defined here, the lowest layer, for the params that name it;
# :mod:`mimamori_lib.catalogue.vocabulary` gives it its names for the rest of the code
NEEDS = ("要", "否", "保留")


class Recipient(_Section):
    """Someone a paper goes to, and what they may see (こどもデータ連携ガイドライン: 必要最小限)."""

    label: str = Field(description="its name on papers (学校, こども家庭センター, ...)")
    per_school: bool = Field(False, description="true: one paper per school, with that school's pupils only")
    all_items: bool = Field(False, description="true: every item of the catalogue")
    sources: list[str] = Field([], description="sources (the registry's ids) whose items it may see")
    items: list[str] = Field([], description="further items (the catalogue's ids) it may see")
    note: str = Field("", description="what its papers say about what they leave out")
    basis: str = Field("", description="the legal basis of giving it children's information (提供記録 and the "
                                       "個人情報ファイル簿), e.g. 個人情報保護法第69条第2項第3号")


SCHOOL_SOURCES = ["shusseki", "hokenshitsu", "kyushoku_minou", "shugaku_enjo", "tokushi"]


def _default_recipients() -> dict[str, Recipient]:
    return {
        "school": Recipient(label="学校", per_school=True, sources=SCHOOL_SOURCES,
                            basis="個人情報保護法第69条第2項第3号、児童福祉法第25条の3",
                            note="この票には学校の持つ情報のみを記載しています (出欠・保健室・給食費・就学援助・特別支援)。"
                                 "福祉・保健・相談などほかの部署の記録は、必要最小限の情報共有のため記載していません。"),
        "kodomo_center": Recipient(label="こども家庭センター", all_items=True,
                                   basis="個人情報保護法第69条第2項第2号 (市の機関内の利用)、児童福祉法第10条の2",
                                   note="アセスメントのすべての項目を記載しています。取り扱いに注意してください。"),
    }


class Sharing(_Section):
    """共有: the papers that leave the analysis — the school hearing form and the hand-over after the meeting — and
    what each recipient may see."""

    recipients: dict[str, Recipient] = Field(default_factory=_default_recipients,
                                             description="who receives papers and what each may see (by source or item)")
    school: str = Field("school", description="the recipient whose papers go to each school (hearing form, hand-over)")
    hand_over: list[Literal[NEEDS]] = Field([NEEDS[0], NEEDS[2]], description="decisions whose children are handed over")
    reply_days: int = Field(14, ge=1, le=120, description="a school answers its hearing form within this many days of the "
                                                          "day it was written (the deadline printed on it)")
    contact: str = Field("こども家庭課 こども見守り担当", description="who the recipients of papers ask, and where hearing "
                                                                "forms go back (printed on every explanation sheet)")
    respondents: list[str] = Field(["担任", "学年主任", "教頭", "校長", "養護教諭", "スクールカウンセラー",
                                    "スクールソーシャルワーカー", "その他"],
                                   description="回答者 (the respondent's position) offered on the hearing form")

    @model_validator(mode="after")
    def _school(self) -> Sharing:
        if self.school not in self.recipients:
            raise ValueError(f"school の {self.school} が recipients にありません")
        return self


class Records(_Section):
    """The records a city keeps (個人情報保護法 第69・75条): the 個人情報ファイル簿 and the record of every paper that
    names children (提供記録)."""

    file_name: str = Field("こども見守りシステム 連携データファイル", description="名称 of the personal information file "
                                                                              "(個人情報ファイル簿)")
    purpose: str = Field("支援が必要なのにまだ支援につながっていないこどもを早期に把握し、支援につなげるため (こども見守り)",
                         description="利用目的 (個人情報ファイル簿)")
    department: str = Field("こども家庭課", description="the department that keeps the file (ファイル簿, papers)")
    contact: str = Field("こども家庭課 (市役所本庁舎)", description="where requests for 開示・訂正・利用停止 are received "
                                                              "(受付窓口)")
    meeting: str = Field("支援担当者会議の構成員", description="who receives the meeting's papers (抽出リスト, "
                                                         "アセスメントシート)")
    meeting_basis: str = Field("個人情報保護法第69条第1項 (利用目的の範囲内の利用)、児童福祉法第25条の2",
                               description="the legal basis of the meeting's papers")
    staff_basis: str = Field("個人情報保護法第69条第1項 (利用目的の範囲内の利用)",
                             description="the legal basis of papers for the staff who do the work (名寄せの確認, 事例記録)")
    disclosure_basis: str = Field("個人情報保護法第76条・第82条 (開示請求に対する開示)",
                                  description="the legal basis of a 開示 workbook given to the child or its 法定代理人")


class Retention(_Section):
    """How long what the analysis holds is kept (個人情報保護法 第61条第2項: no longer than the purpose needs)."""

    years: int = Field(5, ge=1, le=100, description="a fiscal year's screening data (its processed tables, papers and "
                                                    "reports) is kept this many years after the year ends (3/31), "
                                                    "then `mimamori purge` removes it")
    records_years: int = Field(25, ge=1, le=100, description="the meeting's decisions and the case records are kept "
                                                             "this many years after the year ends (the city's 文書管理規程)")


class Privacy(_Section):
    """Files that name a child."""

    fix_permissions: bool = Field(True, description="true: files that name a child found readable by others are set "
                                                    "to 600/700 (false: only warned about)")


# --- the run's parameters ------------------------------------------------------------------------------

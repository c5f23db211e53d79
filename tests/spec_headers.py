"""The input contract's files and headers, transcribed from ../shared/spec/raw-exports.md for the tests."""

SCHOOL_KEYS = ["学校名", "学年", "組", "出席番号", "児童生徒氏名", "ふりがな", "生年月日", "性別"]
SPEC = {
    "shimin/juki.csv": ("cp932", ["宛名番号", "世帯番号", "続柄", "氏名", "氏名カナ", "生年月日", "性別", "住所", "住定日", "転入回数", "国籍区分"]),
    "kosodate/jido_fuyo.csv": ("cp932", ["受給者宛名番号", "対象児童宛名番号", "支給区分", "認定日"]),
    "kosodate/hoiku.csv": ("cp932", ["児童宛名番号", "施設名", "入所日", "保育料滞納月数"]),
    "hitokurashi/seiho.csv": ("cp932", ["世帯員宛名番号", "ケース番号", "保護開始日", "保護廃止日"]),
    "hitokurashi/konkyu.csv": ("utf-8-sig", ["相談者宛名番号", "相談日", "主訴"]),
    "kodomokatei/yotaikyo.csv": ("utf-8-sig", ["児童宛名番号", "登録区分", "主たる種別", "登録日", "終結日"]),
    "kodomokatei/soudan.csv": ("utf-8-sig", ["児童宛名番号", "相談日", "相談種別"]),
    "kenko/kenshin.csv": ("cp932", ["宛名番号", "健診種別", "受診状況", "受診日", "所見"]),
    "kenko/yobosesshu.csv": ("cp932", ["宛名番号", "ワクチン", "接種状況"]),
    "kenko/ninshin.csv": ("cp932", ["母宛名番号", "児童宛名番号", "届出日", "届出時妊娠週数", "届出時母年齢"]),
    "shogai/techo.csv": ("cp932", ["宛名番号", "手帳種別", "等級"]),
    "shogai/jidoshien.csv": ("cp932", ["児童宛名番号", "サービス種別", "支給開始日"]),
    "gakko/shusseki.csv": ("utf-8-sig", SCHOOL_KEYS + ["住所", "前年度欠席日数", "前年度うち病気欠席", "当年度欠席日数", "当年度遅刻回数", "当年度早退回数"]),
    "gakko/hokenshitsu.csv": ("utf-8-sig", SCHOOL_KEYS + ["来室回数"]),
    "gakko/kyushoku_minou.csv": ("utf-8-sig", ["学校名", "学年", "児童生徒氏名", "ふりがな", "生年月日", "未納月数"]),
    "gakko/tokushi.csv": ("utf-8-sig", ["学校名", "学年", "児童生徒氏名", "ふりがな", "生年月日", "性別", "学級種別"]),
    "gakko/shugaku_enjo.csv": ("cp932", ["保護者宛名番号", "児童生徒氏名", "児童生徒カナ", "生年月日", "区分"]),
    "survey/seikatsu.csv": ("utf-8-sig", SCHOOL_KEYS + ["Q1_朝食", "Q2_就寝時刻", "Q3_スクリーン時間", "Q4_家庭学習", "Q5_相談相手", "Q6_学校が楽しい", "Q7_自分には良いところがある", "Q8_家族と夕食", "Q9_家の手伝い・世話"]),
    "hearing/staff.csv": ("utf-8-sig", ["所属区分", "Q1_対象者認識の一致", "Q2_こども理解の深まり", "Q3_データの有用性", "Q4_業務負担", "自由記述"]),
}

"""Which key made the out dir's outputs: a keyed fingerprint of the key (never the key) in the catalogue's
``key_record``, checked before any step, so that outputs made with one key are never mixed with another's."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ..params import Params
from ..privacy.pseudonym import KeyFileError, key_id, key_path, load_key, new_key
from ..privacy.restricted import private_file
from . import datasets

log = logging.getLogger(__name__)


def _record_file(p: Params) -> Path:
    return datasets.path(p, "key_record")


def recorded_key(p: Params) -> dict | None:
    """The key the out dir's outputs were made with (``key_id`` and the file it was read from), if recorded."""
    f = _record_file(p)
    try:
        return json.loads(f.read_text(encoding="utf-8")) if f.is_file() else None
    except ValueError:
        return None


def years_with_outputs(p: Params) -> list[int]:
    """Fiscal years of the out dir that hold pseudonymised tables."""
    root = p.processed.parent
    return sorted(int(d.name[2:]) for d in root.glob("fy*") if d.name[2:].isdigit() and any(d.glob("*.parquet")))


def _write_record(p: Params, kid: str, path: Path) -> None:
    with private_file(_record_file(p), p.processed.parent) as f:
        f.write_text(json.dumps({"key_id": kid, "key_file": str(path)}, ensure_ascii=False), encoding="utf-8")


def ensure_key(p: Params, force: bool = False, years: list[int] | None = None) -> bytes:
    """The key of this run, checked against the out dir's outputs. A missing key is created only when the out dir
    holds no pseudonymised output; a key other than the one recorded stops the run, unless ``force`` re-makes every
    year that has outputs (``years``: the years this run makes)."""
    path = key_path(p)
    record = recorded_key(p)
    root = p.processed.parent
    made = years_with_outputs(p)
    if not path.exists() and not path.is_symlink():
        if record or made:
            was = f" ({record['key_file']} のキー)" if record else ""
            raise KeyFileError(f"仮名化キーが見つかりません: {path}。出力先 {root} は別のキー{was}で作られています。"
                               "そのキーを MIMAMORI_KEY_FILE か params の key_file で指定してください (新しいキーで作り直す"
                               "ときは mimamori key new でキーを作り、--force を付けて全年度を実行し直します)")
        new_key(path)
    key = load_key(path)
    kid = key_id(key)
    if record is not None and record.get("key_id") != kid:
        if not force:
            raise KeyFileError(f"出力先 {root} は別の仮名化キー ({record.get('key_file')}) で作られています (今回のキー: {path})。"
                               "元のキーを指定してください。新しいキーで全年度をエクスポートから作り直すときは --force を"
                               "付けて実行してください")
        left = [y for y in made if years is not None and y not in years]
        if left:
            raise KeyFileError(f"仮名化キーが変わりましたが、この実行に含まれない年度 ({'・'.join(map(str, left))}) の出力が"
                               f"出力先 {root} に残っています。mimamori report --force で全年度を作り直してください")
        log.warning("仮名化キーが変わったため、すべての年度を新しいキーで作り直します: %s", path)
    if record is None or record.get("key_id") != kid or record.get("key_file") != str(path):
        _write_record(p, kid, path)
    return key

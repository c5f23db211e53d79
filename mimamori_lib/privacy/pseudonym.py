"""Keyed pseudonyms (HMAC-SHA256) for 宛名番号 and 世帯番号, and the key that belongs to an out dir's outputs.

The key never appears in logs or outputs. Pseudonyms made with one key cannot be joined with those of another, so
an out dir records which key made it (a keyed hash of a constant: it identifies the key without revealing it), and
a run with another key, or without its key, stops before any step with one line (:func:`ensure_key`). A new key is
created only for an out dir that holds no pseudonymised output yet, or by ``mimamori key new``.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
from pathlib import Path

import pandas as pd

from .. import paths
from ..errors import UserError
from ..params import Params
from ..text.normalize import map_unique
from .restricted import private_file

log = logging.getLogger(__name__)
DEFAULT_KEY_FILE = paths.DATA / "mimamori.key"
KEY_RECORD = "key_id.json"   # in <out>/processed/: which key made the outputs (never the key)
MIN_LENGTH = 32


class KeyFileError(UserError):
    """The key file is missing, unusable, or not the key the out dir's outputs were made with."""


def key_path(p: Params | None = None) -> Path:
    """``$MIMAMORI_KEY_FILE``, else the params' ``key_file``, else ``data/mimamori.key``."""
    env = os.environ.get("MIMAMORI_KEY_FILE")
    if env:
        return Path(env).expanduser()
    if p is not None and p.key_file is not None:
        return p.key_file
    return DEFAULT_KEY_FILE


def load_key(path: Path) -> bytes:
    """Read the key (never creates one): a folder, an unreadable, empty or short file is one Japanese line."""
    path = Path(path)
    if path.is_dir():
        raise KeyFileError(f"仮名化キーのパスがフォルダです: {path} (キーのファイルを指定してください)")
    if not path.exists():
        raise KeyFileError(f"仮名化キーのファイルがありません: {path} (新しく作るときは mimamori key new)")
    try:
        text = path.read_bytes().decode("ascii").strip()
    except OSError as e:
        raise KeyFileError(f"仮名化キーを読めません ({e.strerror}): {path}") from None
    except UnicodeDecodeError:
        raise KeyFileError(f"仮名化キーの形式が不正です (英数字のテキストではありません): {path}") from None
    if not text:
        raise KeyFileError(f"仮名化キーのファイルが空です: {path} (作り直すと仮名がすべて変わります。バックアップから戻してください)")
    if len(text) < MIN_LENGTH:
        raise KeyFileError(f"仮名化キーが短すぎます ({MIN_LENGTH} 文字以上必要): {path}")
    if path.stat().st_mode & 0o077:
        log.warning("仮名化キーのファイル権限が広すぎます (他のユーザーが読めます): %s", path)
    return text.encode()


def new_key(path: Path) -> Path:
    """Create a key file (32 random bytes as hex, mode 600); an existing file is never overwritten."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"仮名化キーのファイルがすでにあります: {path} (上書きはしません)") from None
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    log.info("仮名化キーを新規作成しました (権限 600): %s", path)
    return path


def key_id(key: bytes) -> str:
    """Which key this is, without revealing it: a keyed hash of a constant."""
    return hmac.digest(key, b"mimamori:key-id", "sha256").hex()[:16]


def _record_file(p: Params) -> Path:
    return p.processed.parent / KEY_RECORD


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


def pseudonym(key: bytes, value: str | None, domain: str = "person") -> str | None:
    """HMAC of a normalised identifier; ``domain`` separates persons from households."""
    if not isinstance(value, str) or not value:
        return None
    return hmac.digest(key, f"{domain}:{value}".encode(), "sha256").hex()[:20]


def pseudonym_series(key: bytes, values: pd.Series, domain: str = "person") -> pd.Series:
    """Pseudonyms for a Series of normalised identifiers (each distinct value hashed once)."""
    return map_unique(values, lambda v: pseudonym(key, v, domain)).astype("string")


def extract_id(key: bytes, fy: int, person_id: str) -> str:
    """抽出ID: stable for a child within a year, carrying nothing about the child (``25-3F9A1C``)."""
    return f"{fy % 100:02d}-" + pseudonym(key, f"{fy}:{person_id}", domain="extract")[:6].upper()


def key_if_any(p: Params) -> bytes | None:
    """The run's key if its file can be read (``None`` otherwise: nothing pseudonymous can be made or matched)."""
    try:
        return load_key(key_path(p))
    except KeyFileError:
        return None

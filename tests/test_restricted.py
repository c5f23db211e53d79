"""Files that name a child are created 600 in 700 folders whatever the umask; looser ones are found and fixed."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from mimamori_lib.privacy.restricted import audit, private_dir, private_file, too_open, write_text


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.fixture
def open_umask():
    old = os.umask(0o000)
    yield
    os.umask(old)


def test_private_file_under_an_open_umask(tmp_path: Path, open_umask) -> None:
    root = tmp_path / "reports" / "internal"
    with private_file(root / "fy2025" / "extraction.csv", root) as f:
        f.write_text("抽出ID,氏名\n", encoding="utf-8")
    assert _mode(root / "fy2025" / "extraction.csv") == 0o600
    assert _mode(root / "fy2025") == 0o700 and _mode(root) == 0o700
    assert _mode(tmp_path / "reports") & 0o077, "folders above the internal root are left as they are"
    write_text(root / "fy2025" / "assessment" / "25-ABC.html", "<p>x</p>", root)
    assert _mode(root / "fy2025" / "assessment") == 0o700 and _mode(root / "fy2025" / "assessment" / "25-ABC.html") == 0o600
    assert too_open(root) == []


def test_an_existing_open_file_is_closed_when_overwritten(tmp_path: Path, open_umask) -> None:
    f = tmp_path / "internal" / "review_queue.xlsx"
    f.parent.mkdir()
    f.write_text("old")
    os.chmod(f, 0o644)
    with private_file(f, tmp_path / "internal") as g:
        g.write_text("new")
    assert _mode(f) == 0o600


def test_audit_warns_and_fixes(tmp_path: Path, caplog) -> None:
    d = tmp_path / "internal" / "fy2024"
    d.mkdir(parents=True)
    (d / "extraction.csv").write_text("x")
    os.chmod(d, 0o755)
    os.chmod(d / "extraction.csv", 0o644)
    with caplog.at_level(logging.WARNING):
        found = audit([tmp_path / "internal"], fix=False)
    assert d in found and d / "extraction.csv" in found
    assert "権限が広すぎます" in caplog.text and _mode(d / "extraction.csv") == 0o644, "warn only"
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        audit([tmp_path / "internal"], fix=True)
    assert "修正しました" in caplog.text
    assert too_open(tmp_path / "internal") == []
    assert audit([tmp_path / "internal"], fix=True) == [] and audit([tmp_path / "missing"], fix=True) == []


def test_private_dir_is_idempotent(tmp_path: Path) -> None:
    d = private_dir(tmp_path / "a" / "b", tmp_path / "a")
    assert private_dir(d, tmp_path / "a") == d and _mode(d) == 0o700 and _mode(tmp_path / "a") == 0o700

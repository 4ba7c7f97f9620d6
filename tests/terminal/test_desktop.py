"""The Linux desktop launcher entry."""

from __future__ import annotations

import sys

import pytest

from terminal.commands import desktop


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux desktop entries")
def test_install_writes_a_valid_entry_and_icon_then_uninstall_removes_them(tmp_path):
    entry = desktop.install(tmp_path)
    text = entry.read_text()
    assert "[Desktop Entry]" in text and "Type=Application" in text and "Terminal=false" in text
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))
    assert "trading-terminal-gui" in exec_line or "-m terminal" in exec_line
    icon = tmp_path / "icons/hicolor/scalable/apps/trading-terminal.svg"
    assert icon.read_text().startswith("<svg")
    assert f"Icon={icon}" in text
    assert set(desktop.uninstall(tmp_path)) == {entry, icon}
    assert not entry.exists()

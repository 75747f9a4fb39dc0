"""`python -m touchpoint_common.access keys ...` on the session's real database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from touchpoint_common.access.cli import app
from touchpoint_common.settings import CommonSettings

pytestmark = pytest.mark.integration
TOKEN = re.compile(r"tp_([0-9a-f]+)_[A-Za-z0-9-]+")


def test_create_list_rotate_revoke(settings: CommonSettings, tmp_path: Path) -> None:
    """create prints a token (or writes it to a 0600 file), list shows the key without its
    secret, rotate gives a new key and revokes the old, revoke refuses an already revoked key."""
    runner = CliRunner()
    env = {"TOUCHPOINT_DATABASE_URL": settings.database_url}

    def keys(*args: str) -> str:
        result = runner.invoke(app, ["keys", *args], env=env)
        assert result.exit_code == 0, result.output
        return result.output

    made = keys("create", "--name", "till 12", "--scope", "events:write", "--store", "12")
    token = TOKEN.search(made)
    assert token is not None
    key_id = token.group(1)
    listed = keys("list")
    assert key_id in listed
    assert token.group(0) not in listed
    written = tmp_path / "key"
    keys("rotate", key_id, "--write-to", str(written))
    assert TOKEN.fullmatch(written.read_text().strip())
    assert written.stat().st_mode & 0o777 == 0o600
    assert key_id not in keys("list")
    assert key_id in keys("list", "--all")
    again = runner.invoke(app, ["keys", "revoke", key_id], env=env)
    assert again.exit_code == 1

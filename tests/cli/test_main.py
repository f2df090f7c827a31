"""``dumgum-async`` itself: help, version, the exit statuses it documents."""

from __future__ import annotations

import pytest

import dumgum_async as dg
from dumgum_async import _cli


def test_no_arguments_print_help_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli.main([]) == 2
    err = capsys.readouterr().err
    for command in ("suggest", "batch", "serve", "demo"):
        assert command in err


def test_version_prints_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"dumgum-async {dg.__version__}"


@pytest.mark.parametrize("command", [[], ["batch"]], ids=["main", "batch"])
def test_help_documents_every_exit_status(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli.main([*command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for status in ("0 every item answered", "1 some item failed", "2 usage", "3 the API"):
        assert status in text
    assert "130" in text
    assert "143" in text

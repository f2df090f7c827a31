"""Types as users' checkers see them: BatchResult narrows, and the package's public
interface is fully typed. The checkers run as subprocesses on snippets in
tests/typing_snippets/ (copied to .py files in a temporary directory)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal, assert_type

import pytest

import dumgum_async as dg
from dumgum_async.testing import FakeDumGumServer
from tests.helpers.bodies import minimal_request

ROOT = Path(__file__).resolve().parent.parent
SNIPPETS = Path(__file__).resolve().parent / "typing_snippets"
pytestmark = pytest.mark.skipif(shutil.which("pyright") is None, reason="pyright not installed")


def _env() -> dict[str, str]:
    # The worktree's package, not whatever an editable install points at.
    return {**os.environ, "MYPYPATH": str(ROOT), "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def snippets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The snippets as .py files in a directory of their own."""
    where = tmp_path_factory.mktemp("snippets")
    for snippet in SNIPPETS.glob("*.py.txt"):
        (where / snippet.name.removesuffix(".txt")).write_text(
            snippet.read_text(encoding="utf-8"), encoding="utf-8"
        )
    return where


def _run(args: list[str]) -> str:
    run = subprocess.run(args, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    return run.stdout + run.stderr


@pytest.fixture(scope="module")
def mypy_output(snippets: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """mypy --strict over every snippet, once (a cold cache takes seconds)."""
    cache = tmp_path_factory.mktemp("mypy-cache")
    files = sorted(str(p) for p in snippets.glob("*.py"))
    return _run([sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(cache), *files])


@pytest.fixture(scope="module")
def pyright_output(snippets: Path) -> str:
    """pyright (the snippets ask for strict mode) over the snippets both checkers share."""
    names = ("narrowing.py", "unnarrowed.py", "raw_response.py", "forwarded_keywords.py")
    files = [str(snippets / name) for name in names]
    return _run(["pyright", "--pythonpath", sys.executable, *files])


def _errors_in(output: str, name: str) -> list[str]:
    return [line for line in output.splitlines() if f"{name}:" in line and "error" in line]


def _rejected_lines() -> set[int]:
    text = (SNIPPETS / "forwarded_keywords.py.txt").read_text(encoding="utf-8")
    return {n for n, line in enumerate(text.splitlines(), 1) if line.endswith("# rejected")}


def _lines_with_errors(output: str, name: str) -> set[int]:
    found = (re.search(rf"{name}:(\d+)", line) for line in _errors_in(output, name))
    return {int(m.group(1)) for m in found if m is not None}


@pytest.mark.slow
def test_mypy_strict_narrows_batch_results(mypy_output: str) -> None:
    # unnarrowed.py's one error and forwarded_keywords.py's rejected lines: nothing else.
    expected = 1 + len(_rejected_lines())
    assert f"Found {expected} errors in 2 files" in mypy_output, mypy_output
    assert _errors_in(mypy_output, "narrowing.py") == []
    assert _errors_in(mypy_output, "narrowing_on_ok.py") == []


@pytest.mark.slow
def test_mypy_strict_rejects_a_response_read_without_narrowing(mypy_output: str) -> None:
    errors = _errors_in(mypy_output, "unnarrowed.py")
    assert len(errors) == 1, mypy_output
    assert 'Item "None" of "SuggestionResponse | None" has no attribute "suggestions"' in errors[0]


@pytest.mark.slow
def test_pyright_strict_narrows_batch_results(pyright_output: str) -> None:
    assert f"{1 + len(_rejected_lines())} errors," in pyright_output, pyright_output
    assert not [line for line in pyright_output.splitlines() if "narrowing.py:" in line]


@pytest.mark.slow
def test_pyright_strict_rejects_a_response_read_without_narrowing(pyright_output: str) -> None:
    errors = [line for line in pyright_output.splitlines() if "unnarrowed.py:" in line]
    assert len(errors) == 1, pyright_output
    assert "reportOptionalMemberAccess" in errors[0]


@pytest.mark.slow
def test_mypy_strict_types_a_raw_response_call_as_suggest(mypy_output: str) -> None:
    assert _errors_in(mypy_output, "raw_response.py") == [], mypy_output


@pytest.mark.slow
def test_pyright_strict_types_a_raw_response_call_as_suggest(pyright_output: str) -> None:
    assert not [line for line in pyright_output.splitlines() if "raw_response.py:" in line]


@pytest.mark.slow
def test_mypy_strict_checks_forwarded_keywords(mypy_output: str) -> None:
    assert _lines_with_errors(mypy_output, "forwarded_keywords.py") == _rejected_lines(), (
        mypy_output
    )


@pytest.mark.slow
def test_pyright_strict_checks_forwarded_keywords(pyright_output: str) -> None:
    found = _lines_with_errors(pyright_output, "forwarded_keywords.py")
    assert found == _rejected_lines(), pyright_output


@pytest.mark.slow
def test_pyright_verifytypes_finds_the_public_interface_fully_typed() -> None:
    output = _run(["pyright", "--verifytypes", "dumgum_async", "--ignoreexternal"])
    score = re.search(r"Type completeness score: ([\d.]+)%", output)
    assert score is not None, output
    assert float(score.group(1)) == 100.0, output
    # The package checked is this tree's, not an installed copy elsewhere.
    assert str(ROOT / "dumgum_async") in output


#: BatchResult as untyped code of an earlier release uses it: a class at run time (for
#: type checkers it is the union alias, which is neither callable nor a class).
LEGACY: Any = dg.BatchResult


def _response() -> dg.SuggestionResponse:
    return dg.SuggestionResponse(suggestions=("a", "b"))


def test_a_success_is_ok_and_has_its_response() -> None:
    result = dg.BatchSuccess(0, "item", _response())
    assert_type(result.ok, Literal[True])
    assert (result.ok, result.error, result.suggestions) == (True, None, ("a", "b"))


def test_a_failure_is_not_ok_and_has_its_error() -> None:
    error = dg.APIConnectionError("down")
    result = dg.BatchFailure(3, "item", error)
    assert (result.ok, result.response, result.error, result.suggestions) == (
        False,
        None,
        error,
        (),
    )


def test_both_are_instances_of_batch_result_at_run_time() -> None:
    assert isinstance(dg.BatchSuccess(0, "x", _response()), LEGACY)
    assert isinstance(dg.BatchFailure(0, "x", dg.DumGumError("e")), LEGACY)
    assert not isinstance("x", LEGACY)
    assert issubclass(dg.BatchSuccess, LEGACY)


def test_batch_result_can_still_be_subscripted_at_run_time() -> None:
    alias = LEGACY[int]
    assert set(alias.__args__) == {dg.BatchSuccess[int], dg.BatchFailure[int]}


def test_constructing_batch_result_is_deprecated_and_builds_the_matching_type() -> None:
    error = dg.DumGumError("e")
    with pytest.warns(DeprecationWarning, match="BatchSuccess or BatchFailure"):
        ok = LEGACY(0, "x", _response())
    with pytest.warns(DeprecationWarning, match="BatchSuccess or BatchFailure"):
        failed = LEGACY(1, "y", error=error)
    assert ok == dg.BatchSuccess(0, "x", _response())
    assert failed == dg.BatchFailure(1, "y", error)


async def test_a_batch_yields_a_success_and_a_failure_by_type() -> None:
    async with (
        FakeDumGumServer(api_key="typing-key") as fake,
        dg.DumGumClient(api_key="typing-key", base_url=fake.url) as client,
    ):
        not_a_request: Any = 42
        results = await client.suggest_all([minimal_request(), not_a_request])
    assert len(fake.requests) == 1
    assert [type(r) for r in results] == [dg.BatchSuccess, dg.BatchFailure]
    assert isinstance(results[1].error, dg.RequestValidationError)

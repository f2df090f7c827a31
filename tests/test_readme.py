"""The README's examples run as written, so the README cannot drift from the code."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import dumgum_async as dg

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def _python_blocks(section: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {section}\n")
    end = text.find("\n## ", start + 1)
    body = text[start : end if end != -1 else len(text)]
    return re.findall(r"```python\n(.*?)```", body, flags=re.DOTALL)


def _run(code: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args] if args else [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )


def test_the_client_example_prints_three_suggestions() -> None:
    result = _run(_python_blocks("Using the client")[0])
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 3


def test_the_per_call_options_example_runs() -> None:
    result = _run(_python_blocks("Per-call options and raw responses")[0])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["200 req-42 1 ('Hi',)", "3"]


def test_the_typed_models_example_round_trips() -> None:
    result = _run("import dumgum_async as dg\n" + _python_blocks("Using the client")[1])
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_the_testing_examples_pass_as_a_users_test_file(tmp_path: Path, mode: str) -> None:
    blocks = _python_blocks("Testing your code")
    (tmp_path / "test_example.py").write_text("\n\n".join(blocks))
    result = _run(
        "",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        f"asyncio_mode={mode}",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        "-W",
        "error",
        "test_example.py",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tests = sum(len(re.findall(r"^async def test_", block, flags=re.MULTILINE)) for block in blocks)
    assert tests == 5
    assert f"{tests} passed" in result.stdout


def _code_lines(code: str) -> list[str]:
    return [line.strip() for line in code.splitlines() if line.strip()]


def _is_excerpt(block: list[str], source: list[str]) -> bool:
    n = len(block)
    return any(source[i : i + n] == block for i in range(len(source) - n + 1))


def test_the_recipe_excerpts_are_the_examples_code() -> None:
    blocks = _python_blocks("Using it in FastAPI / aiohttp / workers")
    sources = [_code_lines(p.read_text(encoding="utf-8")) for p in (ROOT / "examples").glob("*.py")]
    assert len(blocks) == 4
    for block in blocks:
        assert any(_is_excerpt(_code_lines(block), src) for src in sources), block


def test_the_validate_example_prints_the_problems_it_shows() -> None:
    [block] = _python_blocks("Checking a file first")
    result = _run(block)
    assert result.returncode == 0, result.stderr
    shown = [line[2:] for line in block.splitlines() if line.startswith("# ")]
    assert result.stdout.splitlines() == shown


def test_the_sample_conversations_command_writes_valid_lines(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    [line] = [ln for ln in text.splitlines() if ln.endswith("> conversations.jsonl")]
    code = re.fullmatch(r"python -c '(.*)' > conversations\.jsonl", line)
    assert code is not None, line
    result = _run(code.group(1), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    bodies = [json.loads(body) for body in result.stdout.splitlines()]
    assert len(bodies) == 500
    assert all(dg.validate(body) == () for body in bodies)


def test_the_errors_tree_names_every_exception_the_package_exports() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("### Errors\n")
    tree = text[start : text.index("```\n\n", start)]
    exported = {
        name
        for name in dg.__all__
        if isinstance(getattr(dg, name), type) and issubclass(getattr(dg, name), dg.DumGumError)
    }
    drawn = set(re.findall(r"\b([A-Z]\w*(?:Error|Exception))\b", tree))
    assert exported - drawn == set()
    assert drawn - exported == set()

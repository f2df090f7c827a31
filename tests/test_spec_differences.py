"""Every decided difference from ``openapi.yaml``: the client's behaviour, the schema's
verdict (jsonschema over the literal spec), and the README table, all from one data file.

``tests/data/spec_differences.json`` is the one place the cases live; README.md's
section "Where we differ from the schema, and why" must show exactly its rows.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

import dumgum_async as dg
from dumgum_async import _converter
from dumgum_async.testing._schema import REQUEST_SCHEMA_NAME, load_spec
from tests.helpers.bodies import full_request

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "spec_differences.json"
HEADING = "## Where we differ from the schema, and why"
VERDICTS = {"accepts", "rejects"}


def _rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(DATA.read_text(encoding="utf-8"))["rows"]
    return rows


ROWS = _rows()


def _path_text(path: list[str | int]) -> str:
    out = ""
    for seg in path:
        out += f"[{seg}]" if isinstance(seg, int) else (f".{seg}" if out else seg)
    return out


def _body(row: dict[str, Any]) -> dict[str, Any]:
    body = full_request(n_messages=2)
    for edit in row["edits"]:
        *parents, last = edit["path"]
        target: Any = body
        for seg in parents:
            target = target[seg]
        if edit.get("delete"):
            del target[last]
        else:
            target[last] = copy.deepcopy(edit["value"])
    return body


@functools.cache
def _literal_schema_validator() -> jsonschema.Draft202012Validator:
    """The spec's request schema exactly as written (no prose-based widening)."""

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: (
                    v.replace("#/components/schemas/", "#/$defs/")
                    if k == "$ref" and isinstance(v, str)
                    else rewrite(v)
                )
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": rewrite(load_spec()["components"]["schemas"]),
        "$ref": f"#/$defs/{REQUEST_SCHEMA_NAME}",
    }
    return jsonschema.Draft202012Validator(schema)


def _sent_at(body: dict[str, Any], path: list[str | int]) -> Any:
    target: Any = body
    for seg in path:
        if isinstance(seg, str) and seg not in target:
            return {"absent": True}
        target = target[seg]
    return target


@pytest.mark.parametrize("row", [pytest.param(r, id=r["id"]) for r in ROWS])
def test_the_client_does_what_the_table_says(row: dict[str, Any]) -> None:
    body = _body(row)
    strict = row.get("strict_enums", True)
    if row["client"] == "rejects":
        with pytest.raises(dg.RequestValidationError) as excinfo:
            dg.SuggestionRequest.from_dict(body, strict_enums=strict)
        problems = excinfo.value.problems
        assert [p.path for p in problems] == [row["where"]], problems
        assert row["message"] in problems[0].message, problems[0].message
    else:
        request = dg.SuggestionRequest.from_dict(body, strict_enums=strict)
        sent = orjson.loads(_converter.encode_request(request))
        assert _sent_at(sent, row["edits"][0]["path"]) == row["sent"]


@pytest.mark.parametrize("row", [pytest.param(r, id=r["id"]) for r in ROWS])
def test_the_schema_does_what_the_table_says(row: dict[str, Any]) -> None:
    errors = list(_literal_schema_validator().iter_errors(_body(row)))
    assert ("accepts" if not errors else "rejects") == row["schema"], [e.message for e in errors]


def test_the_unedited_base_request_is_valid_to_both() -> None:
    body = full_request(n_messages=2)
    assert list(_literal_schema_validator().iter_errors(body)) == []
    dg.SuggestionRequest.from_dict(body)


def test_every_row_is_well_formed_and_named_once() -> None:
    ids = [r["id"] for r in ROWS]
    assert len(ids) == len(set(ids))
    for row in ROWS:
        assert row["schema"] in VERDICTS, row["id"]
        assert row["client"] in VERDICTS, row["id"]
        assert ("where" in row and "message" in row) == (row["client"] == "rejects"), row["id"]
        assert ("sent" in row) == (row["client"] == "accepts"), row["id"]
        assert row["why"], row["id"]
        assert "|" not in row["why"] + row["case"], row["id"]


def _example(row: dict[str, Any]) -> str:
    edit = row["edits"][0]
    where = _path_text(edit["path"])
    if edit.get("delete"):
        return f"`{where}` absent"
    value = edit["value"]
    try:
        text = json.dumps(value, ensure_ascii=False)
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value)  # a lone surrogate shows as its escape
    if len(text) > 40:
        text = text[:37] + "..."
    return f"`{where}` = `{text}`"


def render_table() -> str:
    """The README table, as the data file says it."""
    lines = [
        "| Case | Example | Schema | dumgum_async | Why |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in ROWS:
        lines.append(
            f"| {row['case']} | {_example(row)} | {row['schema']} | {row['client']} "
            f"| {row['why']} |"
        )
    return "\n".join(lines)


def _readme_table() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert HEADING in text, "README.md lacks the section " + HEADING
    section = text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("|"))


def test_the_readme_table_shows_exactly_the_data_file() -> None:
    expected = render_table()
    assert _readme_table() == expected, "README table out of date; it should read:\n" + expected

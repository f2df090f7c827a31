"""The import rules of ARCHITECTURE.md, checked on the source text.

Every module of ``dumgum_async/`` (and ``examples/``) is parsed with :mod:`ast`;
nothing is imported, so a rule broken by a lazy import inside a function, or by an
import under ``if TYPE_CHECKING:``, is seen as well as one at the top of a file.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Final, NamedTuple

ROOT: Final = Path(__file__).resolve().parent.parent
PACKAGE: Final = "dumgum_async"
TESTING: Final = "dumgum_async.testing"
CLI: Final = "dumgum_async._cli"

#: The layers, bottom first. A module may import from its own layer or any layer
#: below it, never from one above. The rule holds for imports under
#: ``TYPE_CHECKING`` too: a lower layer that needs the shape of a higher one's object
#: declares a Protocol of its own (as ``_retry.RetryObserver`` does for ``_otel``).
LAYERS: Final[tuple[tuple[str, frozenset[str]], ...]] = (
    (
        "foundation: plain values, models, errors",
        frozenset(
            {
                "dumgum_async._version",
                "dumgum_async.exceptions",
                "dumgum_async._secret",
                "dumgum_async._enums",
                "dumgum_async._pylist",
                "dumgum_async._constraints",
                "dumgum_async._rules",
                "dumgum_async._wire",
                "dumgum_async._structure",
                "dumgum_async._models",
                "dumgum_async._checks",
                "dumgum_async._config",
            }
        ),
    ),
    (
        "policy: wire format, retries, limiters, breaker, counters",
        frozenset(
            {
                "dumgum_async._converter",
                "dumgum_async._encode",
                "dumgum_async._validate",
                "dumgum_async._deadline",
                "dumgum_async._gate",
                "dumgum_async._retry",
                "dumgum_async._adaptive",
                "dumgum_async._throttle",
                "dumgum_async._throttle_adaptive",
                "dumgum_async._aiolimiter",
                "dumgum_async._redis",
                "dumgum_async._redis_adaptive",
                "dumgum_async._redis_link",
                "dumgum_async._redis_local",
                "dumgum_async._redis_url",
                "dumgum_async._breaker",
                "dumgum_async._stats",
                "dumgum_async._options",
                "dumgum_async._settings",
                "dumgum_async._log",
            }
        ),
    ),
    (
        "transport: aiohttp, and telemetry wrapped around it",
        frozenset(
            {
                "dumgum_async._interpret",
                "dumgum_async._http",
                "dumgum_async._http_proxy",
                "dumgum_async._timer",
                "dumgum_async._otel",
            }
        ),
    ),
    (
        "client: one call's life, its lifecycle, batches, views",
        frozenset(
            {
                "dumgum_async._lifecycle",
                "dumgum_async._callpath",
                "dumgum_async._raw",
                "dumgum_async._batch",
                "dumgum_async._batches",
                "dumgum_async._client",
            }
        ),
    ),
    ("public API", frozenset({"dumgum_async"})),
    ("emulator: dumgum_async.testing (uses the public API)", frozenset({TESTING + ".*"})),
    (
        "entry points: the command line (uses the public API)",
        frozenset(
            {
                CLI,
                *(
                    f"{CLI}.{name}"
                    for name in (
                        "_defaults",
                        "_types",
                        "_console",
                        "_run",
                        "_api",
                        "_jsonl",
                        "_resume",
                        "_batch_run",
                        "_suggest",
                        "_batch",
                        "_validate",
                        "_serve",
                        "_demo",
                        "_main",
                    )
                ),
                "dumgum_async.__main__",
            }
        ),
    ),
)

#: RedisRateLimit and its parts, the only modules that may import ``redis``.
REDIS_MODULES: Final = frozenset(
    {
        "dumgum_async._redis",
        "dumgum_async._redis_adaptive",
        "dumgum_async._redis_link",
        "dumgum_async._redis_local",
        "dumgum_async._redis_url",
    }
)

#: Third-party packages and the only modules allowed to import them (none: never).
CORE_CONFINED: Final[dict[str, frozenset[str]]] = {
    "aiohttp": frozenset({"dumgum_async._http"}),
    # _interpret builds the errors of answers, whose headers are case-insensitive;
    # exceptions holds their type (SafeHeaders, picklable) and makes any proxy one.
    "multidict": frozenset(
        {"dumgum_async._http", "dumgum_async._interpret", "dumgum_async.exceptions"}
    ),
    # _http_proxy reads proxy URLs from the environment (yarl, aiohttp's URL type).
    "yarl": frozenset({"dumgum_async._http", "dumgum_async._http_proxy"}),
    "tenacity": frozenset({"dumgum_async._retry"}),
    "redis": REDIS_MODULES,
    "opentelemetry": frozenset({"dumgum_async._otel"}),
    # Duck-typed in _aiolimiter: a user's AsyncLimiter works without our importing it.
    "aiolimiter": frozenset(),
}

#: The emulator is a server, so it may use aiohttp too, but only where it must: its
#: HTTP server (aiohttp.web) and the aioresponses patch (which patches aiohttp's
#: ClientResponse). The client's own dependencies stay out of it, and the ``testing``
#: extra's validators stay in the schema module.
TESTING_CONFINED: Final[dict[str, frozenset[str]]] = {
    "aiohttp": frozenset({TESTING + "._server", TESTING + "._mock"}),
    "aioresponses": frozenset({TESTING + "._mock", TESTING + ".pytest_plugin"}),
    "jsonschema": frozenset({TESTING + "._schema"}),
    "yaml": frozenset({TESTING + "._schema"}),
    "multidict": frozenset(),
    "yarl": frozenset(),
    "tenacity": frozenset(),
    "redis": frozenset(),
    "opentelemetry": frozenset(),
    "aiolimiter": frozenset(),
}

#: The modules a user (and so the CLI, the emulator and the examples) may import.
PUBLIC_MODULES: Final = frozenset({PACKAGE, PACKAGE + ".exceptions", TESTING})

#: Today's exceptions to "the CLI uses the public API only", one line each, with why.
CLI_PRIVATE_ALLOWED: Final = frozenset(
    {
        # ``dumgum-async serve`` hands its arguments to the emulator's own parser
        # (``python -m dumgum_async.testing._serve``), which is not public.
        (TESTING, "_serve"),
    }
)


#: Today's exceptions to "the emulator uses the client's public API only", with why.
EMULATOR_PRIVATE_ALLOWED: Final = frozenset(
    {
        # Every DEFAULT_* has one home, the client's _config (plain values, a leaf of
        # the foundation); the emulator re-exports this one as testing.DEFAULT_API_KEY.
        (PACKAGE + "._config", "DEFAULT_API_KEY"),
        # ... and sample_requests takes its default languages from there too.
        (PACKAGE + "._config", "DEFAULT_SAMPLE_LANGUAGES"),
    }
)


class Import(NamedTuple):
    """One imported thing: who imports what, and whether only for type checking."""

    importer: str
    target: str  # the module imported (``from pkg import submodule`` names the submodule)
    name: str | None  # the name taken from ``target`` by ``from ... import``, else None
    line: int
    type_checking: bool

    def where(self) -> str:
        """``module:line``, for failure messages."""
        return f"{self.importer}:{self.line}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources(folder: str) -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((ROOT / folder).rglob("*.py"))}


MODULES: Final = _sources(PACKAGE)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(
    node: ast.AST, type_checking: bool = False
) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, type_checking
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield from _import_nodes(ast.Module(body=[stmt], type_ignores=[]), True)
            for stmt in child.orelse:
                yield from _import_nodes(ast.Module(body=[stmt], type_ignores=[]), type_checking)
        else:
            yield from _import_nodes(child, type_checking)


def imports_of(name: str, path: Path) -> list[Import]:
    """Every import in the file at ``path`` (module ``name``), lazy ones included."""
    is_package = path.name == "__init__.py"
    found: list[Import] = []
    for node, tc in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [Import(name, a.name, None, node.lineno, tc) for a in node.names]
            continue
        base = node.module or ""
        if node.level:
            anchor = name.split(".") if is_package else name.split(".")[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            if sub in MODULES:
                found.append(Import(name, sub, None, node.lineno, tc))
            else:
                found.append(Import(name, base, alias.name, node.lineno, tc))
    return found


IMPORTS: Final = {name: imports_of(name, path) for name, path in MODULES.items()}


def _internal(imp: Import) -> bool:
    return imp.target == PACKAGE or imp.target.startswith(PACKAGE + ".")


def _top(imp: Import) -> str:
    return imp.target.split(".")[0]


def _layer_of(module: str) -> int | None:
    for index, (_, members) in enumerate(LAYERS):
        for member in members:
            # "pkg.*" is the package ``pkg`` and every module in it.
            if member.endswith(".*") and (module + ".").startswith(member[:-1]):
                return index
            if module == member:
                return index
    return None


def _confinement_breaches(
    modules: dict[str, list[Import]], rules: dict[str, frozenset[str]]
) -> list[str]:
    return [
        f"{imp.where()} imports {imp.target}: {_top(imp)} belongs only in "
        f"{sorted(rules[_top(imp)]) or 'no module'}"
        for imps in modules.values()
        for imp in imps
        if _top(imp) in rules and imp.importer not in rules[_top(imp)]
    ]


def _public_only(imps: list[Import], allowed: frozenset[tuple[str, str]]) -> list[str]:
    """Imports of the package that are not of a public module and a public name."""
    bad = []
    for imp in imps:
        if not _internal(imp) or (
            imp.importer.startswith(TESTING) and imp.target.startswith(TESTING)
        ):
            continue
        if imp.name is None:
            # ``from dumgum_async.testing import _serve`` arrives here as the submodule.
            parent, _, leaf = imp.target.rpartition(".")
            pair = (parent, leaf)
        else:
            pair = (imp.target, imp.name)
        private_module = imp.name is None and imp.target not in PUBLIC_MODULES
        private_name = imp.name is not None and (
            imp.target not in PUBLIC_MODULES or imp.name.startswith("_")
        )
        if (private_module or private_name) and pair not in allowed:
            bad.append(f"{imp.where()} imports {'.'.join(pair)}")
    return bad


def _private_attributes(path: Path) -> list[str]:
    """``dg._something`` on a name bound to the package: a private import in disguise."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases = {
        a.asname or a.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for a in node.names
        if a.name in PUBLIC_MODULES
    }
    return [
        f"{path.name}:{node.lineno} uses {node.value.id}.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in aliases
        and node.attr.startswith("_")
        and not (node.attr.startswith("__") and node.attr.endswith("__"))
    ]


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in edges.get(node, ()):
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


# --- the rules ------------------------------------------------------------------------


def test_the_parser_sees_the_package() -> None:
    # Guards every rule below against passing because nothing was read.
    assert "dumgum_async._http" in MODULES
    assert any(imp.target == "aiohttp" for imp in IMPORTS["dumgum_async._http"])
    assert any(imp.type_checking for imp in IMPORTS["dumgum_async._client"])


def test_third_party_clients_are_confined_to_their_module() -> None:
    core = {m: imps for m, imps in IMPORTS.items() if not m.startswith(TESTING)}
    assert _confinement_breaches(core, CORE_CONFINED) == []


def test_the_emulator_uses_aiohttp_only_in_its_server_and_mock() -> None:
    testing = {m: imps for m, imps in IMPORTS.items() if m.startswith(TESTING)}
    assert _confinement_breaches(testing, TESTING_CONFINED) == []


def test_the_redis_modules_are_every_redis_module() -> None:
    # A new _redis_* module must be listed, and a listed one must exist.
    assert {m for m in MODULES if m.startswith(PACKAGE + "._redis")} == REDIS_MODULES


def test_exceptions_is_a_leaf() -> None:
    assert [i.where() for i in IMPORTS["dumgum_async.exceptions"] if _internal(i)] == []


def test_every_module_has_a_layer() -> None:
    assert [m for m in MODULES if _layer_of(m) is None] == []


def test_imports_go_down_or_sideways_only() -> None:
    upward = []
    for module, imps in IMPORTS.items():
        mine = _layer_of(module)
        for imp in imps:
            theirs = _layer_of(imp.target) if _internal(imp) else None
            if mine is not None and theirs is not None and theirs > mine:
                upward.append(
                    f"{imp.where()} ({LAYERS[mine][0]}) imports {imp.target} ({LAYERS[theirs][0]})"
                    + (" under TYPE_CHECKING" if imp.type_checking else "")
                )
    assert upward == []


def test_no_import_cycles() -> None:
    # Type-only imports count: a cycle through them is still two modules that
    # cannot be understood one without the other.
    edges = {
        module: {i.target for i in imps if _internal(i) and i.target != module}
        for module, imps in IMPORTS.items()
    }
    assert _cycles(edges) == []


def test_cycle_finder_finds_a_cycle() -> None:
    # The test above passes on an empty answer: prove the finder can say otherwise.
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_cli_uses_only_the_public_api() -> None:
    package = [m for m in MODULES if m == CLI or m.startswith(CLI + ".")]
    assert len(package) > 1, "the command line package was not read"
    # Its modules import each other; everything else must be public.
    outside = [
        imp
        for m in package
        for imp in IMPORTS[m]
        if not (imp.target == CLI or imp.target.startswith(CLI + "."))
    ]
    assert _public_only(outside, CLI_PRIVATE_ALLOWED) == []
    assert [bad for m in package for bad in _private_attributes(MODULES[m])] == []


def test_the_emulator_uses_only_the_public_api_of_the_client() -> None:
    testing = [imp for m, imps in IMPORTS.items() if m.startswith(TESTING) for imp in imps]
    assert _public_only(testing, EMULATOR_PRIVATE_ALLOWED) == []


def test_examples_use_only_the_public_api() -> None:
    examples = _sources("examples")
    assert examples, "no example found"
    bad = []
    for name, path in examples.items():
        bad += _public_only(imports_of(name, path), frozenset())
        bad += _private_attributes(path)
    assert bad == []


#: Where a ``DEFAULT_*``/``ENV_*`` may be defined: the library's one home of defaults,
#: and the command line's own presentation defaults (the CLI may import only the
#: public API, and the library never uses these).
DEFAULTS_HOMES: Final = frozenset({"dumgum_async/_config.py", "dumgum_async/_cli/_defaults.py"})


def _defaults_defined_in(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name) and target.id.lstrip("_").startswith(
                ("DEFAULT_", "ENV_")
            ):
                names.append(target.id)
    return names


def _strays(paths: Iterator[Path], root: Path = ROOT) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in paths:
        rel = path.relative_to(root).as_posix()
        names = _defaults_defined_in(path)
        if names and rel not in DEFAULTS_HOMES:
            found[rel] = names
    return found


def test_every_default_is_defined_in_config() -> None:
    # _otel's table of scheme ports is a fact about URLs, not a setting.
    strays = _strays((ROOT / PACKAGE).rglob("*.py"))
    assert strays == {"dumgum_async/_otel.py": ["_DEFAULT_PORTS"]}


def test_the_defaults_check_sees_a_stray(tmp_path: Path) -> None:
    stray = tmp_path / PACKAGE / "_stray.py"
    stray.parent.mkdir()
    stray.write_text("DEFAULT_WINDOW: int = 3\nENV_X = 'X'\n", encoding="utf-8")
    assert _strays(iter([stray]), tmp_path) == {
        "dumgum_async/_stray.py": ["DEFAULT_WINDOW", "ENV_X"]
    }


#: Top-level test modules of the project as a whole rather than of one module.
PROJECT_TESTS: Final = frozenset(
    {
        "test_architecture",
        "test_benchmarks_smoke",
        "test_examples",
        "test_public_api",
        "test_readme",
        "test_spec_differences",
        "test_spec_file",
        "test_typing",
    }
)


def _unmirrored(tests: list[str], modules: set[str]) -> list[str]:
    def mirrors(test: str) -> bool:
        name = test.removeprefix("test_")
        return any(name == m or name.startswith(m + "_") for m in modules)

    return [t for t in tests if t not in PROJECT_TESTS and not mirrors(t)]


def test_top_level_test_modules_mirror_the_package() -> None:
    # test_<module>.py or test_<module>_<part>.py; a test organised by promise goes in
    # tests/promises/ (ARCHITECTURE.md, "Outside the package").
    modules = {m.split(".")[1].lstrip("_") for m in MODULES if m.count(".") == 1}
    tests = sorted(p.stem for p in (ROOT / "tests").glob("test_*.py"))
    assert len(tests) > 20, "the test modules were not found"
    assert _unmirrored(tests, modules) == []


def test_the_mirror_check_sees_a_test_named_for_a_promise() -> None:
    found = _unmirrored(["test_client", "test_client_views", "test_outage"], {"client"})
    assert found == ["test_outage"]

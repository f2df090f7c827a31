"""Field constraints: one declarative table per model, from which all checking is derived.

The constraints themselves (``string``, ``pattern``, ``many``...) are in ``_rules``.

A constraint is a sequence of :class:`Rule`\\ s. A rule is a Python expression that
is true when the value is fine, plus a ``code`` and how to say what is wrong. From
the same rules two things are generated:

* the **fast path**: one straight-line function per model (``fast_ok``) that
  ``and``-s every rule's expression, so a valid object costs a few comparisons;
* the **full path** (``explain``): every rule's expression compiled on its own and
  evaluated in order; each false one becomes a :class:`Problem` with its code and
  location. A rule marked ``stop`` ends its constraint's checks when false (the
  later rules assume it held).

So the fast path accepts exactly when the full path finds nothing: both test the
same expressions (``tests/test_constraints.py`` checks it with Hypothesis).
Generated code is registered in :mod:`linecache`, as attrs and cattrs do, so
tracebacks and debuggers show its source.
"""

from __future__ import annotations

import linecache
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, NamedTuple

import attrs

from dumgum_async.exceptions import Problem

_Loc = tuple[str | int, ...]
_Out = list[Problem]
#: How a rule explains itself: (value, location, problems out, attribute namer).
_Explain = Callable[[Any, _Loc, _Out, Callable[[str], str]], None]

CHECK = "dumgum_async.check"
REQUIRED = "dumgum_async.required"


# --- generated code ----------------------------------------------------------------


def compile_function(source: str, name: str, ns: dict[str, Any], label: str) -> Any:
    """``exec`` ``source`` under a unique ``<dumgum generated ...>`` file name kept in
    :mod:`linecache`, so that a traceback through it shows its lines; return ``name``."""
    base = f"<dumgum generated {label}"
    filename, n = f"{base}>", 1
    lines = source.splitlines(True)
    entry = (len(source), None, lines, filename)
    # setdefault reserves the name: a second function with the same label gets "-2".
    while linecache.cache.setdefault(filename, entry) != entry:
        n += 1
        filename = f"{base}-{n}>"
        entry = (len(source), None, lines, filename)
    exec(compile(source, filename, "exec"), ns)
    return ns[name]


class Rule(NamedTuple):
    """One test of a constraint.

    ``test`` is an expression over ``{v}``, true when the value is fine; every other
    ``{name}`` in it is an object of ``names``. ``message`` says what is wrong, from
    the value; or ``explain`` appends problems itself (for rules over items or over
    several fields). ``stop``: when the test fails, the constraint's later rules
    are skipped (they assume it held).
    """

    code: str
    test: str
    names: Mapping[str, object] = {}
    message: Callable[[Any], str] | None = None
    explain: _Explain | None = None
    stop: bool = False

    def render(self, var: str, ns: dict[str, Any]) -> str:
        """The test over the variable ``var``, its objects bound into ``ns``."""
        bound = {}
        for key, value in self.names.items():
            bound[key] = f"_c{len(ns)}"
            ns[bound[key]] = value
        return f"({self.test.format(v=var, **bound)})"


def invalid_value(loc: _Loc, exc: BaseException) -> Problem:
    """The problem of a value that raised when read or tested: the exception, at ``loc``."""
    return Problem(loc, f"invalid value ({type(exc).__name__}: {exc})", "invalid")


def _no_name(name: str) -> str:
    return name


class Check:
    """A constraint: rules, tested in order; built from declarations, never by hand."""

    __slots__ = ("label", "predicates", "rules")
    #: None for this check means "absent, make it the default": the fast path leaves
    #: it to the full one, whose ``normalise`` does that (an optional list's ``()``).
    null_normalised: ClassVar[bool] = False

    def __init__(self, rules: Iterable[Rule], label: str) -> None:
        self.rules = tuple(rules)
        self.label = label
        ns: dict[str, Any] = {}
        src = "".join(
            f"def p{i}(v):\n    return {r.render('v', ns)}\n" for i, r in enumerate(self.rules)
        )
        src += f"predicates = ({''.join(f'p{i}, ' for i in range(len(self.rules)))})\n"
        self.predicates: tuple[Callable[[Any], bool], ...] = compile_function(
            src, "predicates", ns, f"check {label}"
        )

    def fast(self, var: str, ns: dict[str, Any]) -> str:
        """One expression over ``var``: every rule's test, ``and``-ed."""
        return " and ".join(r.render(var, ns) for r in self.rules)

    def explain(
        self, value: Any, loc: _Loc, out: _Out, name: Callable[[str], str] = _no_name
    ) -> None:
        """Append a problem for each rule ``value`` breaks (at ``loc``) to ``out``."""
        for rule, holds in zip(self.rules, self.predicates, strict=True):
            try:
                if holds(value):
                    continue
                if rule.explain is not None:
                    rule.explain(value, loc, out, name)
                else:
                    assert rule.message is not None
                    out.append(Problem(loc, rule.message(value), rule.code))
            except Exception as exc:
                # A caller's object whose own methods fail (a tzinfo's utcoffset, a
                # __hash__): it cannot be checked, so it cannot be sent. The later
                # rules would ask it again.
                out.append(invalid_value(loc, exc))
                return
            if rule.stop:
                return

    def normalise(self, value: Any, required: bool) -> Any:
        """What a friendly caller meant (a list for a tuple); the value itself by default."""
        return value


# --- the table of a model ------------------------------------------------------------


class Field(NamedTuple):
    """One row of a model's table: an attribute, its constraint, whether it is required."""

    name: str
    check: Check
    required: bool


class Table(NamedTuple):
    """A model's constraints: one row per field, then the rules over the whole object."""

    fields: tuple[Field, ...]
    rules: Check | None

    def problems(self, obj: Any, name: Callable[[str], str] = _no_name) -> list[Problem]:
        """Every problem of ``obj`` (its attributes read as they are), located."""
        out: _Out = []
        for f in self.fields:
            value = getattr(obj, f.name)
            if value is None:
                if f.required:
                    out.append(Problem((name(f.name),), "required", "required"))
            else:
                f.check.explain(value, (name(f.name),), out, name)
        if self.rules is not None:
            self.rules.explain(obj, (), out, name)
        return out


def table_of(cls: type) -> Table:
    """The table declared by the attrs field metadata of ``cls`` (and its ``RULES``)."""
    fields = tuple(
        Field(a.name, a.metadata[CHECK], bool(a.metadata.get(REQUIRED)))
        for a in attrs.fields(cls)
        if CHECK in a.metadata
    )
    rules: tuple[Rule, ...] = getattr(cls, "RULES", ())
    return Table(fields, Check(rules, f"rules of {cls.__name__}") if rules else None)


def compile_fast_ok(cls: type, table: Table) -> Callable[[Any], bool]:
    """The fast path of ``table``: true exactly when ``table.problems(obj)`` is empty."""
    ns: dict[str, Any] = {}
    lines = ["def fast_ok(self):", "    try:"]
    for f in table.fields:
        lines.append(f"        v = self.{f.name}")
        test = f.check.fast("v", ns)
        if f.required or f.check.null_normalised:
            # An optional list given as None takes the slow road, which makes it ().
            lines.append(f"        if v is None or not ({test}):")
        else:
            lines.append(f"        if v is not None and not ({test}):")
        lines.append("            return False")
    more = table.rules.fast("self", ns) if table.rules is not None else "True"
    lines.append(f"        return {more}")
    # A test that raises is a problem the full path reports (``Check.explain``), so
    # the fast path answers False for it, as for any other problem.
    lines += ["    except Exception:", "        return False"]
    source = "\n".join(lines) + "\n"
    return compile_function(source, "fast_ok", ns, f"fast_ok {cls.__module__}.{cls.__qualname__}")  # type: ignore[no-any-return]

"""Guards on the test suite: habits that make tests lie or flake do not come back.

Fails on, under tests/:
- no-assert: a test function with no ``assert``, no ``pytest.raises``/``pytest.fail`` and no call
  of an asserting helper (a function of the same file that asserts, or one named
  ``assert_*``/``check_*``/``expect_*``/``wait_until``/``await_until``);
- timed-assert: an ``assert`` comparing a difference of ``time.time()``/``monotonic()``/
  ``perf_counter()`` readings (durations belong in the benchmarks);
- sleep: ``time.sleep``/``asyncio.sleep`` (other than ``asyncio.sleep(0)``, a yield) outside
  ``tests/wait.py``, the polling helpers with a deadline;
- fake: a class named ``Fake*``/``Flaky*`` in a file that imports our packages.

A finding is accepted only with an entry in ``scripts/check_tests_allow.toml`` saying why.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
ALLOW = Path(__file__).with_name("check_tests_allow.toml")
POLLING = {"tests/wait.py"}
TIMERS = {"time", "monotonic", "perf_counter", "monotonic_ns", "time_ns"}
ASSERTING_PREFIXES = ("assert_", "check_", "expect_", "wait_until", "await_until", "_assert")
OURS = ("lightningstor", "tests")


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _is_timer_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in TIMERS
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in {"time", "loop"}
    )


def _asserts(fn: ast.AST, helpers: set[str]) -> bool:
    for node in ast.walk(fn):
        if isinstance(node, ast.Assert | ast.Raise):
            return True
        if isinstance(node, ast.Call):
            name = _call_name(node)
            if name in {"raises", "fail", "warns"} or name in helpers:
                return True
            if name.startswith(ASSERTING_PREFIXES):
                return True
    return False


def _functions(tree: ast.AST) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function with its qualified name."""

    def visit(
        node: ast.AST, prefix: str
    ) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                yield name, child
                yield from visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                yield from visit(child, f"{prefix}{child.name}.")
            else:
                yield from visit(child, prefix)

    yield from visit(tree, "")


def _timed_asserts(fn: ast.AST) -> Iterator[int]:
    stamps: set[str] = set()
    durations: set[str] = set()

    def is_duration(expr: ast.AST) -> bool:
        if isinstance(expr, ast.Name):
            return expr.id in durations
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Sub):
            return any(
                _is_timer_call(side) or (isinstance(side, ast.Name) and side.id in stamps)
                for side in (expr.left, expr.right)
            )
        return False

    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                if _is_timer_call(node.value):
                    stamps.add(target.id)
                elif is_duration(node.value):
                    durations.add(target.id)
    for node in ast.walk(fn):
        if isinstance(node, ast.Assert):
            for cmp in ast.walk(node.test):
                if isinstance(cmp, ast.Compare) and any(
                    is_duration(e) for side in [cmp.left, *cmp.comparators] for e in ast.walk(side)
                ):
                    yield node.lineno
                    break


_ASSERTING: dict[Path, set[str]] = {}


def _asserting_functions(path: Path) -> set[str]:
    """Names of the functions of ``path`` that assert (directly, or through one of its own)."""
    if path not in _ASSERTING:
        _ASSERTING[path] = set()  # a cycle of imports ends here
        tree = ast.parse(path.read_text(), str(path))
        functions = [fn for _, fn in _functions(tree)]
        found = _imported_helpers(path, tree)
        for _ in range(3):  # helpers calling helpers, a few levels deep
            found |= {fn.name for fn in functions if _asserts(fn, found)}
        _ASSERTING[path] = found
    return _ASSERTING[path]


def _imported_helpers(path: Path, tree: ast.AST) -> set[str]:
    """Names imported from other test modules that assert there."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        parts = node.module.split(".") if node.module else []
        if node.level:
            base = path.parent
            for _ in range(node.level - 1):
                base = base.parent
            target = base.joinpath(*parts)
        elif parts and parts[0] == "tests":
            target = ROOT.joinpath(*parts)
        else:
            continue
        module = target.with_suffix(".py")
        if not module.is_file() or module == path:
            continue
        asserting = _asserting_functions(module)
        out |= {a.asname or a.name for a in node.names if a.name in asserting}
    return out


def findings(path: Path) -> Iterator[tuple[str, str, int, str]]:
    """(rule, "path::function", line, message) for one file."""
    rel = path.relative_to(ROOT).as_posix()
    tree = ast.parse(path.read_text(), rel)
    functions = list(_functions(tree))
    helpers = _asserting_functions(path)
    is_test_file = path.name.startswith("test_")
    # Each node's innermost function: outer functions first, inner ones overwrite.
    owner: dict[int, str] = {}
    for qual, fn in sorted(functions, key=lambda f: f[0].count(".")):
        for node in ast.walk(fn):
            owner[id(node)] = qual
    for qual, fn in functions:
        top_level_test = is_test_file and fn.name.startswith("test_") and qual.count(".") <= 1
        if top_level_test and not _asserts(fn, helpers):
            yield "no-assert", f"{rel}::{qual}", fn.lineno, "a test that asserts nothing"
        for line in _timed_asserts(fn):
            yield "timed-assert", f"{rel}::{qual}", line, "an assert on a measured duration"
    if rel not in POLLING:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _call_name(node) == "sleep":
                arg = node.args[0] if node.args else None
                if isinstance(arg, ast.Constant) and arg.value == 0:
                    continue
                where = owner.get(id(node), "<module>")
                yield "sleep", f"{rel}::{where}", node.lineno, "a sleep outside tests/wait.py"
    imports_ours = any(
        (isinstance(n, ast.ImportFrom) and (n.module or "").startswith(OURS))
        or (isinstance(n, ast.Import) and any(a.name.startswith(OURS) for a in n.names))
        for n in ast.walk(tree)
    )
    if imports_ours:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name.startswith(("Fake", "Flaky")):
                yield "fake", f"{rel}::{node.name}", node.lineno, "a fake of our own parts"


def main() -> int:
    allowed = {
        (entry["rule"], entry["where"]): entry["why"]
        for entry in tomllib.loads(ALLOW.read_text()).get("allow", [])
    }
    used: set[tuple[str, str]] = set()
    bad = 0
    for path in sorted(TESTS.rglob("*.py")):
        for rule, where, line, message in findings(path):
            if (rule, where) in allowed:
                used.add((rule, where))
                continue
            bad += 1
            print(f"{where.split('::')[0]}:{line}: [{rule}] {message} ({where})")
    for key in sorted(set(allowed) - used):
        bad += 1
        print(f"{ALLOW.name}: stale entry {key}: nothing to allow any more")
    if bad:
        print(f"check_tests: {bad} finding(s); fix them or allow them in {ALLOW.name} with a why")
        return 1
    print("check_tests: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

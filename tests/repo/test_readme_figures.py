"""Every figure the docs quote equals its source, as printed: a report or the sizing formula.

A quoted figure carries an HTML comment right after it (a short unit may sit between) that
names its source; the rendered page does not show it:

    8,961 req/s<!-- figure: reports/benchmark.json rows[pattern=corebound,concurrency=64].rps -->
    397 MiB<!-- figure: formula plan(2).memory_mib -->

A report source is a JSON file under reports/ and a path into it: dotted keys, where
`[key=value,...]` picks the one list entry with those fields. Terms joined by ` * ` or ` / `
(spaces around) combine numbers and paths of the same file: ratios, per-row costs, percents.
A formula source calls service/sizing/formula.py: `plan(cpu_limit, ...)` for the default
model (its size from reports/container-e2e.json, what the image holds; `memory_limit_mib=`
applies `fit_to_memory`), or `largest_body_bytes(rows, width)`. The figure must equal the
source rounded to the decimals printed. Code cannot carry a comment, so the plan line and
the `docker run` limits have tests of their own below.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from paths import REPO

from service.sizing import formula

DOCS = ("README.md", "loadtests/README.md", "docs/CONTRACT.md")
MARKER = re.compile(r"<!-- figure: (?P<source>.*?) -->")
# The last number before a marker, with at most a short unit (no digit, no tag) after it.
FIGURE = re.compile(r"(?P<number>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)[^\d<>\n]{0,12}$")
OPERATOR = re.compile(r"\s+([*/])\s+")
# One step of a path: a key, then maybe a selector; a path is steps joined by dots.
STEP = re.compile(r"(?P<key>[^.\[\]]+)(?:\[(?P<select>[^\]]*)\])?")
PATH = re.compile(r"[^.\[\]]+(?:\[[^\]]*\])?(?:\.[^.\[\]]+(?:\[[^\]]*\])?)*")
MODEL_SIZE = "reports/container-e2e.json images.service_contents.model_mib"


class SourceError(Exception):
    """A marker whose source cannot be read: no such report, key or formula."""


@dataclass(frozen=True)
class Figure:
    line: int
    printed: str | None  # None: the marker follows no number
    source: str


def figures(text: str) -> list[Figure]:
    found = []
    for m in MARKER.finditer(text):
        number = FIGURE.search(text[max(0, m.start() - 60) : m.start()])
        line = text.count("\n", 0, m.start()) + 1
        found.append(Figure(line, number["number"] if number else None, m["source"].strip()))
    return found


@cache
def report(root: Path, name: str) -> Any:
    path = root / name
    if not (name.startswith("reports/") and name.endswith(".json")):
        raise SourceError(f"{name}: a source is reports/<name>.json or `formula`")
    if not path.is_file():
        raise SourceError(f"{name}: no such report")
    return json.loads(path.read_text())


def lookup(data: Any, path: str) -> Any:
    if not PATH.fullmatch(path):
        raise SourceError(f"{path!r} is not a path (keys with dots, [key=value,...])")
    node = data
    for step in STEP.finditer(path):
        if not isinstance(node, dict) or step["key"] not in node:
            raise SourceError(f"{path}: no key {step['key']!r}")
        node = node[step["key"]]
        if step["select"] is not None:
            node = select(node, step["select"], path)
    return node


def select(items: Any, spec: str, path: str) -> Any:
    wanted = [pair.partition("=")[::2] for pair in spec.split(",")]
    hits = [
        item
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict) and all(same(item.get(k), v) for k, v in wanted)
    ]
    if len(hits) != 1:
        raise SourceError(f"{path}: [{spec}] matches {len(hits)} entries, not one")
    return hits[0]


def same(actual: Any, text: str) -> bool:
    # `concurrency=64` and `cpus=2` name numbers: compare as numbers (2 == 2.0).
    if isinstance(actual, int | float) and not isinstance(actual, bool):
        try:
            return float(text) == actual
        except ValueError:
            return False
    return str(actual) == text


def number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SourceError(f"{where} is {value!r}, not a number")
    return float(value)


def report_value(root: Path, name: str, expression: str) -> float:
    data = report(root, name)
    parts = OPERATOR.split(expression.strip())
    terms = [term(data, p) for p in parts[::2]]
    result = terms[0]
    for op, x in zip(parts[1::2], terms[1:], strict=True):
        result = result * x if op == "*" else result / x
    return result


def term(data: Any, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return number(lookup(data, text), text)


def default_plan(
    root: Path, cpu_limit: float, *, memory_limit_mib: int | None = None, **options: Any
) -> formula.Plan:
    """The plan of the default model, fitted to a memory limit when one is given."""
    options.setdefault("model_mib", source_value(root, MODEL_SIZE))
    return formula.fit_to_memory(formula.plan(cpu_limit, **options), memory_limit_mib)


def formula_value(root: Path, expression: str) -> float:
    """`plan(...)[.field]` or `largest_body_bytes(...)`, literal arguments only (never eval)."""
    try:
        call = ast.parse(expression, mode="eval").body
        field = None
        if isinstance(call, ast.Attribute):
            field, call = call.attr, call.value
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
            raise SourceError(f"{expression}: not a call of a formula")
        args = [ast.literal_eval(a) for a in call.args]
        kwargs = {str(k.arg): ast.literal_eval(k.value) for k in call.keywords}
    except (SyntaxError, ValueError) as exc:
        raise SourceError(f"{expression}: {exc}") from None
    functions: dict[str, Any] = {
        "plan": lambda *a, **k: default_plan(root, *a, **k),
        "largest_body_bytes": formula.largest_body_bytes,
    }
    if call.func.id not in functions:
        raise SourceError(f"{expression}: the formulas are {', '.join(functions)}")
    try:
        result = functions[call.func.id](*args, **kwargs)
    except (TypeError, ValueError) as exc:  # wrong arguments, or values plan() refuses
        raise SourceError(f"{expression}: {exc}") from None
    if field is not None:
        if not hasattr(result, field):
            raise SourceError(f"{expression}: the result has no {field!r}")
        result = getattr(result, field)
    return number(result, expression)


def source_value(root: Path, source: str) -> float:
    kind, _, expression = source.partition(" ")
    if kind == "formula":
        return formula_value(root, expression)
    return report_value(root, kind, expression)


def problems(text: str, root: Path = REPO) -> list[str]:
    """One line per marker whose figure differs from its source or whose source is missing."""
    found = []
    for fig in figures(text):
        where = f"line {fig.line}: {fig.source}"
        if fig.printed is None:
            found.append(f"{where}: the marker follows no figure")
            continue
        try:
            expected = source_value(root, fig.source)
        except (SourceError, ZeroDivisionError) as exc:
            found.append(f"{where}: {exc}")
            continue
        printed = fig.printed.replace(",", "")
        shown = f"{expected:.{len(printed.partition('.')[2])}f}"
        if shown != printed:
            found.append(f"{where}: the text says {fig.printed}, the source {shown} ({expected!r})")
    return found


# --- the repository's documents -----------------------------------------------------------


def test_every_marked_figure_equals_its_source() -> None:
    found = {doc: problems((REPO / doc).read_text()) for doc in DOCS}
    assert not {doc: p for doc, p in found.items() if p}


def test_the_readme_marks_its_figures() -> None:
    # A broken marker pattern would find nothing and pass: the README quotes many figures.
    marked = figures((REPO / "README.md").read_text())
    assert len(marked) >= 20, marked
    assert {f.source.partition(" ")[0] for f in marked} >= {
        "reports/benchmark.json",
        "reports/container-e2e.json",
        "formula",
    }


def test_the_logged_plan_line_is_the_formulas() -> None:
    readme = (REPO / "README.md").read_text()
    lines = re.findall(r'`(\{"event": "plan".*?\})`', readme)
    assert lines, 'the README shows no `{"event": "plan", ...}` line'
    for line in lines:
        shown = {k: json.loads(v) for k, v in re.findall(r'"(\w+)": ("[^"]*"|[\d.]+)', line)}
        del shown["event"]
        expected = default_plan(REPO, shown["cpu_limit"], mode=shown.get("mode", "throughput"))
        assert shown == {k: expected.as_dict()[k] for k in shown}


def test_the_docker_run_limits_start_the_workers_the_readme_promises() -> None:
    readme = (REPO / "README.md").read_text()
    runs = re.findall(r"--cpus (\S+) --memory (\d+)m\b", readme)
    promised = re.findall(r"plan: (\d+) workers? x (\d+) threads?, memory_limit_mib (\d+)", readme)
    assert runs and len(runs) == len(promised)
    for (cpus, memory), (workers, threads, limit) in zip(runs, promised, strict=True):
        # The memory is the plan itself: any less and the service starts fewer workers.
        assert int(memory) == default_plan(REPO, float(cpus)).memory_mib
        fitted = default_plan(REPO, float(cpus), memory_limit_mib=int(memory))
        assert (fitted.workers, fitted.threads) == (int(workers), int(threads))
        assert fitted.memory_limit_mib == int(limit)


# --- the checker itself, on texts made here --------------------------------------------------


def fake_reports(tmp_path: Path) -> Path:
    (tmp_path / "reports").mkdir()
    bench = {
        "rows": [{"pattern": "a", "c": 1, "rps": 8961.16}, {"pattern": "b", "c": 1, "rps": 1718.8}]
    }
    (tmp_path / "reports" / "bench.json").write_text(json.dumps(bench))
    return tmp_path


def test_the_checker_accepts_figures_as_printed(tmp_path: Path) -> None:
    root = fake_reports(tmp_path)
    a, b = "rows[pattern=a,c=1].rps", "rows[pattern=b,c=1].rps"
    text = (
        f"serves 8,961<!-- figure: reports/bench.json {a} --> req/s,"
        f" 5.21x<!-- figure: reports/bench.json {a} / {b} --> the other;"
        f" 431,104<!-- figure: formula largest_body_bytes(256, 64) --> bytes\n"
    )
    assert problems(text, root) == []


def test_the_checker_catches_a_wrong_figure(tmp_path: Path) -> None:
    root = fake_reports(tmp_path)
    text = "serves\n8,960 req/s<!-- figure: reports/bench.json rows[pattern=a,c=1].rps -->\n"
    assert problems(text, root) == [
        "line 2: reports/bench.json rows[pattern=a,c=1].rps:"
        " the text says 8,960, the source 8961 (8961.16)"
    ]


def test_the_checker_catches_a_wrong_formula_figure(tmp_path: Path) -> None:
    text = "a body of 4096 bytes<!-- figure: formula largest_body_bytes(256, 64) -->"
    assert problems(text, fake_reports(tmp_path)) == [
        "line 1: formula largest_body_bytes(256, 64): the text says 4096, the source 431104"
        " (431104.0)"
    ]


def test_the_checker_catches_missing_reports_keys_and_figures(tmp_path: Path) -> None:
    root = fake_reports(tmp_path)
    text = (
        "1 ms<!-- figure: reports/gone.json a.b -->\n"
        "2 ms<!-- figure: reports/bench.json rows[pattern=a,c=1].p99_ms -->\n"
        "3 ms<!-- figure: reports/bench.json rows[pattern=z].rps -->\n"
        "4 ms<!-- figure: reports/bench.md a -->\n"
        "fast<!-- figure: reports/bench.json rows[pattern=a,c=1].rps -->\n"
        "5 x<!-- figure: formula os.system('x') -->\n"
    )
    found = problems(text, root)
    assert len(found) == 6, found
    for fragment in ("no such report", "no key 'p99_ms'", "matches 0 entries", "reports/<name>"):
        assert any(fragment in p for p in found), (fragment, found)
    assert any("follows no figure" in p for p in found)
    assert any("not a call of a formula" in p for p in found)

"""service/ in layers: each module imports only from its own package or the layers below it,
and no import cycle anywhere (read from the source, so a lazy import inside a function counts).
"""

from __future__ import annotations

import ast
from pathlib import Path

from paths import REPO as ROOT

SERVICE = ROOT / "service"

# Bottom to top. Packages on one rank are peers and must not import each other.
LAYERS: list[set[str]] = [
    {"service", "service.settings", "service.metrics"},
    {"service.sizing"},
    {"service.inference"},
    {"service.protocol"},
    {"service.jobs"},  # the job worker decodes with service.protocol; the job routes queue here
    {"service.web", "service.server"},
    {"service.app", "service.gunicorn_conf", "service.probe"},
]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def unit(module: str) -> str:
    """The layer entry a module belongs to: its package under service/, or itself."""
    parts = module.split(".")
    candidate = ".".join(parts[:2])
    if (SERVICE / parts[1]).is_dir() if len(parts) > 1 else False:
        return candidate
    return module


def rank(module: str) -> int:
    for i, layer in enumerate(LAYERS):
        if unit(module) in layer:
            return i
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in this test")


def imports(path: Path, package: str | None = None) -> set[str]:
    """Every `service` module this file imports (`from service import x` names x's module).

    `package`: the file's package, for relative imports (default: from its place in service/).
    """
    found: set[str] = set()
    if package is None:
        name = module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "service")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] != "service":
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                is_module = (ROOT / Path(*sub.split("."))).with_suffix(".py").exists() or (
                    ROOT / Path(*sub.split("."))
                ).is_dir()
                found.add(sub if is_module else base)
    return found


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p) for p in sorted(SERVICE.rglob("*.py"))}


def test_every_module_is_in_a_layer() -> None:
    for module in graph():
        rank(module)


def test_no_module_imports_a_higher_layer_or_a_peer_package() -> None:
    wrong = []
    for module, targets in graph().items():
        for target in targets:
            same_unit = unit(target) == unit(module)
            if not same_unit and rank(target) >= rank(module):
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports against the layers (see LAYERS):\n" + "\n".join(sorted(wrong))


def test_no_import_cycle_inside_service() -> None:
    edges = graph()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycle = [*path[path.index(module) :], module]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        for target in sorted(edges.get(module, ())):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(edges):
        visit(module, [])


def test_the_layering_check_sees_an_upward_import(tmp_path: Path) -> None:
    upward = tmp_path / "bad.py"
    upward.write_text("from service.web.body import BodyPolicy\nfrom ..web import runtime\n")
    assert imports(upward, "service.inference") == {"service.web.body", "service.web.runtime"}
    assert rank("service.web.body") > rank("service.inference.engine")

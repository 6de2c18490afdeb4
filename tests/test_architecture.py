"""The shape of the code, checked: the kernel (`cameoguard`) imports no area; nothing imports the
assembly but its entry points; the top-level packages import each other without a cycle; and
outside the areas' route modules (`api.py`) no area module knows HTTP (FastAPI, Starlette, the
kernel's HTTP dependencies, `ApiError`). Every /v1 operation of the OpenAPI document declares a
schema for its success answer."""

from __future__ import annotations

import ast
from pathlib import Path

from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
KERNEL = "cameoguard"
AREAS = ("safety", "provenance", "generator", "consumers", "wellbeing", "rights")
PACKAGES = (KERNEL, *AREAS, "assembly")
HTTP_MODULES = ("fastapi", "starlette", "cameoguard.deps", "cameoguard.middleware",
                "cameoguard.uploads", "cameoguard.cost")  # fmt: skip


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts)


def _imports(path: Path) -> list[tuple[str, set[str]]]:
    """Every module imported (at any depth), with the names imported from it."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, set()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, {alias.name for alias in node.names}))
    return found


def _top(module: str) -> str:
    return module.split(".")[0]


def test_the_kernel_imports_no_area_and_no_area_imports_the_assembly() -> None:
    wrong = []
    for package in (KERNEL, *AREAS):
        forbidden = {*AREAS, "assembly"} if package == KERNEL else {"assembly"}
        for path in _modules(package):
            wrong += [
                f"{path.relative_to(ROOT)} imports {module}"
                for module, _ in _imports(path)
                if _top(module) in forbidden
            ]
    assert not wrong, "\n".join(wrong)


def test_top_level_packages_have_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {package: set() for package in PACKAGES}
    for package in PACKAGES:
        for path in _modules(package):
            for module, _ in _imports(path):
                if _top(module) in graph and _top(module) != package:
                    graph[package].add(_top(module))

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for nxt in graph[start] - seen:
            if nxt == target or reaches(nxt, target, seen | {nxt}):
                return True
        return False

    cycles = [p for p in PACKAGES if reaches(p, p, set())]
    assert not cycles, {p: sorted(graph[p]) for p in cycles}


def test_only_route_modules_know_http() -> None:
    wrong = []
    for package in AREAS:
        for path in _modules(package):
            if path.name == "api.py":
                continue
            for module, names in _imports(path):
                if module.startswith(HTTP_MODULES) or "ApiError" in names:
                    wrong.append(f"{path.relative_to(ROOT)} imports {module} {sorted(names)}")
    assert not wrong, "\n".join(wrong)


def test_every_v1_operation_declares_its_answer(client: TestClient) -> None:
    missing = []
    for path, operations in client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        if not path.startswith("/v1/"):
            continue
        for method, operation in operations.items():
            status = next(c for c in operation["responses"] if c.startswith("2"))
            if status == "204":
                continue  # no content by definition
            content = operation["responses"][status].get("content") or {}
            schema = next(iter(content.values()), {}).get("schema") or {}
            untyped = schema.get("type") == "object" and not schema.get("properties")
            if not schema or untyped:
                missing.append(f"{method.upper()} {path} {status}")
    assert not missing, "\n".join(missing)

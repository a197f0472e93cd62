"""The layering rules of docs/development.md ("Layers"), read from the imports with ast.

Every import counts: at module level, inside functions and under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "flow_engine"

#: Bottom to top. A module may import its own layer and the layers below, never above.
#: Every package and top-level module of flow_engine is in exactly one layer: a new one
#: must be placed here (and in docs/development.md), and one that is gone taken out.
LAYERS: list[tuple[str, ...]] = [
    ("__init__", "errors", "logging", "settings", "metrics"),  # shared by every layer
    ("domain",),  # pure models and rules
    ("storage", "gateway"),  # interfaces and their backends
    ("engine",),  # base flow, skills, runtime
    ("admin", "desk", "health", "notify", "data"),  # services: one package per capability
    ("web", "console", "cli", "admin_cli", "devtools", "__main__"),  # faces
]
LAYER_OF = {name: i for i, names in enumerate(LAYERS) for name in names}

#: which top-level libraries each place may import (paths relative to flow_engine/)
ONLY_IN = {
    "redis": ("storage/redis",),  # storage/redis.py and storage/redis_*.py
    "aiohttp": (
        "web/",
        "console/",
        "cli.py",
        "admin_cli/",
        "devtools/",
        "gateway/whatsapp.py",
        "gateway/skill_http.py",
        "gateway/alerts_http.py",  # the client of health alerts
        "gateway/media.py",
    ),
    "transitions": ("engine/machine.py",),
}
DOMAIN_FORBIDDEN_LIBRARIES = {"aiohttp", "redis", "transitions", "socket"}
#: modules that build a concrete backend, and who may import them
CONCRETE = (
    "flow_engine.storage.memory",
    "flow_engine.storage.redis",
    "flow_engine.storage.embedded",
    "flow_engine.gateway.whatsapp",
)
PICK_BACKENDS = ("web/app.py", "cli.py", "storage/", "gateway/", "devtools/")


def modules() -> list[Path]:
    return sorted(PKG.rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(PKG).as_posix()


def top_name(path: Path) -> str:
    """The package or top-level module a file belongs to (``engine``, ``cli``)."""
    first = path.relative_to(PKG).parts[0]
    return first.removesuffix(".py")


def imports_of(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ["flow_engine", *path.relative_to(PKG).parent.parts]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            names.add(module)
            # ``from flow_engine.storage import memory`` may import a module: count it
            names.update(f"{module}.{a.name}" for a in node.names)
    return names


def layer_of_import(name: str) -> int | None:
    """The layer of an imported flow_engine name (None for other libraries)."""
    parts = name.split(".")
    if parts[0] != "flow_engine" or len(parts) == 1 or parts[1] == "__version__":
        return None
    return LAYER_OF[parts[1]]


def placed() -> set[str]:
    return {top_name(p) for p in modules()}


def test_every_package_that_exists_is_placed_in_the_layers_and_no_other() -> None:
    listed = {name for names in LAYERS for name in names}
    assert sorted(placed() - listed) == [], "place these in LAYERS (and the docs)"
    assert sorted(listed - placed()) == [], "these are listed but do not exist"


@pytest.mark.parametrize("path", modules(), ids=rel)
def test_nothing_imports_a_layer_above_its_own(path: Path) -> None:
    own = LAYER_OF.get(top_name(path))
    assert own is not None, f"{top_name(path)} is in no layer: place it in LAYERS"
    for name in imports_of(path):
        target = layer_of_import(name)
        if target is None:
            continue
        assert target <= own, (
            f"{rel(path)} (layer {own}: {LAYERS[own]}) imports {name} "
            f"(layer {target}: {LAYERS[target]})"
        )


@pytest.mark.parametrize("path", modules(), ids=rel)
def test_library_imports_stay_in_their_layer(path: Path) -> None:
    for name in imports_of(path):
        allowed = ONLY_IN.get(name.split(".")[0])
        if allowed is not None:
            assert rel(path).startswith(allowed), f"{rel(path)} imports {name}; only {allowed} may"


@pytest.mark.parametrize("path", sorted((PKG / "domain").rglob("*.py")), ids=rel)
def test_domain_does_no_io(path: Path) -> None:
    for name in imports_of(path):
        assert name.split(".")[0] not in DOMAIN_FORBIDDEN_LIBRARIES, f"{rel(path)} imports {name}"


def test_only_app_and_cli_pick_concrete_backends() -> None:
    for path in modules():
        if rel(path).startswith(PICK_BACKENDS):
            continue
        for name in imports_of(path):
            assert not name.startswith(CONCRETE), f"{rel(path)} imports {name}"


@pytest.mark.parametrize(
    "path",
    sorted((PKG / "storage").glob("memory_*.py")) + sorted((PKG / "storage").glob("redis_*.py")),
    ids=rel,
)
def test_a_backend_module_never_imports_its_parent_or_the_other_backend(path: Path) -> None:
    mine, other = ("memory", "redis") if path.name.startswith("memory_") else ("redis", "memory")
    for name in imports_of(path):
        assert name != f"flow_engine.storage.{mine}", f"{rel(path)} imports its parent {name}"
        assert not name.startswith(f"flow_engine.storage.{other}"), f"{rel(path)} imports {name}"

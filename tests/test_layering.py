"""The layering rules of DESIGN.md, read from the imports with ast."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "flow_engine"

# which top-level libraries each place may import
ONLY_IN = {
    "redis": ("storage/redis",),
    "aiohttp": (
        "web/",
        "gateway/whatsapp.py",
        "gateway/skill_http.py",
        "devtools/",
        "admin_cli/",  # the admin API's command-line client
    ),
    "transitions": ("engine/machine.py",),
}
LAYER_ORDER = ["domain", "storage", "gateway", "engine", "desk", "notify", "metrics", "web"]
DOMAIN_FORBIDDEN = (
    "flow_engine.storage",
    "flow_engine.gateway",
    "flow_engine.engine",
    "flow_engine.web",
    "flow_engine.devtools",
    "flow_engine.cli",
)


def modules() -> list[Path]:
    return sorted(PKG.rglob("*.py"))


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_library_imports_stay_in_their_layer(path: Path) -> None:
    rel = str(path.relative_to(PKG))
    for name in imports_of(path):
        top = name.split(".")[0]
        allowed = ONLY_IN.get(top)
        if allowed is not None:
            assert rel.startswith(allowed), f"{rel} imports {top}; only {allowed} may"


@pytest.mark.parametrize("path", sorted((PKG / "domain").rglob("*.py")), ids=lambda p: p.name)
def test_domain_does_no_io_and_depends_on_nothing_above(path: Path) -> None:
    for name in imports_of(path):
        assert not name.startswith(DOMAIN_FORBIDDEN), f"domain/{path.name} imports {name}"
        assert name.split(".")[0] not in {"aiohttp", "redis", "transitions", "socket"}


@pytest.mark.parametrize(
    "path",
    sorted((PKG / "storage").rglob("*.py")) + sorted((PKG / "gateway").rglob("*.py")),
    ids=lambda p: str(p.relative_to(PKG)),
)
def test_storage_and_gateway_do_not_reach_up(path: Path) -> None:
    for name in imports_of(path):
        assert not name.startswith(("flow_engine.engine", "flow_engine.web", "flow_engine.cli")), (
            f"{path.name} imports {name}"
        )


def test_only_app_and_cli_pick_concrete_backends() -> None:
    concrete = (
        "flow_engine.storage.memory",
        "flow_engine.storage.redis",
        "flow_engine.storage.embedded",
        "flow_engine.gateway.whatsapp",
    )
    for path in modules():
        rel = str(path.relative_to(PKG))
        if rel in ("web/app.py", "cli.py") or rel.startswith(
            ("storage/", "gateway/", "devtools/")
        ):
            continue
        for name in imports_of(path):
            assert name not in concrete, f"{rel} imports {name}"

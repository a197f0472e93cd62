"""What a number may attach on this engine (issue 10.5), one policy for every path that
loads a skill: the start (configuration files), every admin write, and every call.

- **Declarative** ``path``: relative to ``FLOW_ENGINE_SKILLS_DIR`` and inside it — an
  absolute path, a ``..`` that climbs out, or a symbolic link that leads out is refused.
- **HTTP** ``url``: inside ``FLOW_ENGINE_SKILL_URL_ALLOW`` (:mod:`flow_engine.domain.skill_urls`),
  checked by the skills' HTTP client, also on every call.
- **Python** ``target``: its module sits under a package (or is a module) listed in
  ``FLOW_ENGINE_PYTHON_SKILL_MODULES``; it is imported from the installed packages,
  ``PYTHONPATH``, or ``FLOW_ENGINE_SKILLS_DIR`` (searched last).

The local tools (``flow-engine chat`` / ``test``) run files their developer wrote on
their own machine: :meth:`SkillPolicy.local` resolves a relative path next to the file
that names it, else in the skills folder (as an engine would), and lets any URL and
module through.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePath

from flow_engine.domain.skill_urls import UrlAllowList
from flow_engine.errors import ConfigurationError

SKILLS_DIR = "FLOW_ENGINE_SKILLS_DIR"
PYTHON_MODULES = "FLOW_ENGINE_PYTHON_SKILL_MODULES"
URL_ALLOW = "FLOW_ENGINE_SKILL_URL_ALLOW"


def parse_modules(text: str) -> tuple[str, ...]:
    """``FLOW_ENGINE_PYTHON_SKILL_MODULES``: names separated by commas or white space."""
    return tuple(t for t in text.replace(",", " ").split() if t)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


@dataclass(frozen=True)
class SkillPolicy:
    """Where skills may come from. ``skills_dir`` None is the local tools' policy."""

    skills_dir: Path | None = None
    #: the local tools: relative flow files resolve here (absolute ones are allowed)...
    base_dir: Path | None = None
    #: ...or, when not found there, in these folders (the skills folder)
    also: tuple[Path, ...] = ()
    #: None: any module
    python_modules: tuple[str, ...] | None = None
    #: None: any URL
    url_allow: UrlAllowList | None = None

    @classmethod
    def restricted(
        cls, skills_dir: Path, url_allow: str = "", python_modules: str = ""
    ) -> SkillPolicy:
        """The engine's policy, from the three settings (empty lists allow nothing); a bad
        allow-list entry is a ``ConfigurationError`` naming the setting (the start stops)."""
        try:
            allow = UrlAllowList.parse(url_allow)
        except ValueError as exc:
            raise ConfigurationError(f"invalid settings: {URL_ALLOW}: {exc}") from None
        return cls(
            skills_dir=skills_dir, python_modules=parse_modules(python_modules), url_allow=allow
        )

    @classmethod
    def local(cls, base_dir: Path | None = None, also: tuple[Path, ...] = ()) -> SkillPolicy:
        return cls(base_dir=base_dir, also=also)

    @property
    def restricts(self) -> bool:
        return self.skills_dir is not None

    # --------------------------------------------------------------- declarative
    def flow_file(self, path: str) -> Path:
        """The file a declarative attachment names; ``ConfigurationError`` saying why
        it may not be read."""
        if "\x00" in path:
            raise ConfigurationError("a path cannot hold a NUL character")
        given = PurePath(path)
        if self.skills_dir is None:
            if given.is_absolute():
                return Path(given)
            first = (self.base_dir or Path.cwd()) / given
            for folder in (first.parent, *(d / given.parent for d in self.also)):
                if (folder / given.name).is_file():
                    return folder / given.name
            return first
        root = self.skills_dir.resolve()
        if given.is_absolute() or given.drive:
            raise ConfigurationError(
                f"absolute paths are refused: give the flow file relative to {SKILLS_DIR} ({root})"
            )
        if not _inside(Path(os.path.normpath(root / given)), root):
            raise ConfigurationError(f"{path} climbs out of {SKILLS_DIR} ({root}) with '..'")
        try:
            real = (root / given).resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long
            raise ConfigurationError(f"{path}: cannot resolve: {exc}") from None
        if not _inside(real, root):
            raise ConfigurationError(
                f"{path} is a symbolic link that leads out of {SKILLS_DIR} ({root})"
            )
        return real

    # -------------------------------------------------------------------- python
    def check_module(self, target: str) -> None:
        """``ConfigurationError`` unless the module of ``module:Class`` may be imported."""
        if self.python_modules is None:
            return
        module = target.partition(":")[0]
        if any(module == p or module.startswith(p + ".") for p in self.python_modules):
            return
        listed = ", ".join(self.python_modules) or "empty"
        raise ConfigurationError(
            f"python skill {target}: {module} is not in a package listed in "
            f"{PYTHON_MODULES} ({listed})"
        )

    def import_path(self) -> list[Path]:
        """Folders searched (after ``sys.path``) for a Python skill's module."""
        if self.skills_dir is not None:
            return [self.skills_dir.resolve()]
        folders = ([self.base_dir] if self.base_dir is not None else []) + list(self.also)
        return [f.resolve() for f in folders]

"""The conversation file (``*.test.yaml``): its model, and reading one.

A file names a configuration (a path relative to the file, or an inline mapping), may
replace its skills (paths relative to the file's folder), may name a server to start
first (``serve:``, :mod:`flow_engine.devtools.skill_server`), and lists steps: each
may first let time pass (``wait: 31m``; ``s``, ``m``, ``h`` or ``d``), then sends a
text (``send``), taps an option (``tap``: a 1-based number or a title), acts as the
attendant (``attendant: take``, ``attendant: say "…"``, ``attendant: close``,
``attendant: transfer QUEUE``) — or only lets the time pass — and checks the replies
(``expect``), the state reached and skill variables. ``${NAME}`` is replaced from the
environment before parsing (``${SERVE_URL}``: the URL the ``serve:`` server printed).
Running one is :mod:`flow_engine.devtools.convtest`.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from flow_engine.devtools.conversation import attendant_action
from flow_engine.domain.config import NumberConfig
from flow_engine.errors import ConfigurationError

SUFFIX = ".test.yaml"
#: the URL of the file's ``serve:`` server, in the file as ``${SERVE_URL}``
SERVE_URL = "SERVE_URL"
#: what ``${SERVE_URL}`` stands for while a file is only checked (no server started)
SERVE_STAND_IN = "http://127.0.0.1:9"
_SERVE_LINE = re.compile(r"^serve:[ \t]*(\S.*?)[ \t]*$", re.MULTILINE)


class Expect(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    contains: str | None = None
    matches: str | None = None
    options: list[str] | None = None

    @model_validator(mode="after")
    def _regex(self) -> Expect:
        if self.matches is not None:
            re.compile(self.matches)
        return self


class TestStep(BaseModel):
    model_config = ConfigDict(extra="forbid")
    __test__ = False

    wait: str | None = Field(
        None, pattern=r"^\d+(s|m|h|d)$", description="time that passes before the step: 31m"
    )
    send: str | None = None
    tap: int | str | None = None
    attendant: str | None = Field(
        None, description='what the attendant does: take, say "…", close, transfer QUEUE'
    )
    expect: list[Expect] | None = None
    state: str | None = None
    vars: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_action(self) -> TestStep:
        given = [a for a in ("send", "tap", "attendant") if getattr(self, a) is not None]
        if len(given) > 1 or (not given and self.wait is None):
            raise ValueError("give exactly one of send, tap, attendant (or only a wait)")
        if self.attendant is not None:
            attendant_action(self.attendant)  # a ValueError names what is wrong
        return self

    def describe(self) -> str:
        if self.send is not None:
            return f"send {self.send!r}"
        if self.tap is not None:
            return f"tap {self.tap!r}"
        if self.attendant is not None:
            return f"attendant: {self.attendant}"
        return f"wait {self.wait}"


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str = "5491100000000"
    name: str = "Ana"


class FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    serve: str | None = Field(None, min_length=1, description="a server to start first")
    config: str | dict[str, Any]
    skills: list[dict[str, Any]] | None = None
    contact: Contact = Field(default_factory=Contact)
    now: datetime | None = None
    steps: list[TestStep] = Field(min_length=1)


@dataclass
class ConversationFile:
    """A loaded conversation file, ready to run."""

    path: Path
    config: NumberConfig
    config_dir: Path
    contact: Contact
    now: datetime | None
    steps: list[TestStep]
    #: what ``${NAME}`` expands to, in this file and in its declarative skill files
    env: Mapping[str, str] = field(default_factory=dict)
    #: the ``serve:`` command, and the URL it printed once started (None: not started)
    serve: str | None = None
    serve_url: str | None = None


PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand(text: str, env: Mapping[str, str]) -> str:
    """``${NAME}`` from ``env``; an unknown name is an error. Any other ``$`` (JSONPath,
    regular expressions) is left alone."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise ConfigurationError(f"environment variable {name} is not set")
        return env[name]

    return PLACEHOLDER.sub(value, text)


def serve_command(text: str, env: Mapping[str, str]) -> str | None:
    """The ``serve:`` line of a file's text (read before ``${SERVE_URL}`` is known)."""
    found = _SERVE_LINE.search(text)
    if found is None:
        return None
    try:
        value = yaml.safe_load(found.group(1))
    except yaml.YAMLError:
        value = None
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError("serve: must be a command line, on one line")
    return expand(value, env)


def load_conversation_file(
    path: Path, env: Mapping[str, str] | None = None, *, serve_url: str | None = None
) -> ConversationFile:
    """Read, expand and validate a conversation file; ``ConfigurationError`` names the
    problem. A file with ``serve:`` is checked with a stand-in ``${SERVE_URL}`` until
    :func:`run_conversation` starts its server and reads it again with ``serve_url``."""
    path = Path(path)
    where = path.resolve().parent
    env = dict(os.environ if env is None else env)
    try:
        text = path.read_text(encoding="utf-8")
        serve = serve_command(text, env)
        if serve is not None:
            if serve_url is None and env.get(SERVE_URL):
                serve_url = env[SERVE_URL]  # yours, already running: none is started
            env[SERVE_URL] = serve_url or SERVE_STAND_IN
        raw = expand(text, env)
        data = yaml.safe_load(raw)
        model = FileModel.model_validate(data)
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not YAML: {exc}") from None
    except ValidationError as exc:
        raise ConfigurationError(f"{path}: {_errors(exc)}") from None
    except ConfigurationError as exc:
        raise ConfigurationError(f"{path}: {exc.message}") from None
    if isinstance(model.config, str):
        config_path = where / model.config
        try:
            document = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigurationError(f"{path}: config {config_path}: {exc.strerror}") from None
        if not isinstance(document, dict):
            raise ConfigurationError(f"{path}: config {config_path} is not a mapping")
        config_dir = config_path.parent
    else:
        document, config_dir = dict(model.config), where
    if model.skills is not None:
        document = {**document, "skills": [_skill_here(s, where) for s in model.skills]}
        if any(s.get("kind") == "python" for s in model.skills):
            # a Python skill attached here lives beside its tests/ folder, as new-skill
            # writes it: make it importable, like pytest's rootdir insertion
            for folder in (str(where.parent.resolve()), str(where.resolve())):
                if folder not in sys.path:
                    sys.path.insert(0, folder)
    try:
        config = NumberConfig.model_validate(document)
    except ValidationError as exc:
        raise ConfigurationError(f"{path}: config: {_errors(exc)}") from None
    return ConversationFile(
        path,
        config,
        config_dir,
        model.contact,
        model.now,
        model.steps,
        env,
        serve=serve,
        serve_url=serve_url,
    )


def _skill_here(skill: dict[str, Any], where: Path) -> dict[str, Any]:
    """Skill paths in the file are relative to the file's folder: make them absolute."""
    out = dict(skill)
    source = out.get("path")
    if isinstance(source, str) and not Path(source).is_absolute():
        out["path"] = str((where / source).resolve())
    return out


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}" for e in exc.errors()
    )

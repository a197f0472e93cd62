"""``flow-engine new-skill NAME [--http | --python] [--dir skills]``: a working skeleton.

Writes ``DIR/NAME/`` with the skill, a README and ``tests/NAME.test.yaml`` (one
conversation that passes against the demo number ``fixtures/100000000000001.yaml``):

- declarative (default): ``NAME.yaml``, a flow file that asks one question, keeps
  the answer in ``skp_answer``, thanks the contact and returns;
- ``--http``: ``server.py``, a small aiohttp server speaking the HTTP skill
  protocol (``python DIR/NAME/server.py --port 8090``; ``--port 0`` takes a free port,
  and the server prints its URL on its first line), and ``attachment.yaml``; its
  conversation file starts the server itself (``serve:``);
- ``--python``: ``NAME.py`` with a ``Skill`` class (``target: NAME:ClassName``).

The skeleton attaches the skill at ``PreMain`` so its conversation can be scripted
with texts alone; move it to another extension point in the number's ``skills:``
(docs/skills.md). An existing folder is never overwritten.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

DEMO_FIXTURE = Path("fixtures") / "100000000000001.yaml"
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,47}$")


class NewSkillError(Exception):
    """The skeleton cannot be written (bad name, existing folder)."""


def module_name(name: str) -> str:
    return name.replace("-", "_").lower()


def class_name(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[_-]+", name) if part) + "Skill"


def find_demo_fixture(*starts: Path) -> Path | None:
    """``fixtures/100000000000001.yaml`` in one of ``starts`` or their parents."""
    for start in starts:
        for folder in (start, *start.parents):
            candidate = folder / DEMO_FIXTURE
            if candidate.is_file():
                return candidate
    return None


# ---------------------------------------------------------------------- templates
DECLARATIVE_FLOW = """\
# {name}: a declarative skill (docs/skills.md, "Declarative flow files").
# Attach it to a number in the configuration's `skills:` (path relative to the
# engine's FLOW_ENGINE_SKILLS_DIR, default skills/):
#   - {{serviceName: PreMain, parentServiceName: Main, kind: declarative,
#      path: {attach_path}}}
start: ask
max_transitions_per_input: 10
states:
  ask:
    messages:
      - "¿Cuál es su color favorito, {{{{contact.name}}}}?"
    input:
      variable: answer
      validation:
        regex: "^[A-Za-zÁÉÍÓÚáéíóúñÑ ]{{2,30}}$"
      reask: "Escriba solo el nombre de un color, por favor."
      max_attempts: 3
      on_invalid: "@return"
    outputs:
      - to: thanks
  thanks:
    messages:
      - "¡Gracias! Anotamos: {{{{vars.answer}}}}."
    outputs:
      - to: "@return"
"""

HTTP_SERVER = '''\
"""{name}: an HTTP skill (docs/skills.md, "HTTP skills").

Run it:  python {server_path} --port 8090    (--port 0: any free port)
         It prints its URL on its first line: that is how `serve:` in
         tests/{module}.test.yaml learns where it listens.
Attach:  see attachment.yaml next to this file.

The engine POSTs {{"envelope", "variables", "context"}} for each message while the
skill holds the conversation; the skill answers messages, variables and
"stay" or "return".
"""

from __future__ import annotations

import argparse
import socket
from typing import Any

from aiohttp import web


def answer(request: dict[str, Any]) -> dict[str, Any]:
    """The reply to one request body."""
    if request["context"]["first"]:
        return {{
            "messages": ["¿Cuál es su color favorito?"],
            "variables": {{"asked": True}},
            "action": "stay",
        }}
    color = str(request["envelope"]["input"]["content"]).strip()[:100]
    return {{
        "messages": [f"¡Gracias! Anotamos: {{color}}."],
        "variables": {{"answer": color, "asked": None}},
        "action": "return",
        "envelope": request["envelope"],
    }}


async def skill(request: web.Request) -> web.Response:
    try:
        reply = answer(await request.json())
    except (ValueError, KeyError, TypeError) as exc:
        return web.json_response({{"error": f"bad request: {{exc}}"}}, status=400)
    return web.json_response(reply)


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/skill", skill)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="{name} (HTTP skill)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090, help="0: any free port")
    args = parser.parse_args()
    sock = socket.create_server((args.host, args.port))  # bound now: the real port is known
    print(f"http://{{args.host}}:{{sock.getsockname()[1]}}", flush=True)  # the URL, first line
    web.run_app(make_app(), sock=sock, print=None)


if __name__ == "__main__":
    main()
'''

HTTP_ATTACHMENT = """\
# Add this to the number's configuration, under `skills:` (docs/skills.md).
- serviceName: PreMain
  parentServiceName: Main
  kind: http
  url: "http://127.0.0.1:8090/skill"
  timeout_s: 5
"""

PYTHON_MODULE = '''\
"""{name}: a Python skill (docs/skills.md, "Python skills").

Attach:  {{serviceName: PreMain, parentServiceName: Main, kind: python,
          target: "{module}:{cls}"}}
The module must be importable: `flow-engine test {folder}/tests` finds it next to
its tests/ folder; `flow-engine chat` with PYTHONPATH={folder}; an engine from the
installed packages, PYTHONPATH or FLOW_ENGINE_SKILLS_DIR, under a package listed in
FLOW_ENGINE_PYTHON_SKILL_MODULES.
"""

from __future__ import annotations

from typing import Any

from flow_engine.domain.skills import Envelope
from flow_engine.engine.skills.base import Skill, SkillContext, SkillResult


class {cls}(Skill):
    """Asks one question, keeps the answer, thanks the contact and returns."""

    async def run(
        self, envelope: Envelope, variables: dict[str, Any], context: SkillContext
    ) -> SkillResult:
        if context.first:
            return SkillResult(messages=["¿Cuál es su color favorito?"], stay=True)
        color = envelope.input.content.strip()[:100]
        return SkillResult(
            messages=[f"¡Gracias! Anotamos: {{color}}."],
            variables={{"answer": color}},
            stay=False,
            envelope=envelope,
        )
'''

INLINE_CONFIG = (
    '{phone_number_id: "100000000000001", display_phone_number: "15550000001", name: Demo, '
    'faq: {enabled: true, questions: [{question: Horario, answer: "Las 24 horas."}]}}'
)

TEST_FILE = """\
# Run: {run}
{serve}config: {config}
skills:
  - {attachment}
contact: {{phone: "5491100000000", name: "Ana"}}
now: "2026-11-23T10:00:00-03:00"
steps:
  - send: "hola"
    expect:
      - {first_expect}
    state: skill
  - send: "azul"
    expect:
      - text: "¡Gracias! Anotamos: azul."
      - contains: "Hola Ana"
      - contains: "preguntas más frecuentes"
"""

README = """\
# {name}

{article} {kind_label} skill created by `flow-engine new-skill`. It asks the contact one
question, keeps the answer in the skill variable `skp_answer`, thanks the contact
and returns to the base flow right after its extension point.

- The skill: `{skill_file}`
- Attach it to a number under `skills:` in the number's configuration:

  ```yaml
  skills:
    - {attachment}
  ```

  `serviceName` is the extension point (PreMain, PreFaq, PreDesk, PreSurvey,
  PosSurvey, PreEnd) and `parentServiceName` the service it returns to (Main for
  PreMain/PreFaq/PreEnd, Desk for PreDesk, NotaCerta for PreSurvey/PosSurvey).
- Try it: `flow-engine chat` with a configuration that attaches it.
- Test it: `{run}`{extra}

See docs/skills.md for the whole reference.
"""


def _attachment(kind: str, name: str, module: str, cls: str, path: str) -> str:
    if kind == "http":
        return (
            "{serviceName: PreMain, parentServiceName: Main, kind: http, "
            'url: "${SERVE_URL}/skill"}'
        )
    if kind == "python":
        return (
            "{serviceName: PreMain, parentServiceName: Main, kind: python, "
            f'target: "{module}:{cls}"}}'
        )
    return f"{{serviceName: PreMain, parentServiceName: Main, kind: declarative, path: {path}}}"


def create_skill(
    name: str, kind: str = "declarative", base_dir: Path = Path("skills")
) -> list[Path]:
    """Write the skeleton of skill ``name`` under ``base_dir``; the files written."""
    if not NAME_RE.match(name):
        raise NewSkillError(
            f"invalid skill name {name!r}: letters, digits, _ and -, starting with a letter"
        )
    if kind not in ("declarative", "http", "python"):
        raise NewSkillError(f"unknown kind {kind!r}")
    folder = base_dir / name
    if folder.exists():
        raise NewSkillError(f"{folder} already exists; not overwriting it")
    module, cls = module_name(name), class_name(name)
    tests = folder / "tests"
    fixture = find_demo_fixture(base_dir.resolve(), Path.cwd())
    if fixture is None:  # outside a flow-engine checkout: a small number, inline
        config = INLINE_CONFIG
    else:
        config = Path(os.path.relpath(fixture.resolve(), (tests).resolve())).as_posix()

    files: dict[Path, str] = {}
    run = f"flow-engine test {(folder / 'tests').as_posix()}"
    extra = serve = ""
    if kind == "declarative":
        skill_file = folder / f"{module}.yaml"
        engine_path = f"{name}/{skill_file.name}"  # inside FLOW_ENGINE_SKILLS_DIR
        files[skill_file] = DECLARATIVE_FLOW.format(name=name, attach_path=engine_path)
        first_expect = 'text: "¿Cuál es su color favorito, Ana?"'
        test_attachment = _attachment(kind, name, module, cls, f"../{skill_file.name}")
        readme_attachment = _attachment(kind, name, module, cls, engine_path)
        label = "declarative"
    elif kind == "http":
        skill_file = folder / "server.py"
        files[skill_file] = HTTP_SERVER.format(
            name=name, server_path=skill_file.as_posix(), module=module
        )
        files[folder / "attachment.yaml"] = HTTP_ATTACHMENT
        first_expect = 'text: "¿Cuál es su color favorito?"'
        test_attachment = _attachment(kind, name, module, cls, "")
        readme_attachment = (
            "{serviceName: PreMain, parentServiceName: Main, kind: http, "
            'url: "http://127.0.0.1:8090/skill", timeout_s: 5}'
        )
        serve = "serve: python ../server.py --port 0   # started for the test, URL: ${SERVE_URL}\n"
        extra = (
            "\n  (the test starts the server itself, `serve:`; to chat with it, run "
            f"`python {skill_file.as_posix()} --port 8090` and attach "
            "`http://127.0.0.1:8090/skill`)"
        )
        label = "HTTP"
    else:
        skill_file = folder / f"{module}.py"
        files[skill_file] = PYTHON_MODULE.format(
            name=name, module=module, cls=cls, folder=folder.as_posix()
        )
        first_expect = 'text: "¿Cuál es su color favorito?"'
        test_attachment = _attachment(kind, name, module, cls, "")
        readme_attachment = test_attachment
        label = "Python"
    files[tests / f"{module}.test.yaml"] = TEST_FILE.format(
        run=run,
        serve=serve,
        config=config,
        attachment=test_attachment,
        first_expect=first_expect,
    )
    files[folder / "README.md"] = README.format(
        name=name,
        kind_label=label,
        article="An" if label == "HTTP" else "A",
        skill_file=skill_file.as_posix(),
        attachment=readme_attachment,
        run=run,
        extra=extra,
    )
    tests.mkdir(parents=True)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    return sorted(files)


def _main(args: argparse.Namespace) -> int:
    kind = "http" if args.http else "python" if args.python else "declarative"
    try:
        written = create_skill(args.name, kind, Path(args.dir))
    except NewSkillError as exc:
        print(f"new-skill: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"created {path}")
    print(f"next: read {Path(args.dir) / args.name / 'README.md'}")
    return 0


def register_cli(subparsers: Any) -> None:
    """Add ``flow-engine new-skill NAME [--http | --python] [--dir skills]``."""
    parser = subparsers.add_parser(
        "new-skill", help="write a working skill skeleton with one passing conversation test"
    )
    parser.add_argument("name", metavar="NAME")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--http", action="store_true", help="an HTTP skill (aiohttp server)")
    kind.add_argument("--python", action="store_true", help="a Python skill class")
    parser.add_argument("--dir", default="skills", help="where to create NAME/ (default skills)")
    parser.set_defaults(func=_main)

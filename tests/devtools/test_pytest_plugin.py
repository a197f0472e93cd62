"""The pytest plugin collects conversation files as tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.devtools.skillfiles import write_conversation

pytest_plugins = ["pytester"]
PLUGIN = "flow_engine.devtools.pytest_plugin"


@pytest.fixture(autouse=True)
def _ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


@pytest.fixture
def plugin(request: pytest.FixtureRequest) -> list[str]:
    """Load the plugin by name unless its pytest11 entry point already did."""
    if request.config.pluginmanager.has_plugin("flow_engine"):
        return ["-p", "no:cacheprovider"]
    return ["-p", PLUGIN, "-p", "no:cacheprovider"]


def test_passing_and_failing_files(pytester: pytest.Pytester, plugin: list[str]) -> None:
    root = Path(pytester.path)
    write_conversation(root, name="good.test.yaml")
    (root / "sub").mkdir()
    write_conversation(root / "sub", name="bad.test.yaml", **{"state: faq": "state: survey"})
    (root / "unrelated.yaml").write_text("not: a test\n", encoding="utf-8")
    result = pytester.runpytest(*plugin, "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*good.test.yaml::good PASSED*",
            "*bad.test.yaml::bad FAILED*",
            "*step 3: tap 'Sí'*",
            "*state: expected 'survey', got 'faq'*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_file_that_does_not_load_fails_readably(
    pytester: pytest.Pytester, plugin: list[str]
) -> None:
    (Path(pytester.path) / "x.test.yaml").write_text("steps: []\n", encoding="utf-8")
    result = pytester.runpytest(*plugin)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*config: Field required*"])


def test_an_invalid_skill_file_fails_in_one_readable_line(
    pytester: pytest.Pytester, plugin: list[str]
) -> None:
    root = Path(pytester.path)
    (root / "bad.yaml").write_text("start: a\nstates:\n  a:\n    nonsense: 1\n", encoding="utf-8")
    config = Path(__file__).resolve().parents[2] / "fixtures" / "100000000000001.yaml"
    (root / "bad.test.yaml").write_text(
        f"config: {config}\n"
        "skills:\n"
        "  - {serviceName: PreMain, parentServiceName: Main, kind: declarative, path: bad.yaml}\n"
        "steps:\n"
        "  - send: hola\n",
        encoding="utf-8",
    )
    result = pytester.runpytest(*plugin)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*invalid skill: states.a.outputs: Field required*"])
    assert "Traceback" not in result.stdout.str()

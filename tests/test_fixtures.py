"""Every file in fixtures/ is one valid number configuration named after its number."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import ValidationError

from flow_engine.domain.config import NumberConfig
from flow_engine.domain.hours import is_open

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FILES = sorted(p for p in FIXTURES.iterdir() if p.suffix in (".yaml", ".yml", ".json"))


def load(name: str) -> NumberConfig:
    return NumberConfig.model_validate(yaml.safe_load((FIXTURES / name).read_text("utf-8")))


def test_fixtures_exist() -> None:
    assert [p.name for p in FILES][:4] == [
        "100000000000001.yaml",
        "100000000000002.yaml",
        "100000000000003.yaml",
        "100000000000004.yaml",
    ]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_fixture_is_valid_and_named_after_its_number(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    config = NumberConfig.model_validate(data)
    assert path.stem == config.phone_number_id


def test_demo_number_uses_every_tab() -> None:
    demo = load("100000000000001.yaml")
    assert (demo.phone_number_id, demo.display_phone_number) == ("100000000000001", "15550000001")
    assert (demo.name, demo.locale) == ("Demo", "es")
    assert demo.flow.call_center and demo.flow.survey.enabled and demo.flow.survey.kind == "csat"
    assert demo.greeting(returning=False) and demo.greeting(returning=True)
    assert demo.faq.enabled and 4 <= len(demo.faq.questions) <= 5
    assert demo.queue_names() == ["Ventas", "Soporte técnico", "Otros asuntos"]
    service = demo.service
    assert service.pre_service.enabled and service.post_service.enabled
    assert not service.absence.enabled and service.unavailable.enabled
    assert service.social_networks.enabled and len(service.social_networks.links()) == 4
    assert demo.hours.open_24h


def test_other_examples() -> None:
    br = load("100000000000002.yaml")
    assert (br.locale, br.flow.survey.kind, br.flow.call_center) == ("pt-BR", "nps", False)
    assert br.timezone == "America/Sao_Paulo" and not br.hours.open_24h
    assert any(h.interval is not None for h in br.hours.holidays)
    assert any(h.interval is None for h in br.hours.holidays)
    en = load("100000000000003.yaml")
    assert en.locale == "en" and en.message("absence") is not None
    assert en.service.absence.contact_card is not None
    minimal = yaml.safe_load((FIXTURES / "100000000000004.yaml").read_text("utf-8"))
    assert set(minimal) == {"phone_number_id", "display_phone_number"}


def test_brazilian_example_hours() -> None:
    br = load("100000000000002.yaml")
    sp = ZoneInfo("America/Sao_Paulo")
    assert is_open(br, datetime(2025, 6, 2, 10, 0, tzinfo=sp))  # Monday
    assert not is_open(br, datetime(2025, 6, 2, 12, 30, tzinfo=sp))  # lunch
    assert not is_open(br, datetime(2025, 12, 25, 10, 0, tzinfo=sp))  # Natal
    assert is_open(br, datetime(2025, 12, 24, 10, 0, tzinfo=sp))  # own hours
    assert not is_open(br, datetime(2025, 12, 24, 14, 0, tzinfo=sp))


def test_documented_examples_are_valid() -> None:
    doc = (FIXTURES.parent / "docs" / "configuration.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in doc.split("```yaml\n")[1:]]
    complete = yaml.safe_load(blocks[-1])
    config = NumberConfig.model_validate(complete)
    assert config.hours.holidays[-1].interval is not None
    with pytest.raises(ValidationError) as info:
        NumberConfig.model_validate({**minimal_fields(), **yaml.safe_load(blocks[0])})
    paths = [".".join(map(str, e["loc"])) for e in info.value.errors()]
    assert paths == ["faq.questions.1.question", "faq.colour"]
    holidays = yaml.safe_load(blocks[-2])
    assert (
        len(NumberConfig.model_validate({**minimal_fields(), "hours": holidays}).hours.holidays)
        == 2
    )


def minimal_fields() -> dict[str, str]:
    data = yaml.safe_load((FIXTURES / "100000000000004.yaml").read_text("utf-8"))
    assert isinstance(data, dict)
    return data

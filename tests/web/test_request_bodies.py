"""How a request body is refused: a body that is not a JSON object is a 400, and a check
of the whole object (fields that go together) is a 422 like any field's."""

from __future__ import annotations

import pytest
from pydantic import model_validator

from flow_engine.errors import BadRequest, UnprocessableEntity
from flow_engine.web.api.registry import Input, parse


class Batch(Input):
    size: int | None = None
    interval: int | None = None

    @model_validator(mode="after")
    def together(self) -> Batch:
        if (self.size is None) != (self.interval is None):
            raise ValueError("size and interval go together")
        return self


@pytest.mark.parametrize("raw", [b"[1]", b'"x"', b"null", b"1", b"{"])
def test_a_body_that_is_not_an_object_is_a_400(raw: bytes) -> None:
    with pytest.raises(BadRequest):
        parse(Batch, raw)


def test_a_check_of_the_whole_object_is_a_422_with_its_message() -> None:
    with pytest.raises(UnprocessableEntity) as refused:
        parse(Batch, b'{"size": 5}')
    (detail,) = refused.value.details
    assert "size and interval go together" in detail["message"]
    assert parse(Batch, b'{"size": 5, "interval": 2}').size == 5

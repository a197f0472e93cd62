from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from flow_engine.devtools.fake_gateway import create_fake_gateway_app
from flow_engine.domain.outbound import Text
from flow_engine.errors import PermanentGatewayError, TransientGatewayError
from flow_engine.gateway.recording import RecordingGateway
from flow_engine.gateway.retry import RetryPolicy, send_with_retry
from flow_engine.gateway.whatsapp import CloudApiGateway
from flow_engine.settings import Settings

PNID = "100000000000001"
USER = "5491100000000"
NO_JITTER = RetryPolicy(jitter=0.0)


class Clock:
    """An injected sleep that returns at once and remembers what it was asked."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def transient(code: int | None = 130429, retry_after: float | None = None) -> Any:
    return TransientGatewayError("busy", api_code=code, retry_after=retry_after)


def test_exponential_delays_capped() -> None:
    delays = [NO_JITTER.delay_for(transient(), n) for n in range(9)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_pair_rate_limit_waits_four_to_the_n_seconds() -> None:
    delays = [NO_JITTER.delay_for(transient(131056), n) for n in range(4)]
    assert delays == [1.0, 4.0, 16.0, 64.0]


def test_retry_after_honoured_only_when_longer() -> None:
    assert NO_JITTER.delay_for(transient(retry_after=10.0), 0) == 10.0
    assert NO_JITTER.delay_for(transient(retry_after=0.1), 3) == 4.0


def test_jitter_stays_within_its_fraction_and_varies() -> None:
    policy = RetryPolicy(jitter=0.1)
    delays = {policy.delay_for(transient(), 2) for _ in range(200)}
    assert all(1.8 <= d <= 2.2 for d in delays)
    assert len(delays) > 1


@pytest.mark.parametrize(
    "kwargs",
    [{"base_delay_s": 0}, {"factor": 0.5}, {"jitter": 1.0}, {"max_delay_s": 0.1}],
)
def test_policy_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)


def test_policy_from_settings() -> None:
    settings = Settings.from_env({"FLOW_ENGINE_SEND_RETRY_BUDGET_S": "42"})
    assert RetryPolicy.from_settings(settings).budget_s == 42.0


async def test_recording_gateway_transient_twice_then_delivered() -> None:
    gateway, clock = RecordingGateway(), Clock()
    gateway.fail_next(transient(), times=2)
    retries: list[tuple[int, float]] = []
    wamid = await send_with_retry(
        gateway,
        PNID,
        USER,
        Text(body="hi"),
        NO_JITTER,
        sleep=clock.sleep,
        on_retry=lambda err, n, d: retries.append((n, d)),
    )
    assert wamid == "wamid.fake.1"
    assert retries == [(0, 0.5), (1, 1.0)]
    assert clock.slept == [0.5, 1.0]
    assert gateway.texts(USER) == ["hi"]


async def test_before_attempt_runs_before_every_attempt_and_can_stop_the_send() -> None:
    gateway, clock = RecordingGateway(), Clock()
    gateway.fail_next(transient(), times=2)
    calls: list[str] = []

    async def before() -> None:
        calls.append(f"claim {len(gateway.sent)}")

    await send_with_retry(
        gateway,
        PNID,
        USER,
        Text(body="hi"),
        NO_JITTER,
        sleep=clock.sleep,
        before_attempt=before,
        on_retry=lambda err, n, d: calls.append(f"retry {n}"),
    )
    assert calls == ["claim 0", "retry 0", "claim 0", "retry 1", "claim 0"]
    assert gateway.texts(USER) == ["hi"]

    class Taken(Exception):
        pass

    async def refuse() -> None:
        raise Taken

    with pytest.raises(Taken):
        await send_with_retry(
            gateway,
            PNID,
            USER,
            Text(body="x"),
            NO_JITTER,
            sleep=clock.sleep,
            before_attempt=refuse,
        )
    assert gateway.texts(USER) == ["hi"]


async def test_recording_gateway_permanent_not_retried() -> None:
    gateway, clock = RecordingGateway(), Clock()
    gateway.fail_next(PermanentGatewayError("gone", api_code=131026))
    with pytest.raises(PermanentGatewayError):
        await send_with_retry(gateway, PNID, USER, Text(body="hi"), NO_JITTER, sleep=clock.sleep)
    assert clock.slept == []
    assert gateway.sent == []
    # the failure was consumed: the next send goes through
    assert await gateway.send(PNID, USER, Text(body="again")) == "wamid.fake.1"


@pytest.fixture
async def fake() -> AsyncIterator[TestClient[Any, Any]]:
    app = create_fake_gateway_app(engine_url="http://127.0.0.1:9/", app_secret="s", token="t")
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    yield client
    await client.close()


@pytest.fixture
async def cloud(fake: TestClient[Any, Any]) -> AsyncIterator[CloudApiGateway]:
    gateway = CloudApiGateway(str(fake.make_url("/")), "v23.0", SecretStr("t"), timeout_s=2.0)
    yield gateway
    await gateway.close()


async def fault(fake: TestClient[Any, Any], **body: Any) -> None:
    assert (await fake.post("/_fake/faults", json=body)).status == 200


async def recorded(fake: TestClient[Any, Any]) -> tuple[int, int]:
    """(sends recorded, faults served)."""
    messages = (await (await fake.get("/_fake/messages")).json())["messages"]
    faults = await (await fake.get("/_fake/faults")).json()
    return len(messages), faults["served"]


async def test_429_then_200_delivered_once_after_one_retry(
    fake: TestClient[Any, Any], cloud: CloudApiGateway
) -> None:
    await fault(fake, code=130429, http_status=429, times=1)
    clock, retries = Clock(), []
    wamid = await send_with_retry(
        cloud,
        PNID,
        USER,
        Text(body="hola"),
        NO_JITTER,
        sleep=clock.sleep,
        on_retry=lambda err, n, d: retries.append(err.api_code),
    )
    assert wamid.startswith("wamid.")
    assert retries == [130429]
    assert await recorded(fake) == (1, 1)


async def test_retry_after_from_the_gateway_is_waited(
    fake: TestClient[Any, Any], cloud: CloudApiGateway
) -> None:
    await fault(fake, code=80007, http_status=400, retry_after=5)
    clock = Clock()
    await send_with_retry(cloud, PNID, USER, Text(body="x"), NO_JITTER, sleep=clock.sleep)
    assert clock.slept == [5.0]


async def test_permanent_error_raised_at_once(
    fake: TestClient[Any, Any], cloud: CloudApiGateway
) -> None:
    await fault(fake, code=131026, http_status=400, times=3)
    clock = Clock()
    with pytest.raises(PermanentGatewayError) as info:
        await send_with_retry(cloud, PNID, USER, Text(body="x"), NO_JITTER, sleep=clock.sleep)
    assert info.value.api_code == 131026
    assert clock.slept == []
    assert await recorded(fake) == (0, 1)


async def test_budget_exhausted_raises_the_last_transient_error(
    fake: TestClient[Any, Any], cloud: CloudApiGateway
) -> None:
    await fault(fake, code=131000, http_status=500, times=100)
    clock = Clock()
    policy = RetryPolicy(jitter=0.0, budget_s=3.0)
    with pytest.raises(TransientGatewayError) as info:
        await send_with_retry(cloud, PNID, USER, Text(body="x"), policy, sleep=clock.sleep)
    assert (info.value.api_code, info.value.http_status) == (131000, 500)
    # waits 0.5 + 1.0 fit in 3 s; the next 2.0 would not
    assert clock.slept == [0.5, 1.0]
    assert await recorded(fake) == (0, 3)


async def test_recording_gateway_records_in_order_with_fake_ids() -> None:
    gateway = RecordingGateway()
    assert await gateway.send(PNID, USER, Text(body="one")) == "wamid.fake.1"
    assert await gateway.send(PNID, "15550001111", Text(body="two")) == "wamid.fake.2"
    await gateway.mark_read(PNID, "wamid.IN")
    assert [(s.to, s.message) for s in gateway.sent] == [
        (USER, Text(body="one")),
        ("15550001111", Text(body="two")),
    ]
    assert gateway.texts(USER) == ["one"]
    assert gateway.read == [(PNID, "wamid.IN")]
    with pytest.raises(ValueError):
        gateway.fail_next(transient(), times=0)
    await gateway.close()
    assert gateway.closed

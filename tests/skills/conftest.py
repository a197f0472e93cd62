"""The examples in skills/ run through the real engine: signed webhooks, the base flow."""

from tests.flow.conftest import flow_stack

__all__ = ["flow_stack"]

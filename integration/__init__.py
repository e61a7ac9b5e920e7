"""Integration suite: the same scenarios against real STOMP brokers (see docs/integration.md)."""

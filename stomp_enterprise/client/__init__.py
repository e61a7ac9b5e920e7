"""The threaded client: connection, reader thread, dispatcher, subscriptions, transactions."""

from __future__ import annotations

from stomp_enterprise.client.client import Client
from stomp_enterprise.client.listeners import ConnectedInfo, Listeners
from stomp_enterprise.client.message import Message
from stomp_enterprise.client.subscription import ErrorPolicy, Subscription
from stomp_enterprise.client.transaction import Transaction

__all__ = [
    "Client",
    "ConnectedInfo",
    "ErrorPolicy",
    "Listeners",
    "Message",
    "Subscription",
    "Transaction",
]

"""Routing: policies that choose providers, and the engine that tries them."""

from __future__ import annotations

from smsbridge.routing._policy import Failover, Policy, as_policy

__all__ = ["Failover", "Policy", "as_policy"]

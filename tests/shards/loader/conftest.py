"""Fixtures for the remote-source tests: a token-protected HTTP server over a converted output."""

from __future__ import annotations

import pytest
from http_server import TOKEN, ShardServer


@pytest.fixture
def shard_server(nih_out):
    """``nih_out`` served at ``/out/`` and as the Hub dataset ``org/repo`` (revision ``main``,
    and revision ``v1.0`` with subfolder ``sub``); every path needs ``Bearer TOKEN``."""
    routes = {
        "/out": nih_out,
        "/public": nih_out,
        "/datasets/org/repo/resolve/main": nih_out,
        "/datasets/org/repo/resolve/v1.0/sub": nih_out,
    }
    with ShardServer(routes, token=TOKEN) as server:
        server.public = ("/public/",)
        yield server

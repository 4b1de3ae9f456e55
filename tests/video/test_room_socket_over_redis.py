"""Every room-socket test (tests/visits/test_room_socket.py) again, with the
room's signaling and presence going through the real Redis (``RedisHub``)
instead of this process's memory."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from puente.app import create_app
from puente.config import Settings
from puente.video.hub import RedisHub
from tests.video.test_hubs import REDIS_URL, needs_redis, prefix
from tests.visits.test_room_socket import *  # noqa: F403 - the same tests, here over Redis

__all__ = ["prefix"]
pytestmark = needs_redis


@pytest.fixture
def app(settings: Settings, session_factory: sessionmaker[Session], prefix: str) -> FastAPI:
    assert REDIS_URL
    app = create_app(settings, session_factory=session_factory)
    app.state.video_hub = RedisHub(REDIS_URL, prefix=prefix)
    return app

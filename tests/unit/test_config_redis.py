"""The `redis:` settings: defaults, the environment variable, and what is refused."""

from __future__ import annotations

import pytest

from pavedroad.config import ConfigError, load_settings


def test_redis_is_off_by_default_and_set_by_file_or_environment() -> None:
    settings = load_settings(text="{}", env={})
    assert settings.redis.url is None and settings.cache.backend is None
    assert settings.redis.max_connections == 64 and settings.redis.key_prefix == "pavedroad:"
    from_file = load_settings(text="redis: {url: 'redis://10.0.0.5:6379/2'}", env={})
    assert from_file.redis.url == "redis://10.0.0.5:6379/2"
    from_env = load_settings(text="redis: {url: 'redis://file:6379/0'}",
                             env={"PAVEDROAD_REDIS_URL": "rediss://env:6380/1"})
    assert from_env.redis.url == "rediss://env:6380/1"  # env beats the file


@pytest.mark.parametrize(("text", "where", "message"), [
    ("redis: {url: 'http://localhost:6379'}", "redis.url", "redis://"),
    ("redis: {key_prefix: 'a{b}:'}", "redis.key_prefix", "hash slot"),
    ("redis: {max_connections: 0}", "redis.max_connections", "greater than or equal to 1"),
    ("cache: {backend: redis}", "", "redis.url is not set"),
])
def test_bad_redis_settings_are_refused(text: str, where: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(text=text, env={})
    [problem] = caught.value.problems
    assert problem.path == where and message in problem.message

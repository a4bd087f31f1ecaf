"""The HTTP app's shape: routes Slack needs and the guide's compression settings."""

from starlette.middleware.gzip import GZipMiddleware

from bot.assembly.config import Settings
from bot.assembly.server import create_http_app


def test_responses_over_500_bytes_are_gzipped_at_level_6() -> None:
    app = create_http_app(Settings(slack_signing_secret="s"))

    gzip = [m for m in app.user_middleware if m.cls is GZipMiddleware]

    assert len(gzip) == 1
    assert gzip[0].kwargs == {"minimum_size": 500, "compresslevel": 6}


def test_slack_health_and_readiness_routes_exist() -> None:
    app = create_http_app(Settings(slack_signing_secret="s"))

    routes = {(route.path, tuple(sorted(route.methods or ()))) for route in app.routes}

    assert ("/slack/events", ("POST",)) in routes
    assert ("/healthz", ("GET", "HEAD")) in routes
    assert ("/readyz", ("GET", "HEAD")) in routes

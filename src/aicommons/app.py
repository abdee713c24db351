"""The FastAPI application: mounts each domain's API router and the web pages."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select, text
from swagger_ui_bundle import swagger_ui_path

from aicommons import __version__, problems
from aicommons.access.api import router as access_api
from aicommons.config import Settings, get_settings, read_or_create_secret
from aicommons.database import create_db_engine, make_session_factory
from aicommons.governance.api import router as governance_api
from aicommons.identity.api import router as identity_api
from aicommons.identity.models import FacilityMeta
from aicommons.ledger import sequencer
from aicommons.ledger.api import router as ledger_api
from aicommons.ledger.store import FullTileCache
from aicommons.middleware import (
    BodyLimitMiddleware,
    LedgerHeadersMiddleware,
    Metrics,
    MetricsMiddleware,
    SecurityHeadersMiddleware,
)
from aicommons.migrate import check_schema
from aicommons.web import (
    access_assignment_pages,
    access_call_desk_pages,
    access_decision_pages,
    access_pages,
    access_proposal_pages,
    access_review_pages,
    council_pages,
    governance_pages,
    identity_pages,
    ledger_pages,
    motion_editor_pages,
    pages,
)
from aicommons.web.render import render_error
from aicommons.web.render import templates as _templates  # noqa: F401  (loads templates at import)

log = logging.getLogger("aicommons")
STATIC_DIR = Path(__file__).parent / "web" / "static"
MACHINE_PATHS = ("/api/", "/healthz", "/metrics", "/openapi.json", "/ledger/tile/", "/ledger/checkpoint")

DEMO_KEY = "demo"


def wants_html(request: Request) -> bool:
    """Browsers on portal pages get an HTML error page; everything else gets problem+json."""
    return not request.url.path.startswith(MACHINE_PATHS)


def create_app(settings: Settings | None = None, *, verify_schema: bool = True) -> FastAPI:
    settings = settings or get_settings()
    engine = create_db_engine(settings.effective_database_url)
    if verify_schema:
        check_schema(engine)

    @asynccontextmanager
    async def lifespan(app_: FastAPI):
        stop = asyncio.Event()
        task = None
        if settings.ledger_sequencer:
            task = asyncio.create_task(sequencer.run_in_background(
                app_.state.session_factory, settings, app_.state.ledger_signer, stop))
        yield
        stop.set()
        if task is not None:
            await task
        engine.dispose()

    app = FastAPI(
        title="AI Commons", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
        description="API of AI Commons, a publicly funded, democratically governed open AI facility. "
                    "Errors are RFC 9457 problem+json. Authenticate with `Authorization: Bearer <token>`; "
                    "create tokens on the account page or with `aicommons token create`.",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.session_key = read_or_create_secret(settings, "session.key")
    app.state.metrics = Metrics()
    app.state.tile_cache = FullTileCache()
    app.state.ledger_signer = sequencer.signer_for(settings)
    app.state.render_error = render_error
    app.state.is_demo = _demo_flag(app)

    problems.install(app, wants_html=wants_html)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(LedgerHeadersMiddleware)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)

    app.include_router(identity_api)
    app.include_router(ledger_api)
    app.include_router(governance_api)
    app.include_router(access_api)
    app.include_router(pages.router)
    app.include_router(identity_pages.router)
    app.include_router(ledger_pages.router)
    app.include_router(governance_pages.router)
    app.include_router(council_pages.router)
    app.include_router(motion_editor_pages.router)
    # The call desk's fixed paths (/calls/new) come before the public /calls/{call_id}.
    app.include_router(access_call_desk_pages.router)
    app.include_router(access_pages.router)
    app.include_router(access_proposal_pages.router)
    app.include_router(access_review_pages.router)
    app.include_router(access_assignment_pages.router)
    app.include_router(access_decision_pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/swagger-ui", StaticFiles(directory=swagger_ui_path), name="swagger")

    @app.get("/docs", include_in_schema=False)
    def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title="AI Commons API",
                                   swagger_js_url="/swagger-ui/swagger-ui-bundle.js",
                                   swagger_css_url="/swagger-ui/swagger-ui.css",
                                   swagger_favicon_url="/swagger-ui/favicon-32x32.png")

    @app.get("/healthz", tags=["operations"])
    def healthz():
        """Liveness and database reachability."""
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # any database failure means unhealthy
            log.warning("health check failed: %s", type(exc).__name__)
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
        return {"status": "ok", "database": "ok", "version": __version__}

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    def metrics():
        return Response(generate_latest(app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _demo_flag(app: FastAPI):
    """Whether this installation holds demo data; read once at start (``demo seed`` runs before serve)."""
    try:
        with app.state.session_factory() as session:
            flag = session.scalar(select(FacilityMeta.value).where(FacilityMeta.key == DEMO_KEY)) == "true"
    except Exception:  # no schema yet (verify_schema=False in tooling)
        flag = False
    return lambda: flag

"""The web app behind `featurelens serve`: the live page, its WebSocket, uploads, and the files it may serve.

Only the package's own static files, the bundled photos, checked uploads and the atlas folder are ever
served; nothing comes from a CDN, so the page works offline. A unit's stored views come from the atlas
folder; what it lacks is built there by background jobs (`unit_views`), one at a time, from a bounded queue.
Every request passes `guard` first (token, Host, Origin); stopping the server cancels the queued jobs.
"""

from __future__ import annotations

import io
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from featurelens.errors import FeaturelensError
from featurelens.live import LiveOptions, LiveSession
from featurelens.models import LoadedModel
from featurelens.atlas.files import MANIFEST, read_json
from featurelens.output.pages import page_template
from featurelens.photos import bundled_photos
from featurelens.projection.rectifiers import METHODS
from featurelens.server.guard import LOOPBACK_NAMES, AccessPolicy, GuardMiddleware
from featurelens.server.jobs import Busy, JobRunner
from featurelens.server.limits import ServerLimits
from featurelens.server.live_socket import ConnectionSlots, serve_live
from featurelens.server.unit_views import UnitViews, default_atlas_folder
from featurelens.server.uploads import UploadStore

STATIC = Path(str(resources.files("featurelens.server").joinpath("static")))
PHOTO_SIDE = 448  # bundled photos are sent at most this many pixels a side


def create_app(model: LoadedModel, *, data: str = "photos", atlas: Path | None = None, token: str | None = None,
               hosts: frozenset[str] | None = LOOPBACK_NAMES, limits: ServerLimits = ServerLimits()) -> FastAPI:
    """The app for one model. `atlas`: the folder served at /atlas/ and filled with the views of the units
    the page asks for (default: ~/.cache/featurelens/atlas/MODEL-DATA). `token`: required on every request
    (None: none, as `--no-token`); `hosts`: the Host names answered (None: any)."""
    session = LiveSession(model)
    folder = atlas if atlas is not None else default_atlas_folder(model, data)
    jobs = JobRunner(limits.max_jobs, limits.max_jobs_per_client)
    slots = ConnectionSlots(limits.max_connections)
    views = UnitViews(model, data, folder, jobs, session.lock)
    max_upload_bytes = int(limits.max_upload_mb * (1 << 20))
    uploads = UploadStore(max_upload_bytes, model.modality)
    methods = projection_menu(folder)
    defaults = LiveOptions(layer=session.default_layer, method=methods[0]["method"])

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        jobs.close()  # Ctrl-C: queued jobs are dropped, the running one keeps what it finished

    app = FastAPI(title="featurelens", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.add_middleware(GuardMiddleware, policy=AccessPolicy(token, hosts))
    app.state.jobs, app.state.uploads, app.state.slots = jobs, uploads, slots  # what tests and benchmarks look at
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    folder.mkdir(parents=True, exist_ok=True)
    app.mount("/atlas", StaticFiles(directory=folder, html=True), name="atlas")
    page = page_template("server/live.html.j2")
    info = _model_info(model, session, defaults, data, folder, max_upload_bytes, methods)

    @app.exception_handler(FeaturelensError)
    async def user_mistake(request: Request, err: FeaturelensError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=429 if isinstance(err, Busy) else 400)

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return page.render(info=info)

    @app.get("/api/model")
    async def model_info() -> dict:
        return info

    @app.get("/api/photos/{number}.jpg")
    async def photo(number: int) -> Response:
        photos = bundled_photos()
        if not 0 <= number < len(photos):
            return JSONResponse({"error": f"no bundled photo {number}: there are {len(photos)}"}, status_code=404)
        image = photos[number].copy()
        image.thumbnail((PHOTO_SIDE, PHOTO_SIDE))
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=90)
        return Response(buffer.getvalue(), media_type="image/jpeg")

    @app.post("/api/upload")
    async def upload(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and uploads.too_large(int(declared)):
            return _too_large(uploads)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if uploads.too_large(len(body)):
                return _too_large(uploads)
        return JSONResponse(await run_in_threadpool(uploads.add, bytes(body)))  # decoding stays off the event loop

    @app.get("/api/uploads/{key}.jpg")
    async def uploaded(key: str) -> Response:
        return Response(uploads.get(key), media_type="image/jpeg")

    @app.get("/api/uploads/{key}.wav")
    async def uploaded_sound(key: str) -> Response:
        return Response(uploads.get(key), media_type="audio/wav")

    @app.get("/api/unit/{layer:path}/{channel}")  # a dictionary's layer has a '/' in its name (conv3/dict)
    async def unit_view(layer: str, channel: int) -> dict:
        return views.view(layer, channel)

    @app.post("/api/unit/{layer:path}/{channel}/build")
    async def unit_build(layer: str, channel: int, request: Request) -> dict:
        return views.build(layer, channel, request.client.host if request.client else "")

    @app.get("/api/jobs/{job_id}")
    async def job_status(job_id: int) -> dict:
        return jobs.get(job_id).status()

    @app.post("/api/jobs/{job_id}/cancel")
    async def job_cancel(job_id: int) -> dict:
        return jobs.cancel(job_id).status()

    @app.websocket("/ws/live")
    async def live(websocket: WebSocket) -> None:
        await serve_live(websocket, session, defaults, slots)

    return app


def _too_large(uploads: UploadStore) -> JSONResponse:
    limit = uploads.limit_bytes / (1 << 20)
    return JSONResponse({"error": f"the upload is larger than {limit:g} MB: send a smaller {uploads.kind.noun}"}, status_code=413)


def projection_menu(atlas: Path) -> list[dict]:
    """The live page's projection methods, the default first: the atlas's choice by sanity score, each method labelled
    with its score when the atlas measured them (`projection.sanity`); guided backprop first when it did not."""
    found = read_json(atlas / MANIFEST)  # None when there is no atlas yet
    projection = found.get("projection") if isinstance(found, dict) and isinstance(found.get("projection"), dict) else {}
    scores = {s.get("method"): s for s in (projection.get("sanity") or {}).get("scores", []) if isinstance(s, dict)}
    chosen = projection.get("method") if projection.get("method") in METHODS else "guided"
    menu = []
    for method in sorted(METHODS, key=lambda m: m != chosen):
        score = scores.get(method, {}).get("score")
        verdict = "" if not isinstance(score, (int, float)) else f" — sanity {score:.2f} {'✓' if scores[method].get('passes') else '✗ fails the check'}"
        menu.append({"method": method, "label": method + verdict})
    return menu


def _model_info(model: LoadedModel, session: LiveSession, defaults: LiveOptions, data: str, atlas: Path, max_upload: int,
                methods: list[dict]) -> dict:
    """What the page needs to know: the model, its layers with spatial maps, the defaults."""
    return {
        "model": model.spec,
        "input_size": model.input_size,
        "in_channels": model.in_channels,
        "layers": [{"name": name, "shape": list(session.shapes[name])} for name in session.grid_layers],
        "default_layer": defaults.layer,
        "classes": session.has_classes,
        "methods": methods,
        "default_method": defaults.method,
        "data": data,
        "atlas": str(atlas),
        "photos": len(bundled_photos()),
        "max_upload_mb": max_upload / (1 << 20),
        "modality": model.modality.name,
        "audio": model.modality.input_facts(),  # an audio model's sample rate and clip length
    }

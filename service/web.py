"""The routes of serve.py (Starlette): the live page, its WebSocket, /analyze and /health.

    GET  /          the live page (page.html): the browser's camera through the model
    WS   /live      binary messages, one JPEG or PNG frame each; a JSON text reply each
    POST /analyze   an image (or multipart field `image`): faces as JSON; a video: main.py's CSV
    GET  /health    status, model, runtime, detector, class names

Errors are JSON {"error": "one line"}: 400 empty or corrupt, 401 without the token (when
one is set), 413 over the upload limit (refused from Content-Length, or as soon as the body
passes it), 415 neither an image nor a video. Every model call runs in a worker thread, off
the event loop.
"""
import json
import secrets
import tempfile
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocketDisconnect

from app.sources import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from service.analysis import BadInput

PAGE = Path(__file__).with_name("page.html")
VIDEO_TYPES = {"video/mp4", "video/x-msvideo", "video/avi", "video/quicktime", "video/x-matroska", "video/webm",
               "video/mpeg", "video/x-m4v", "video/x-ms-wmv", "video/x-flv", "application/octet-stream"}


class TooLarge(Exception):
    pass


def error(status, message):
    return JSONResponse({"error": message}, status_code=status)


def build_app(analyser, health, token=None, max_upload_mb=50):
    """The Starlette app over `analyser` (service.analysis.Analyser); `health`: what /health says."""
    limit = int(max_upload_mb * 1024 * 1024)

    def allowed(connection):
        if not token:
            return True
        given = connection.query_params.get("token", "")
        header = connection.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            given = header[7:].strip()
        return secrets.compare_digest(given.encode(), token.encode())

    async def read_body(request):
        """The request's body, or TooLarge as soon as it passes the limit (never all of a large one)."""
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise TooLarge
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise TooLarge
        return bytes(body)

    async def page(request):
        if not allowed(request):
            return error(401, "a token is needed: open /?token=TOKEN")
        return HTMLResponse(PAGE.read_text())

    async def health_route(request):
        if not allowed(request):
            return error(401, "a token is needed: Authorization: Bearer TOKEN")
        return JSONResponse({"status": "ok", **health})

    async def analyze(request):
        if not allowed(request):
            return error(401, "a token is needed: Authorization: Bearer TOKEN")
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            if kind == "multipart/form-data":
                body, kind, name = await form_image(request)
            else:
                body, name = await read_body(request), ""
            suffix = Path(name).suffix.lower()
            if kind.startswith("image/") or suffix in IMAGE_SUFFIXES:
                return JSONResponse(await run_in_threadpool(analyser.image, body))
            if kind.startswith("video/") or suffix in VIDEO_SUFFIXES or (kind in VIDEO_TYPES and body):
                return await video(body, suffix or ".mp4")
            return error(415, f"not an image or a video (Content-Type {kind or 'missing'}): send image/jpeg, "
                              f"image/png, ..., video/mp4, ... or a form with the field 'image'")
        except TooLarge:
            return error(413, f"the upload is over --max-upload-mb ({max_upload_mb:g} MB)")
        except BadInput as problem:
            return error(400, str(problem))

    async def form_image(request):
        """(bytes, content type, file name) of the form's field `image`."""
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise TooLarge
        async with request.form(max_part_size=limit) as form:
            upload = form.get("image")
            if upload is None or isinstance(upload, str):
                raise BadInput("the form has no file field 'image'")
            body = await upload.read(limit + 1)
            if len(body) > limit:
                raise TooLarge
            return body, (upload.content_type or "").lower(), upload.filename or ""

    async def video(body, suffix):
        if not body:
            raise BadInput("the video is empty")
        with tempfile.TemporaryDirectory() as folder:
            path, csv_path = Path(folder) / f"upload{suffix}", Path(folder) / "faces.csv"
            path.write_bytes(body)
            await run_in_threadpool(analyser.video, path, csv_path)
            return Response(csv_path.read_text(), media_type="text/csv")

    async def live(websocket):
        if not allowed(websocket):
            await websocket.close(code=1008)   # policy violation: no token
            return
        await websocket.accept()
        session = analyser.live_session()
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                try:
                    if message.get("bytes") is None:
                        raise BadInput("send each frame as a binary message (a JPEG or PNG)")
                    reply = await run_in_threadpool(session.frame, message["bytes"])
                except BadInput as problem:
                    reply = {"error": str(problem)}
                await websocket.send_text(json.dumps(reply))
        except (WebSocketDisconnect, RuntimeError):   # the client went away mid-frame
            pass

    return Starlette(routes=[Route("/", page), Route("/health", health_route),
                             Route("/analyze", analyze, methods=["POST"]), WebSocketRoute("/live", live)])

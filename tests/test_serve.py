"""serve.py against a real uvicorn server on 127.0.0.1: each route, each error, the token
rules, two WebSocket clients at once, and the live page in a real browser."""
import asyncio
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

import cv2
import pytest

from footage import background, compose_frame, write_face_video
from helpers import CHROMIUM, ROOT, launch_chromium

pytestmark = pytest.mark.slow


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`python serve.py` on a free port of 127.0.0.1, started and stopped by its process id."""

    def __init__(self, tmp_path, *options):
        self.port = free_port()
        self.log = open(tmp_path / f"serve-{self.port}.log", "w")
        self.process = subprocess.Popen([sys.executable, str(ROOT / "serve.py"), "--port", str(self.port), *options],
                                        cwd=tmp_path, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline and self.process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"serve.py did not start: {(tmp_path / f'serve-{self.port}.log').read_text()}")

    def request(self, method, path, body=None, headers=None):
        """(status, headers, body bytes)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def stop(self):
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


@pytest.fixture
def server(tmp_path, app_model):
    running = Server(tmp_path, "--model", str(app_model[0]), "--max-upload-mb", "1")
    yield running
    running.stop()


def photo(fer_faces, count=2):
    boxes = [(100, 150, 180, 180), (500, 120, 160, 160), (300, 300, 120, 120)][:count]
    return compose_frame(background(800, 480), fer_faces[:count], boxes), boxes


def encoded(image, suffix=".jpg"):
    return cv2.imencode(suffix, image)[1].tobytes()


def test_health_and_the_page(server, app_model):
    status, _, body = server.request("GET", "/health")
    health = json.loads(body)
    assert status == 200 and health["status"] == "ok" and health["class_names"] == app_model[1]
    assert health["detector"] == "yunet" and health["runtime"] in ("litert-int8", "litert", "keras")
    status, headers, body = server.request("GET", "/")
    assert status == 200 and b"getUserMedia" in body and headers["content-type"].startswith("text/html")


def test_analyze_an_image_raw_and_as_a_form_faces_left_to_right(server, fer_faces, app_model):
    image, boxes = photo(fer_faces)
    status, _, body = server.request("POST", "/analyze", encoded(image), {"Content-Type": "image/jpeg"})
    reply = json.loads(body)
    assert status == 200 and (reply["width"], reply["height"]) == (800, 480)
    assert [face["id"] for face in reply["faces"]] == [1, 2]
    assert reply["faces"][0]["box"][0] < reply["faces"][1]["box"][0]
    face = reply["faces"][0]
    assert face["label"] in app_model[1] and set(face["probabilities"]) == set(app_model[1])
    assert abs(sum(face["probabilities"].values()) - 1) < 1e-2
    boundary = "xyzBOUNDARY"
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + encoded(image, ".png") + f"\r\n--{boundary}--\r\n".encode()
    status, _, body = server.request("POST", "/analyze", form,
                                     {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 200 and len(json.loads(body)["faces"]) == 2


def test_analyze_a_video_returns_main_pys_csv(server, fer_faces, tmp_path, app_model):
    clip = tmp_path / "clip.avi"
    write_face_video(clip, fer_faces, frames=20, width=640, height=360, sizes=(150, 120, 100))
    status, headers, body = server.request("POST", "/analyze", clip.read_bytes(), {"Content-Type": "video/x-msvideo"})
    lines = body.decode().splitlines()
    assert status == 200 and headers["content-type"].startswith("text/csv")
    assert lines[0].split(",") == ["frame", "time_s", "face", "x", "y", "w", "h", "label", "confidence"] + app_model[1]
    assert len(lines) > 10 and {line.split(",")[2] for line in lines[1:]} == {"1"}


@pytest.mark.parametrize("body, kind, status, words", [
    (b"hello", "text/plain", 415, "not an image or a video"),
    (b"", "image/png", 400, "empty"),
    (b"\x89PNG broken", "image/png", 400, "cannot be decoded"),
    (b"\0" * 2000, "video/mp4", 400, "cannot be decoded"),
    (b"\0" * (1024 * 1024 + 1), "image/jpeg", 413, "--max-upload-mb"),
])
def test_bad_uploads_are_one_line_json_errors(server, body, kind, status, words):
    got, _, reply = server.request("POST", "/analyze", body, {"Content-Type": kind})
    error = json.loads(reply)["error"]
    assert got == status and words in error and "\n" not in error


def test_a_large_upload_is_refused_without_being_read(server):
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    connection.sendall(b"POST /analyze HTTP/1.1\r\nHost: x\r\nContent-Type: video/mp4\r\n"
                       b"Content-Length: 10000000000\r\n\r\n" + b"\0" * 1000)   # claims 10 GB, sends 1 kB
    reply = connection.recv(4096).decode()
    connection.close()
    assert reply.startswith("HTTP/1.1 413")


async def live_frames(port, frames, token=None):
    import websockets
    url = f"ws://127.0.0.1:{port}/live" + (f"?token={token}" if token else "")
    async with websockets.connect(url) as socket_:
        replies = []
        for frame in frames:
            await socket_.send(encoded(frame))
            replies.append(json.loads(await socket_.recv()))
        return replies


def test_two_live_clients_at_once_each_get_their_own_tracks(server, fer_faces):
    image, _ = photo(fer_faces, 1)
    other, _ = photo(fer_faces[1:], 2)

    async def both():
        return await asyncio.gather(live_frames(server.port, [image] * 8), live_frames(server.port, [other] * 8))
    first, second = asyncio.run(both())
    assert [reply["frame"] for reply in first] == list(range(8))
    assert not first[0]["faces"] and [f["id"] for f in first[-1]["faces"]] == [1]      # shown once confirmed
    assert sorted(f["id"] for f in second[-1]["faces"]) == [1, 2]                       # numbered per connection


def test_a_client_that_leaves_mid_frame_leaves_no_traceback(server, fer_faces, tmp_path):
    image, _ = photo(fer_faces)
    for _ in range(3):
        connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        connection.sendall(b"GET /live HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        connection.recv(1024)
        connection.sendall(b"\x82\x7f" + (10 ** 6).to_bytes(8, "big") + b"\0" * 100)   # a frame cut short
        connection.close()
    assert len(asyncio.run(live_frames(server.port, [image] * 4))) == 4   # still serving
    time.sleep(0.5)
    assert "Traceback" not in server.log.name and "Traceback" not in open(server.log.name).read()


def test_the_token_rules(tmp_path, app_model, fer_faces):
    refused = subprocess.run([sys.executable, str(ROOT / "serve.py"), "--host", "0.0.0.0", "--model", str(app_model[0])],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "--token" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    running = Server(tmp_path, "--token", "s3cret", "--model", str(app_model[0]))
    try:
        assert running.request("GET", "/health")[0] == 401
        assert running.request("GET", "/health", headers={"Authorization": "Bearer wrong"})[0] == 401
        assert running.request("GET", "/health", headers={"Authorization": "Bearer s3cret"})[0] == 200
        assert running.request("GET", "/?token=s3cret")[0] == 200 and running.request("GET", "/")[0] == 401
        image, _ = photo(fer_faces)
        assert running.request("POST", "/analyze", encoded(image), {"Content-Type": "image/jpeg"})[0] == 401
        import websockets
        with pytest.raises(websockets.exceptions.WebSocketException):
            asyncio.run(live_frames(running.port, [image]))
        assert len(asyncio.run(live_frames(running.port, [image], token="s3cret"))) == 1
    finally:
        running.stop()


def test_a_bad_model_is_a_one_line_error_before_listening(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "serve.py"), "--model", str(tmp_path / "none.h5")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.startswith("error: model not found")
    assert len(result.stderr.strip().splitlines()) == 1


def fake_camera(path, fer_faces, frames=150):
    """An MJPEG file (Chromium's --use-file-for-fake-video-capture) of 640x480 footage with two faces."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    back = background(640, 480)
    for i in range(frames):
        writer.write(compose_frame(back, fer_faces[:2], [(60 + i, 120, 180, 180), (380, 140 + i // 2, 160, 160)]))
    writer.release()
    return path


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_the_live_page_in_a_real_browser_shows_labelled_boxes(server, fer_faces, tmp_path):
    from playwright.sync_api import sync_playwright
    camera = fake_camera(tmp_path / "camera.mjpeg", fer_faces)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, camera)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 620})
            page.goto(f"http://127.0.0.1:{server.port}/")
            drawn = 0
            for _ in range(10):   # a screenshot taken as the fake camera's clip starts over shows no box yet
                page.wait_for_function("document.body.dataset.faces >= 2", timeout=60000)
                page.screenshot(path=str(tmp_path / "live.png"))
                shot = cv2.imread(str(tmp_path / "live.png"))
                green = (shot[:, :, 1] > 180) & (shot[:, :, 0] < 80) & (shot[:, :, 2] < 80)
                drawn = max(drawn, int(green.sum()))
                if drawn > 2000:
                    break
            assert drawn > 2000   # the boxes and their label plates are drawn over the picture
            assert "frames/s" in page.inner_text("#fps")
            assert not page.is_disabled("#download")
        finally:
            browser.close()

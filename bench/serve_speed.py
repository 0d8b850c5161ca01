"""serve.py's speed: the live page's frame rate in headless Chromium, one photo's /analyze
latency, and live throughput with 4 clients at once, against a real server on 127.0.0.1.

    python bench/serve_speed.py [--seconds 15]

The footage is 640x480 with 1, 2 and 3 FER-2013 faces (tests.footage), fed to Chromium as
its fake camera (an MJPEG file) and to the WebSocket clients as JPEG frames. Needs Debian's
chromium for the page's row (apt-get install chromium) and the playwright package.
"""
import argparse
import asyncio
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402

import data  # noqa: E402
from tests.footage import background, compose_frame, load_fer_faces  # noqa: E402
from tests.helpers import CHROMIUM, launch_chromium  # noqa: E402

BOXES = [(60, 120, 170, 170), (250, 100, 150, 150), (430, 160, 140, 140)]


def frames_with(faces, count, frames=90):
    back = background(640, 480)
    return [compose_frame(back, faces[:count], [(x + i % 20, y, w, h) for x, y, w, h in BOXES[:count]])
            for i in range(frames)]


def start_server(folder):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, str(ROOT / "serve.py"), "--port", str(port)], cwd=folder,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    started = time.perf_counter()
    while time.perf_counter() - started < 60:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port, time.perf_counter() - started
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("serve.py did not start")


def analyze_latency(port, image, repeats=30):
    """Median and 90th percentile milliseconds of POST /analyze for one JPEG photo (warm)."""
    body = cv2.imencode(".jpg", image)[1].tobytes()
    times = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for i in range(repeats + 3):
        start = time.perf_counter()
        connection.request("POST", "/analyze", body=body, headers={"Content-Type": "image/jpeg"})
        json.loads(connection.getresponse().read())
        if i >= 3:
            times.append(1000 * (time.perf_counter() - start))
    connection.close()
    return statistics.median(times), sorted(times)[int(0.9 * len(times))]


async def live_client(port, frames, seconds):
    import websockets
    encoded = [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes() for f in frames]
    done, end = 0, time.perf_counter() + seconds
    async with websockets.connect(f"ws://127.0.0.1:{port}/live", max_size=None) as socket_:
        while time.perf_counter() < end:
            await socket_.send(encoded[done % len(encoded)])
            await socket_.recv()
            done += 1
    return done


def live_throughput(port, faces, clients=4, seconds=10.0):
    async def all_clients():
        return await asyncio.gather(*(live_client(port, frames_with(faces, 1 + i % 3), seconds)
                                      for i in range(clients)))
    counts = asyncio.run(all_clients())
    return sum(counts) / seconds, [c / seconds for c in counts]


def page_rate(port, camera, seconds, screenshot=None):
    """The frame rate the live page shows after `seconds` in headless Chromium (None: no
    chromium); with `screenshot`, the page saved there."""
    if CHROMIUM is None:
        return None
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, camera)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 620})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function("document.body.dataset.faces !== undefined", timeout=60000)
            page.wait_for_timeout(1000 * seconds)
            if screenshot:
                page.screenshot(path=str(screenshot))
            return float(page.inner_text("#fps").split()[0])
        finally:
            browser.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--data", type=Path, default=data.DEFAULT_DATA)
    parser.add_argument("--screenshot", type=Path, help="save the live page with 2 faces here (PNG)")
    args = parser.parse_args()
    faces = load_fer_faces(args.data, 4)
    with tempfile.TemporaryDirectory() as tmp:
        process, port, start_s = start_server(tmp)
        try:
            print(f"serve.py listening after {start_s:.2f} s (start-up: the model, YuNet and SFace loaded)")
            median, p90 = analyze_latency(port, frames_with(faces, 2, 1)[0])
            print(f"/analyze, one 640x480 photo with 2 faces: median {median:.1f} ms, 90th percentile {p90:.1f} ms")
            total, each = live_throughput(port, faces, seconds=args.seconds)
            print(f"/live with 4 clients at once (1-3 faces): {total:.1f} frames/s in all "
                  f"({', '.join(f'{rate:.1f}' for rate in each)})")
            for count in (1, 2, 3):
                camera = Path(tmp) / f"camera{count}.mjpeg"
                writer = cv2.VideoWriter(str(camera), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
                for frame in frames_with(faces, count):
                    writer.write(frame)
                writer.release()
                rate = page_rate(port, camera, args.seconds, args.screenshot if count == 2 else None)
                if rate is None:
                    print("live page: skipped (no chromium: apt-get install chromium)")
                    break
                print(f"live page in headless Chromium, 640x480, {count} face(s): {rate:.1f} frames/s")
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)


if __name__ == "__main__":
    main()

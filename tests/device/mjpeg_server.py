"""A small real MJPEG-over-HTTP camera for tests: ``python mjpeg_server.py PORT FOLDER [FPS [USER:PASSWORD]]``.

Serves ``/stream.mjpg`` (multipart/x-mixed-replace, the format of IP cameras and
mjpg-streamer) from the images of FOLDER in sorted order, looped, at FPS (paced by deadline,
so the rate holds however long a write takes, as a camera's does). Prints
``READY <port>`` once listening. Runs as its own process so a test can kill it (SIGKILL),
freeze it (SIGSTOP) and start it again on the same port. With USER:PASSWORD it asks for HTTP Basic
authentication, as IP cameras do (401 without the right credentials).
"""

from __future__ import annotations

import base64
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def main() -> None:
    port, folder = int(sys.argv[1]), Path(sys.argv[2])
    fps = float(sys.argv[3]) if len(sys.argv) > 3 else 20.0
    auth = "Basic " + base64.b64encode(sys.argv[4].encode()).decode() if len(sys.argv) > 4 else None
    import cv2

    jpegs = []
    for p in sorted(folder.rglob("*.png")) + sorted(folder.rglob("*.jpg")):
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        if ok:
            jpegs.append(buf.tobytes())
    if not jpegs:
        raise SystemExit(f"no images in {folder}")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/stream.mjpg":
                self.send_error(404)
                return
            if auth is not None and self.headers.get("Authorization") != auth:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="camera"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=ffserver")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            i, due = 0, time.perf_counter()
            try:
                while True:
                    jpeg = jpegs[i % len(jpegs)]
                    self.wfile.write(b"--ffserver\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                     + str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n")
                    self.wfile.flush()
                    i += 1
                    due = max(due + 1.0 / fps, time.perf_counter() - 1.0 / fps)  # paced by deadline, no bursts
                    time.sleep(max(0.0, due - time.perf_counter()))
            except (BrokenPipeError, ConnectionResetError):
                pass

    class Server(ThreadingHTTPServer):
        allow_reuse_address = True
        daemon_threads = True

    server = Server(("127.0.0.1", port), Handler)
    print(f"READY {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

"""The recognizer as a local web service: a live page for any browser's camera, and a REST API.

    python serve.py                                   # http://127.0.0.1:8000/ : the live page
    curl -s -H "Content-Type: image/jpeg" --data-binary @photo.jpg http://127.0.0.1:8000/analyze
    python serve.py --host 0.0.0.0 --token SECRET --ssl-keyfile key.pem --ssl-certfile cert.pem

The model and detector load once, before it listens; a bad option or model is a one-line
error. It listens on 127.0.0.1 unless --host says otherwise, and beyond the loopback only
with --token (requests then carry `Authorization: Bearer TOKEN`; the page and the WebSocket
take ?token=TOKEN). Browsers give the camera only to https:// pages and to localhost: for a
phone, serve with --ssl-keyfile/--ssl-certfile. Ctrl-C stops it.
"""
import ipaddress
import sys

from app.options import DEFAULT_SMOOTH, RUNTIME_NAMES, add_analysis_options, build_recognizer, check_analysis_options
from app.pipeline import Settings
from app.sources import silence_opencv
from common.arguments import Parser, number, positive
from common.entry_point import run_main


def parse_args(argv=None):
    parser = Parser(description="The emotion recognizer as a web service: a live camera page and a REST API.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (beyond the loopback, --token is required)")
    parser.add_argument("--port", type=number(int, 1, 65535), default=8000)
    parser.add_argument("--token", help="a secret every request must carry (Authorization: Bearer TOKEN, or ?token=)")
    parser.add_argument("--max-upload-mb", type=positive(float), default=50.0,
                        help="largest image or video accepted by /analyze")
    parser.add_argument("--ssl-keyfile", help="TLS key (with --ssl-certfile: https, which phones' browsers "
                                              "need before they give a page the camera)")
    parser.add_argument("--ssl-certfile", help="TLS certificate")
    add_analysis_options(parser)
    args = parser.parse_args(argv)
    check_analysis_options(parser, args)
    if not is_loopback(args.host) and not args.token:
        parser.error(f"--host {args.host} is reachable beyond this machine: give --token too")
    if bool(args.ssl_keyfile) != bool(args.ssl_certfile):
        parser.error("--ssl-keyfile and --ssl-certfile go together")
    return args


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:   # a host name: it may resolve to anything
        return False


def main(argv=None):
    args = parse_args(argv)
    silence_opencv()
    try:
        recognizer, runtime = build_recognizer(args, video=True)
    except (FileNotFoundError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    import uvicorn   # only now: --help and option errors stay instant

    from service.analysis import Analyser
    from service.web import build_app
    settings = Settings(smooth=args.smooth if args.smooth is not None else DEFAULT_SMOOTH,
                        scan_every=args.scan_every, label_margin=args.label_margin)
    health = {"model": args.model.name, "runtime": runtime, "detector": args.detector,
              "reid": args.reid, "class_names": list(recognizer.class_names)}
    app = build_app(Analyser(recognizer, settings), health, args.token, args.max_upload_mb)
    scheme = "https" if args.ssl_certfile else "http"
    print(f"model: {args.model.name} ({RUNTIME_NAMES[runtime]}); live page: {scheme}://{args.host}:{args.port}/"
          + ("?token=..." if args.token else ""), flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning",
                ssl_keyfile=args.ssl_keyfile, ssl_certfile=args.ssl_certfile)
    return 0


if __name__ == "__main__":
    run_main(main)

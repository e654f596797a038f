#!/usr/bin/python3
"""An RTSP camera for the RTSP tests: GStreamer's gst-rtsp-server serving live
VP8 test video (videotestsrc ! vp8enc ! rtpvp8pay) at the given paths.

Run with Debian's /usr/bin/python3 (python3-gi, gir1.2-gst-rtsp-server-1.0).

Identity. Two instances play two versions of one backend, and a client must
be able to tell which one answered. gst-rtsp-server gives Python no hook on
the headers or the SDP it writes, so each instance uses its own RTP payload
type (--payload-type): a DESCRIBE reply's "a=rtpmap:<pt> VP8/90000" names
the instance, and so does every RTP packet it sends.

Prints one JSON line {"event": "ready", "name": ..., "port": ...} once it
listens (port 0 picks one), then {"event": "describe", "name": ..., "path":
...} for every DESCRIBE it answers, so a test can count the sessions each
backend got. SIGTERM or SIGINT stops it.
"""
import argparse
import json
import signal
import sys

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def emit(event, **fields):
    sys.stdout.write(json.dumps({'event': event, **fields}) + '\n')
    sys.stdout.flush()


class PathSharedFactory(GstRtspServer.RTSPMediaFactory):
    """Shares one pipeline per path, whatever host and port the client's URL
    names. gst-rtsp-server keys shared media by the whole URL, so a client
    that came through a proxy (rtsp://proxy:8554/cam) would get a pipeline of
    its own beside the direct clients' (rtsp://camera:8554/cam): a fresh
    pipeline starts sending at once, one being joined waits for its next
    frame, and direct and proxied sessions would not be comparable."""

    def do_gen_key(self, url):
        return url.abspath


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--address', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--name', required=True, help='reported in every event line')
    parser.add_argument('--payload-type', type=int, default=96, help='96..127; names this instance in its SDP')
    parser.add_argument('--paths', default='/cam1', help='comma-separated mount points')
    parser.add_argument('--width', type=int, default=320)
    parser.add_argument('--height', type=int, default=240)
    parser.add_argument('--fps', type=int, default=30)
    args = parser.parse_args()
    if not 96 <= args.payload_type <= 127:
        parser.error('--payload-type must be a dynamic payload type, 96..127')

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    # gst-rtsp-server's default listen backlog is 5: a burst of sessions would
    # overflow it and wait out SYN retransmits, which a proxy sees as connect timeouts.
    server.set_backlog(128)
    launch = (
        f'( videotestsrc is-live=true pattern=ball '
        f'! video/x-raw,width={args.width},height={args.height},framerate={args.fps}/1 '
        f'! vp8enc deadline=1 ! rtpvp8pay name=pay0 pt={args.payload_type} )'
    )
    mounts = server.get_mount_points()
    for path in [p.strip() for p in args.paths.split(',') if p.strip()]:
        factory = PathSharedFactory()
        factory.set_launch(launch)
        # One pipeline per path for every client: a hundred DESCRIBEs cost one encoder.
        factory.set_shared(True)
        mounts.add_factory(path, factory)

    def on_describe(_client, context):
        emit('describe', name=args.name, path=context.uri.abspath if context.uri else None)

    def on_client(_server, client):
        client.connect('describe-request', on_describe)

    server.connect('client-connected', on_client)
    if server.attach(None) == 0:
        sys.stderr.write(f'rtsp_server: cannot listen on {args.address}:{args.port}\n')
        return 1

    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    emit('ready', name=args.name, port=server.get_bound_port())
    loop.run()
    return 0


if __name__ == '__main__':
    sys.exit(main())

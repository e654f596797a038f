#!/usr/bin/python3
"""Small network peers for the interception tests, run inside pod namespaces.

Servers print "ready <port>" once bound, and a JSON line of counts when they
end (after --max-seconds, or on SIGTERM); clients print one JSON line and
exit 0 whatever happened to the traffic (the test judges the JSON).

  udp-echo   --port P --tag T             answers each datagram with "T:<datagram>"
  tcp-echo   --port P --tag T             answers each connection's data with "T:<data>"
  stand-in   --port P --tag T             a REDIRECT target: answers any TCP connection
                                          (HTTP or not) with "T orig=<SO_ORIGINAL_DST>"
  udp-send   --to HOST:PORT --count N     N datagrams on one connected socket, 20 ms
             [--bind-port P]              apart; collects the answers
  tcp-send   --to HOST:PORT --message M   one connection, one message, one answer
  http-get   --url URL                    one GET
"""
import argparse
import json
import select
import signal
import socket
import struct
import sys
import threading
import time
import urllib.request

SO_ORIGINAL_DST = 80


def host_port(text):
    host, _, port = text.rpartition(':')
    return host, int(port)


def report(obj):
    print(json.dumps(obj), flush=True)


def udp_echo(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(('0.0.0.0', args.port))
    print(f'ready {args.port}', flush=True)
    deadline = time.monotonic() + args.max_seconds
    counted = {'received': 0, 'answered': 0}
    try:
        while time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0.2)
            if not readable:
                continue
            data, peer = sock.recvfrom(65535)
            counted['received'] += 1
            try:
                sock.sendto(args.tag.encode() + b':' + data, peer)
                counted['answered'] += 1
            except OSError:
                pass
    finally:
        report(counted)


def serve_tcp(args, answer):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(('0.0.0.0', args.port))
    server.listen(64)
    print(f'ready {args.port}', flush=True)
    deadline = time.monotonic() + args.max_seconds
    counted = {'connections': 0}

    def handle(conn):
        with conn:
            conn.settimeout(5)
            try:
                data = conn.recv(65535)
                conn.sendall(answer(conn, data))
            except OSError:
                pass

    try:
        while time.monotonic() < deadline:
            readable, _, _ = select.select([server], [], [], 0.2)
            if not readable:
                continue
            conn, _ = server.accept()
            counted['connections'] += 1
            threading.Thread(target=handle, args=(conn,), daemon=True).start()
    finally:
        report(counted)


def tcp_echo(args):
    serve_tcp(args, lambda conn, data: args.tag.encode() + b':' + data)


def original_destination(conn):
    raw = conn.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    port, packed = struct.unpack_from('!2xH4s', raw)
    return f'{socket.inet_ntoa(packed)}:{port}'


def stand_in(args):
    def answer(conn, data):
        try:
            orig = original_destination(conn)
        except OSError:
            orig = 'none'
        body = f'{args.tag} orig={orig}'.encode()
        if data.startswith(b'GET ') or data.startswith(b'HEAD '):
            return b'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n' % len(body) + body
        return body
    serve_tcp(args, answer)


def udp_send(args):
    host, port = host_port(args.to)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if args.bind_port:
        sock.bind(('0.0.0.0', args.bind_port))
    sock.connect((host, port))
    sent = 0
    replies = []
    errors = []
    deadline_per_reply = args.timeout_ms / 1000
    for i in range(args.count):
        try:
            sock.send(f'{args.message}-{i}'.encode())
            sent += 1
        except OSError as e:
            errors.append(e.strerror or str(e))
        end = time.monotonic() + (0.02 if i < args.count - 1 else deadline_per_reply)
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            readable, _, _ = select.select([sock], [], [], left)
            if not readable:
                break
            try:
                replies.append(sock.recv(65535).decode(errors='replace'))
            except OSError as e:
                errors.append(e.strerror or str(e))
                break
    tags = {}
    for r in replies:
        tag = r.split(':', 1)[0]
        tags[tag] = tags.get(tag, 0) + 1
    report({'sent': sent, 'replies': len(replies), 'tags': tags, 'errors': errors, 'local': '%s:%d' % sock.getsockname()})


def tcp_send(args):
    host, port = host_port(args.to)
    try:
        conn = socket.create_connection((host, port), timeout=args.timeout_ms / 1000)
        with conn:
            conn.sendall(args.message.encode())
            reply = conn.recv(65535).decode(errors='replace')
            report({'reply': reply})
    except OSError as e:
        report({'error': e.strerror or str(e)})


def http_get(args):
    try:
        with urllib.request.urlopen(args.url, timeout=args.timeout_ms / 1000) as response:
            report({'status': response.status, 'body': response.read(4096).decode(errors='replace')})
    except OSError as e:
        report({'error': str(e)})


def main():
    # Servers stopped with SIGTERM still print their counts.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='command', required=True)
    for name, fn in (('udp-echo', udp_echo), ('tcp-echo', tcp_echo), ('stand-in', stand_in)):
        p = sub.add_parser(name)
        p.add_argument('--port', type=int, required=True)
        p.add_argument('--tag', required=True)
        p.add_argument('--max-seconds', type=float, default=180)
        p.set_defaults(fn=fn)
    p = sub.add_parser('udp-send')
    p.add_argument('--to', required=True)
    p.add_argument('--count', type=int, default=5)
    p.add_argument('--message', default='ping')
    p.add_argument('--bind-port', type=int, default=0)
    p.add_argument('--timeout-ms', type=int, default=1500)
    p.set_defaults(fn=udp_send)
    p = sub.add_parser('tcp-send')
    p.add_argument('--to', required=True)
    p.add_argument('--message', default='hello')
    p.add_argument('--timeout-ms', type=int, default=3000)
    p.set_defaults(fn=tcp_send)
    p = sub.add_parser('http-get')
    p.add_argument('--url', required=True)
    p.add_argument('--timeout-ms', type=int, default=3000)
    p.set_defaults(fn=http_get)
    args = ap.parse_args()
    args.fn(args)
    return 0


if __name__ == '__main__':
    sys.exit(main())

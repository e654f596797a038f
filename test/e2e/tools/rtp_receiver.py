#!/usr/bin/python3
"""RTP receiver for the netns end-to-end test.

The receiving RTP stack is GStreamer's: every datagram is pushed into

    appsrc ! rtpsession ! fakesink

and rtpsession keeps the RFC 3550 receiver statistics, whose interarrival
jitter (the figure a GStreamer receiver puts in its RTCP receiver reports) is
read at the end.

The socket is read here rather than by udpsrc for one reason: arrival times.
udpsrc stamps a buffer in user space when its thread has woken up and read the
datagram, so the receiving host's own scheduling delays (milliseconds, now and
then, on a busy 2-CPU machine) land in the jitter although they never were on
the wire. Here the kernel stamps each datagram as it is queued on the socket
(SO_TIMESTAMPNS) and that time becomes the buffer's PTS, which is what
rtpsession computes jitter from.

This script also counts datagrams and checks sequence numbers (missing,
duplicates, out of order), and computes RFC 3550 A.8 jitter itself in floating
point from the same timestamps, for comparison.

Prints "ready <port>" once the socket is bound, then one JSON line when the
stream is over: no datagram for --idle-ms after the first one, --expect
datagrams received, or --max-seconds elapsed (each bounded).
"""
import argparse
import gc
import json
import select
import socket
import struct
import sys
import time

import gi

gi.require_version('Gst', '1.0')
from gi.repository import Gst  # noqa: E402

# Linux: SO_TIMESTAMPNS (== SCM_TIMESTAMPNS), a struct timespec per datagram.
SO_TIMESTAMPNS = 35
TIMESPEC = struct.Struct('@ll')


class SeqTracker:
    """Extended sequence numbers for one SSRC, with the counts the test checks."""

    def __init__(self, seq):
        self.first = seq  # extended
        self.highest = seq
        self.seen = {seq}
        self.duplicates = 0
        self.out_of_order = 0  # arrived below the highest seen, first arrival

    def extend(self, seq):
        # The extended number closest to the highest seen so far.
        cand = (self.highest & ~0xFFFF) | seq
        if cand - self.highest > 0x8000:
            cand -= 0x10000
        elif self.highest - cand > 0x8000:
            cand += 0x10000
        return cand

    def add(self, seq):
        ext = self.extend(seq)
        if ext in self.seen:
            self.duplicates += 1
            return
        self.seen.add(ext)
        if ext < self.highest:
            self.out_of_order += 1
        else:
            self.highest = ext
        self.first = min(self.first, ext)

    def missing(self):
        return (self.highest - self.first + 1) - len(self.seen)


class A8Jitter:
    """RFC 3550 A.8, in seconds, floating point."""

    def __init__(self, clock_rate):
        self.rate = float(clock_rate)
        self.transit = None
        self.jitter = 0.0

    def add(self, arrival_s, rtp_ts):
        transit = arrival_s - rtp_ts / self.rate
        if self.transit is not None:
            d = transit - self.transit
            # RTP timestamps wrap at 2^32.
            wrap = 2**32 / self.rate
            if d > wrap / 2:
                d -= wrap
            elif d < -wrap / 2:
                d += wrap
            self.jitter += (abs(d) - self.jitter) / 16.0
        self.transit = transit


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--clock-rate', type=int, required=True)
    ap.add_argument('--payload', type=int, required=True)
    ap.add_argument('--encoding', default='L16')
    ap.add_argument('--channels', type=int, default=1)
    ap.add_argument('--expect', type=int, default=0, help='stop after this many datagrams (0: idle only)')
    ap.add_argument('--idle-ms', type=int, default=1000)
    ap.add_argument('--max-seconds', type=float, default=60.0)
    args = ap.parse_args()

    Gst.init(None)
    pipeline = Gst.Pipeline.new('receiver')
    src = Gst.ElementFactory.make('appsrc')
    src.set_property('format', Gst.Format.TIME)
    src.set_property('is-live', True)
    src.set_property('do-timestamp', False)
    src.set_property('max-bytes', 0)  # never block or drop: the test stream is small
    src.set_property('caps', Gst.Caps.from_string(
        f'application/x-rtp,media=audio,clock-rate={args.clock_rate},encoding-name={args.encoding},'
        f'channels={args.channels},payload={args.payload}'))
    session = Gst.ElementFactory.make('rtpsession')
    sink = Gst.ElementFactory.make('fakesink')
    sink.set_property('sync', False)
    sink.set_property('async', False)
    for e in (src, session, sink):
        pipeline.add(e)
    src.get_static_pad('src').link(session.request_pad_simple('recv_rtp_sink'))
    session.get_static_pad('recv_rtp_src').link(sink.get_static_pad('sink'))
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        print('cannot start the pipeline', file=sys.stderr)
        return 2
    bus = pipeline.get_bus()

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.bind(('0.0.0.0', args.port))
    print(f'ready {args.port}', flush=True)

    datagrams = 0
    nbytes = 0
    non_rtp = 0
    trackers = {}
    a8 = {}
    first_arrival_ns = None
    last_wall = None
    started = time.monotonic()
    # A collection pause is harmless with kernel timestamps, but cheap to avoid.
    gc.freeze()
    gc.disable()
    while True:
        now = time.monotonic()
        if args.expect and datagrams >= args.expect:
            reason = 'expected count'
            break
        if last_wall is not None and (now - last_wall) * 1000 >= args.idle_ms:
            reason = 'idle'
            break
        if now - started >= args.max_seconds:
            reason = 'deadline'
            break
        error = bus.pop_filtered(Gst.MessageType.ERROR)
        if error is not None:
            err, dbg = error.parse_error()
            print(f'pipeline error: {err.message} ({dbg})', file=sys.stderr, flush=True)
            return 2
        readable, _, _ = select.select([sock], [], [], 0.02)
        if not readable:
            continue
        data, ancdata, _, _ = sock.recvmsg(65535, socket.CMSG_SPACE(TIMESPEC.size))
        last_wall = time.monotonic()
        arrival_ns = None
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= TIMESPEC.size:
                sec, nsec = TIMESPEC.unpack_from(payload)
                arrival_ns = sec * 1_000_000_000 + nsec
        if arrival_ns is None:
            print('no SO_TIMESTAMPNS on a datagram', file=sys.stderr, flush=True)
            return 2
        if first_arrival_ns is None:
            first_arrival_ns = arrival_ns
        datagrams += 1
        nbytes += len(data)
        if len(data) < 12 or data[0] >> 6 != 2 or 72 <= (data[1] & 0x7F) <= 76:
            non_rtp += 1
        else:
            seq, ts, ssrc = struct.unpack('!HII', data[2:12])
            if ssrc not in trackers:
                trackers[ssrc] = SeqTracker(seq)
                a8[ssrc] = A8Jitter(args.clock_rate)
            else:
                trackers[ssrc].add(seq)
            a8[ssrc].add(arrival_ns / 1e9, ts)
        buf = Gst.Buffer.new_wrapped(data)
        # Running time of the arrival, from the kernel's stamp.
        buf.pts = arrival_ns - first_arrival_ns
        if src.emit('push-buffer', buf) != Gst.FlowReturn.OK:
            print('appsrc refused a buffer', file=sys.stderr, flush=True)
            return 2

    # push-buffer only queues: end the stream and wait (bounded) for the EOS
    # to reach the sink, so that rtpsession has processed every buffer.
    src.emit('end-of-stream')
    msg = bus.timed_pop_filtered(5 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    if msg is None or msg.type != Gst.MessageType.EOS:
        print(f'the pipeline did not drain: {msg.parse_error() if msg else "timeout"}', file=sys.stderr, flush=True)
        return 2
    internal = session.get_property('internal-session')
    sources = []
    for ssrc, t in trackers.items():
        entry = {
            'ssrc': ssrc,
            'first_seq': t.first & 0xFFFF,
            'highest_seq': t.highest & 0xFFFF,
            'unique': len(t.seen),
            'missing': t.missing(),
            'duplicates': t.duplicates,
            'out_of_order': t.out_of_order,
            'a8_jitter_us': a8[ssrc].jitter * 1e6,
        }
        rtp_source = internal.emit('get-source-by-ssrc', ssrc)
        if rtp_source is not None:
            stats = rtp_source.get_property('stats')
            ok, jitter_units = stats.get_uint('jitter')
            if ok:
                entry['gst_jitter_units'] = jitter_units
                entry['gst_jitter_us'] = jitter_units * 1e6 / args.clock_rate
            ok, received = stats.get_uint64('packets-received')
            if ok:
                entry['gst_packets_received'] = received
        sources.append(entry)
    print(json.dumps({
        'reason': reason,
        'datagrams': datagrams,
        'bytes': nbytes,
        'non_rtp': non_rtp,
        'clock_rate': args.clock_rate,
        'sources': sources,
    }), flush=True)
    pipeline.set_state(Gst.State.NULL)
    return 0


if __name__ == '__main__':
    sys.exit(main())

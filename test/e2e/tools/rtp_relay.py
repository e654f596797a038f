#!/usr/bin/python3
"""UDP relay for the netns end-to-end test: receives RTP on --listen-port and
forwards every datagram to --to HOST:PORT, either

  --reorder        deterministically permuting small blocks of packets, or
  --jitter-ms X    delaying each packet by a pseudo-random 0..X ms (seeded)
                   while keeping their order,

and counts what it did. A packet is counted in `out_of_order` when the relay
sends it after a packet with a higher sequence number of the same SSRC and it
is the first time that sequence number is sent: exactly the packets the RTP
tracker sees "below the highest sequence number, filling a gap" (as long as
nothing is lost or reordered after the relay).

Reorder patterns, cycled, one block every --every packets after the first
--skip (so that the receiver's probation is not disturbed):
  swap     [i+1, i]                   1 out of order
  delay3   [i+1, i+2, i+3, i]         1 out of order
  reverse3 [i+2, i+1, i]              2 out of order

Prints "ready <port>" once bound, and one JSON line when the stream is over
(no datagram for --idle-ms after the first and nothing queued, or
--max-seconds elapsed).
"""
import argparse
import heapq
import json
import random
import select
import socket
import struct
import sys
import time

PATTERNS = [
    ('swap', [1, 0]),
    ('delay3', [1, 2, 3, 0]),
    ('reverse3', [2, 1, 0]),
]
# A block still incomplete this long after its last packet is sent as it came.
BLOCK_FLUSH_S = 0.05


def rtp_seq_ssrc(data):
    if len(data) < 12 or data[0] >> 6 != 2 or 72 <= (data[1] & 0x7F) <= 76:
        return None
    seq, = struct.unpack('!H', data[2:4])
    ssrc, = struct.unpack('!I', data[8:12])
    return seq, ssrc


class Emitter:
    def __init__(self, sock, target):
        self.sock = sock
        self.target = target
        self.sent = 0
        self.out_of_order = 0
        self.highest = {}  # ssrc -> extended highest sequence number sent
        self.sent_seqs = {}  # ssrc -> set of extended sequence numbers sent

    def send(self, data):
        parsed = rtp_seq_ssrc(data)
        if parsed is not None:
            seq, ssrc = parsed
            if ssrc not in self.highest:
                self.highest[ssrc] = seq
                self.sent_seqs[ssrc] = {seq}
            else:
                hi = self.highest[ssrc]
                ext = (hi & ~0xFFFF) | seq
                if ext - hi > 0x8000:
                    ext -= 0x10000
                elif hi - ext > 0x8000:
                    ext += 0x10000
                if ext > hi:
                    self.highest[ssrc] = ext
                elif ext not in self.sent_seqs[ssrc]:
                    self.out_of_order += 1
                self.sent_seqs[ssrc].add(ext)
        self.sock.sendto(data, self.target)
        self.sent += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--listen-port', type=int, required=True)
    ap.add_argument('--to', required=True, help='HOST:PORT')
    ap.add_argument('--reorder', action='store_true')
    ap.add_argument('--skip', type=int, default=20)
    ap.add_argument('--every', type=int, default=40)
    ap.add_argument('--jitter-ms', type=float, default=0.0)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--idle-ms', type=int, default=1000)
    ap.add_argument('--max-seconds', type=float, default=60.0)
    args = ap.parse_args()
    host, port = args.to.rsplit(':', 1)

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    rx.bind(('0.0.0.0', args.listen_port))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    emitter = Emitter(tx, (host, int(port)))
    rng = random.Random(args.seed)
    print(f'ready {args.listen_port}', flush=True)

    received = 0
    blocks = {name: 0 for name, _ in PATTERNS}
    block = None  # (perm, [datagrams], last arrival)
    delayed = []  # heap of (send_at, order, datagram)
    last_send_at = 0.0
    max_delay = 0.0
    started = time.monotonic()
    last_arrival = None

    def flush_block(in_order):
        nonlocal block
        perm, packets, _ = block
        order = range(len(packets)) if in_order else perm
        for j in order:
            emitter.send(packets[j])
        block = None

    while True:
        now = time.monotonic()
        if now - started >= args.max_seconds:
            reason = 'deadline'
            break
        if last_arrival is not None and not delayed and block is None and (now - last_arrival) * 1000 >= args.idle_ms:
            reason = 'idle'
            break
        # Send what is due.
        while delayed and delayed[0][0] <= now:
            _, _, data = heapq.heappop(delayed)
            emitter.send(data)
        if block is not None and now - block[2] >= BLOCK_FLUSH_S:
            flush_block(in_order=True)
        timeout = 0.05
        if delayed:
            timeout = max(0.0, min(timeout, delayed[0][0] - now))
        readable, _, _ = select.select([rx], [], [], timeout)
        if not readable:
            continue
        data = rx.recv(65535)
        now = time.monotonic()
        last_arrival = now
        index = received
        received += 1
        if args.jitter_ms > 0:
            delay = rng.uniform(0.0, args.jitter_ms) / 1000.0
            send_at = max(last_send_at, now + delay)
            max_delay = max(max_delay, send_at - now)
            last_send_at = send_at
            heapq.heappush(delayed, (send_at, index, data))
        elif args.reorder:
            if block is None and index >= args.skip and (index - args.skip) % args.every == 0:
                k = ((index - args.skip) // args.every) % len(PATTERNS)
                name, perm = PATTERNS[k]
                blocks[name] += 1
                block = (perm, [], now)
            if block is not None:
                block[1].append(data)
                block = (block[0], block[1], now)
                if len(block[1]) == len(block[0]):
                    flush_block(in_order=False)
            else:
                emitter.send(data)
        else:
            emitter.send(data)

    # Nothing may stay behind.
    if block is not None:
        flush_block(in_order=True)
    for _, _, data in sorted(delayed):
        emitter.send(data)
    print(json.dumps({
        'reason': reason,
        'received': received,
        'sent': emitter.sent,
        'out_of_order': emitter.out_of_order,
        'blocks': blocks,
        'max_delay_ms': max_delay * 1000,
    }), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())

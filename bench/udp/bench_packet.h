/* The datagram the UDP bench sends: a 12-byte RTP header (RFC 3550 5.1)
 * followed by a payload whose first 24 bytes carry what the sink needs.
 *
 *   offset  size  field
 *    0      12    RTP: V=2, PT, seq (16 bit, incrementing), timestamp, SSRC
 *   12       4    magic "MMB1"
 *   16       4    run id (big endian): datagrams of another trial are foreign
 *   20       8    send time, CLOCK_MONOTONIC ns (host order: same machine)
 *   28       8    packet index 0,1,2,... (host order)
 *   36       -    filler up to the payload size
 *
 * The payload size given to the sender counts from offset 12 (the RTP
 * payload), so a "200-byte payload" is a 212-byte UDP datagram.
 */
#ifndef MEDIAMESH_BENCH_PACKET_H
#define MEDIAMESH_BENCH_PACKET_H

#include <stdint.h>
#include <time.h>

#define BENCH_RTP_HEADER 12
#define BENCH_MAGIC_OFFSET 12
#define BENCH_RUN_OFFSET 16
#define BENCH_TIME_OFFSET 20
#define BENCH_INDEX_OFFSET 28
#define BENCH_MIN_PAYLOAD 24
/* Loopback MTU is 64 KiB, but keep datagrams within an Ethernet MTU like real RTP. */
#define BENCH_MAX_PAYLOAD 1460
#define BENCH_MAX_DATAGRAM (BENCH_RTP_HEADER + BENCH_MAX_PAYLOAD)

static const unsigned char bench_magic[4] = {'M', 'M', 'B', '1'};

static inline uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif

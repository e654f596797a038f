/* rtp_sink: receiving end of the UDP bench.
 *
 * Binds one loopback UDP port, reads datagrams with recvmmsg(2) and, for
 * those of its run (bench_packet.h), counts them and records the one-way
 * latency: the CLOCK_MONOTONIC time right after recvmmsg returned minus the
 * send time the sender embedded (same machine, same clock). Latencies go to
 * a log-linear histogram (128 sub-buckets per power of two: < 0.8 % error),
 * so memory is fixed whatever the packet count.
 *
 * The kernel's count of datagrams dropped because this socket's receive
 * queue was full (SO_RXQ_OVFL) is reported as socket_drops: it tells loss at
 * the sink apart from loss upstream of it.
 *
 * Protocol with the orchestrator: once bound, one line
 *   {"ready":true,"port":N,"rcvbuf":BYTES}
 * on stdout; on SIGTERM/SIGINT (or --max-seconds) it drains what is queued
 * and prints the result object as the last stdout line. Exit status: 0 ok,
 * 1 runtime error, 2 usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_packet.h"
#include "bench_tool.h"

#define BATCH 64
#define MAX_SECONDS 3600.0
#define SUB_BITS 7
#define SUB (1u << SUB_BITS)          /* 128 */
#define BUCKETS ((64 - SUB_BITS + 1) * SUB)

static void usage(const char* why) {
  fprintf(stderr,
          "rtp_sink: %s\n"
          "usage: rtp_sink [--bind 127.0.0.1:PORT (default port 0)] [--run-id N]\n"
          "                [--rcvbuf BYTES (default 4194304; 0 = kernel default)] [--max-seconds S (default 120)]\n"
          "                [--cpu N (pin to this CPU)]\n",
          why);
  exit(2);
}

/* ---- latency histogram ------------------------------------------------ */

static uint64_t hist[BUCKETS];

static unsigned bucket_of(uint64_t v) {
  if (v < 2 * SUB) return (unsigned)v;
  const unsigned msb = 63u - (unsigned)__builtin_clzll(v);
  const unsigned shift = msb - SUB_BITS; /* v >> shift is in [SUB, 2*SUB) */
  return (shift + 1) * SUB + (unsigned)((v >> shift) - SUB);
}

/* The middle of a bucket's value range. */
static double bucket_value(unsigned idx) {
  if (idx < 2 * SUB) return (double)idx;
  const unsigned shift = idx / SUB - 1;
  const uint64_t lo = ((uint64_t)(idx % SUB) + SUB) << shift;
  return (double)lo + (double)((1ull << shift) - 1) / 2.0;
}

static double percentile_ns(uint64_t total, double p) {
  if (total == 0) return 0;
  uint64_t rank = (uint64_t)(p * (double)total + 0.999999);
  if (rank < 1) rank = 1;
  uint64_t seen = 0;
  for (unsigned i = 0; i < BUCKETS; i++) {
    seen += hist[i];
    if (seen >= rank) return bucket_value(i);
  }
  return 0;
}

/* ---- receiving --------------------------------------------------------- */

struct result {
  uint64_t received, bytes, foreign, reordered, clock_skew;
  uint64_t next_index; /* highest index seen + 1 */
  uint64_t first_rx, last_rx;
  uint64_t lat_min, lat_max;
  double lat_sum;
  uint32_t socket_drops;
};

static unsigned char bufs[BATCH][BENCH_MAX_DATAGRAM + 64];
static char ctrl[BATCH][CMSG_SPACE(sizeof(uint32_t))];
static struct iovec iov[BATCH];
static struct mmsghdr msgs[BATCH];

static void handle(struct result* r, int n, uint64_t rx_ns, uint32_t run_id) {
  for (int i = 0; i < n; i++) {
    struct msghdr* h = &msgs[i].msg_hdr;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
        uint32_t drops;
        memcpy(&drops, CMSG_DATA(c), sizeof drops);
        if (drops > r->socket_drops) r->socket_drops = drops;
      }
    }
    const unsigned char* p = bufs[i];
    const unsigned len = msgs[i].msg_len;
    uint32_t run = 0;
    if (len >= BENCH_RTP_HEADER + BENCH_MIN_PAYLOAD) {
      run = ((uint32_t)p[BENCH_RUN_OFFSET] << 24) | ((uint32_t)p[BENCH_RUN_OFFSET + 1] << 16) |
            ((uint32_t)p[BENCH_RUN_OFFSET + 2] << 8) | p[BENCH_RUN_OFFSET + 3];
    }
    if (len < BENCH_RTP_HEADER + BENCH_MIN_PAYLOAD || memcmp(p + BENCH_MAGIC_OFFSET, bench_magic, 4) != 0 ||
        run != run_id) {
      r->foreign++;
      continue;
    }
    uint64_t sent_ns, index;
    memcpy(&sent_ns, p + BENCH_TIME_OFFSET, 8);
    memcpy(&index, p + BENCH_INDEX_OFFSET, 8);
    uint64_t lat = 0;
    if (rx_ns >= sent_ns) {
      lat = rx_ns - sent_ns;
    } else {
      r->clock_skew++;
    }
    hist[bucket_of(lat)]++;
    r->lat_sum += (double)lat;
    if (r->received == 0 || lat < r->lat_min) r->lat_min = lat;
    if (lat > r->lat_max) r->lat_max = lat;
    if (r->received == 0) r->first_rx = rx_ns;
    r->last_rx = rx_ns;
    r->received++;
    r->bytes += len;
    if (index + 1 <= r->next_index) {
      r->reordered++;
    } else {
      r->next_index = index + 1;
    }
  }
}

static void reset_headers(void) {
  for (int i = 0; i < BATCH; i++) {
    msgs[i].msg_hdr.msg_control = ctrl[i];
    msgs[i].msg_hdr.msg_controllen = sizeof ctrl[i];
    msgs[i].msg_hdr.msg_flags = 0;
  }
}

int main(int argc, char** argv) {
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  uint32_t run_id = 0;
  int rcvbuf = 4 * 1024 * 1024;
  double max_seconds = 120;
  int cpu = -1;
  for (int i = 1; i < argc; i++) {
    const char* a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) usage("help");
    if (i + 1 >= argc) usage("missing value");
    const char* v = argv[++i];
    if (strcmp(a, "--bind") == 0) {
      const char* colon = strrchr(v, ':');
      char host[64];
      if (colon == NULL || (size_t)(colon - v) >= sizeof host) usage("--bind must be IPv4:PORT");
      memcpy(host, v, (size_t)(colon - v));
      host[colon - v] = '\0';
      if (inet_pton(AF_INET, host, &addr.sin_addr) != 1 || (ntohl(addr.sin_addr.s_addr) >> 24) != 127) {
        usage("--bind must be a 127.0.0.0/8 address");
      }
      addr.sin_port = htons((uint16_t)parse_u64(colon + 1, "port", 0, 65535));
    } else if (strcmp(a, "--run-id") == 0) {
      run_id = (uint32_t)parse_u64(v, a, 0, UINT32_MAX);
    } else if (strcmp(a, "--rcvbuf") == 0) {
      rcvbuf = (int)parse_u64(v, a, 0, 1u << 30);
    } else if (strcmp(a, "--cpu") == 0) {
      cpu = (int)parse_u64(v, a, 0, CPU_SETSIZE - 1);
    } else if (strcmp(a, "--max-seconds") == 0) {
      max_seconds = (double)parse_u64(v, a, 1, (uint64_t)MAX_SECONDS);
    } else {
      usage("unknown option");
    }
  }

  if (bench_pin_cpu(cpu, "rtp_sink") != 0) return 1;

  bench_stop_on_signals();

  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    perror("rtp_sink: socket");
    return 1;
  }
  /* SO_RCVBUFFORCE passes net.core.rmem_max when privileged; else the capped SO_RCVBUF. */
  if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
  struct timeval tv = {0, 50000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (bind(fd, (struct sockaddr*)&addr, sizeof addr) != 0) {
    perror("rtp_sink: bind");
    return 1;
  }
  socklen_t alen = sizeof addr;
  getsockname(fd, (struct sockaddr*)&addr, &alen);
  int actual_rcvbuf = 0;
  socklen_t olen = sizeof actual_rcvbuf;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &actual_rcvbuf, &olen);
  printf("{\"ready\":true,\"port\":%u,\"rcvbuf\":%d}\n", ntohs(addr.sin_port), actual_rcvbuf);
  fflush(stdout);

  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = sizeof bufs[i];
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }

  struct result r;
  memset(&r, 0, sizeof r);
  const uint64_t deadline = bench_now_ns() + (uint64_t)(max_seconds * 1e9);
  while (!stop_requested && bench_now_ns() < deadline) {
    reset_headers();
    int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      perror("rtp_sink: recvmmsg");
      return 1;
    }
    handle(&r, n, bench_now_ns(), run_id);
  }
  /* Take what is still queued (bounded: the queue holds at most rcvbuf bytes). */
  for (int rounds = 0; rounds < 1 << 20; rounds++) {
    reset_headers();
    int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) break;
    handle(&r, n, bench_now_ns(), run_id);
  }

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  const double us = 1e-3;
  printf("{\"received\":%llu,\"bytes\":%llu,\"foreign\":%llu,\"reordered\":%llu,\"highest_index\":%lld,"
         "\"socket_drops\":%u,\"rx_span_s\":%.6f,\"rcvbuf\":%d,\"clock_skew\":%llu,"
         "\"latency_us\":{\"min\":%.2f,\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"max\":%.2f,\"mean\":%.2f},"
         "\"cpu_user_s\":%.6f,\"cpu_sys_s\":%.6f}\n",
         (unsigned long long)r.received, (unsigned long long)r.bytes, (unsigned long long)r.foreign,
         (unsigned long long)r.reordered, (long long)r.next_index - 1, r.socket_drops,
         r.received ? (double)(r.last_rx - r.first_rx) / 1e9 : 0.0, actual_rcvbuf, (unsigned long long)r.clock_skew,
         (double)r.lat_min * us, percentile_ns(r.received, 0.50) * us, percentile_ns(r.received, 0.90) * us,
         percentile_ns(r.received, 0.99) * us, percentile_ns(r.received, 0.999) * us, (double)r.lat_max * us,
         r.received ? r.lat_sum / (double)r.received * us : 0.0, cpu_seconds(&ru.ru_utime), cpu_seconds(&ru.ru_stime));
  close(fd);
  return 0;
}

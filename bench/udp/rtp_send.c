/* rtp_send: paced RTP load generator for the UDP bench.
 *
 * Sends one RTP stream (fixed SSRC, incrementing sequence number, 90 kHz
 * timestamp taken from the send clock; --ssrcs N interleaves N such streams
 * round robin, for profiling) to one loopback address at a target
 * packet rate, for a duration or a packet count, whichever ends first. Every
 * datagram carries its CLOCK_MONOTONIC send time (see bench_packet.h) so the
 * sink can compute the one-way latency on the same machine.
 *
 * Pacing: the number of packets due is rate * elapsed; whatever is due (up
 * to --batch) goes out in one sendmmsg(2). When nothing is due the sender
 * sleeps (absolute clock_nanosleep, 1 us timer slack; within 2 us it spins)
 * until a burst is due: rate * --tick-us packets (at least 1, at most
 * --batch), so at 100k pps and the 50 us default tick it wakes about every
 * 50 us and sends ~5 packets per call instead of paying a sleep and a
 * syscall per packet (video sends a frame as a burst, too). The packets of
 * one sendmmsg share the send time read just before the call. --rate 0 sends
 * back-to-back batches as fast as the socket takes them.
 *
 * On exit (end of duration/count, SIGINT or SIGTERM) one JSON object is
 * printed on stdout. Exit status: 0 ok, 1 runtime error, 2 usage.
 *
 *   rtp_send --dst 127.0.0.1:5004 --payload 200 --rate 100000 --duration 3
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
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_packet.h"
#include "bench_tool.h"

#define MAX_BATCH 256
#define MAX_DURATION_S 600.0

struct options {
  struct sockaddr_in dst;
  unsigned payload;
  double rate; /* packets per second; 0 = as fast as possible */
  double duration_s;
  uint64_t count; /* 0 = no limit */
  unsigned batch;
  double tick_us; /* paced mode: wake at most about once per tick */
  uint32_t ssrc;
  unsigned ssrcs; /* streams: packet i belongs to SSRC ssrc + i % ssrcs */
  unsigned pt;
  uint32_t run_id;
  int cpu; /* -1: not pinned */
};

static void usage(const char* why) {
  fprintf(stderr,
          "rtp_send: %s\n"
          "usage: rtp_send --dst 127.0.0.1:PORT [--payload BYTES(24..1460, default 200)]\n"
          "                [--rate PPS (0 = max, default 0)] [--duration S (default 3, max 600)]\n"
          "                [--count N] [--batch N (1..256, default 32)] [--tick-us US (default 50)]\n"
          "                [--ssrc N] [--ssrcs N (streams, round robin; default 1)] [--pt 0..127 (96)]\n"
          "                [--run-id N] [--cpu N (pin to this CPU)]\n",
          why);
  exit(2);
}

static void parse_addr(const char* s, struct sockaddr_in* out) {
  char host[64];
  const char* colon = strrchr(s, ':');
  if (colon == NULL || (size_t)(colon - s) >= sizeof host) usage("--dst must be IPv4:PORT");
  memcpy(host, s, (size_t)(colon - s));
  host[colon - s] = '\0';
  memset(out, 0, sizeof *out);
  out->sin_family = AF_INET;
  out->sin_port = htons((uint16_t)parse_u64(colon + 1, "port", 1, 65535));
  if (inet_pton(AF_INET, host, &out->sin_addr) != 1) usage("--dst must be IPv4:PORT");
  /* The bench only ever talks to loopback. */
  if ((ntohl(out->sin_addr.s_addr) >> 24) != 127) usage("--dst must be a 127.0.0.0/8 address");
}

static void parse_options(int argc, char** argv, struct options* o) {
  int have_dst = 0;
  memset(o, 0, sizeof *o);
  o->payload = 200;
  o->duration_s = 3;
  o->batch = 32;
  o->tick_us = 50;
  o->ssrc = 0x4d4d0001u;
  o->ssrcs = 1;
  o->pt = 96;
  o->cpu = -1;
  for (int i = 1; i < argc; i++) {
    const char* a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) usage("help");
    if (i + 1 >= argc) usage("missing value");
    const char* v = argv[++i];
    if (strcmp(a, "--dst") == 0) {
      parse_addr(v, &o->dst);
      have_dst = 1;
    } else if (strcmp(a, "--payload") == 0) {
      o->payload = (unsigned)parse_u64(v, a, BENCH_MIN_PAYLOAD, BENCH_MAX_PAYLOAD);
    } else if (strcmp(a, "--rate") == 0) {
      o->rate = parse_double(v, a, 0, 100e6);
    } else if (strcmp(a, "--duration") == 0) {
      o->duration_s = parse_double(v, a, 0.001, MAX_DURATION_S);
    } else if (strcmp(a, "--count") == 0) {
      o->count = parse_u64(v, a, 1, UINT64_MAX / 2);
    } else if (strcmp(a, "--batch") == 0) {
      o->batch = (unsigned)parse_u64(v, a, 1, MAX_BATCH);
    } else if (strcmp(a, "--tick-us") == 0) {
      o->tick_us = parse_double(v, a, 0, 10000);
    } else if (strcmp(a, "--ssrc") == 0) {
      o->ssrc = (uint32_t)parse_u64(v, a, 0, UINT32_MAX);
    } else if (strcmp(a, "--ssrcs") == 0) {
      o->ssrcs = (unsigned)parse_u64(v, a, 1, 4096);
    } else if (strcmp(a, "--pt") == 0) {
      o->pt = (unsigned)parse_u64(v, a, 0, 127);
    } else if (strcmp(a, "--run-id") == 0) {
      o->run_id = (uint32_t)parse_u64(v, a, 0, UINT32_MAX);
    } else if (strcmp(a, "--cpu") == 0) {
      o->cpu = (int)parse_u64(v, a, 0, CPU_SETSIZE - 1);
    } else {
      usage("unknown option");
    }
  }
  if (!have_dst) usage("--dst is required");
}

static void put_be16(unsigned char* p, uint16_t v) {
  p[0] = (unsigned char)(v >> 8);
  p[1] = (unsigned char)v;
}

static void put_be32(unsigned char* p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

int main(int argc, char** argv) {
  struct options o;
  parse_options(argc, argv, &o);

  if (bench_pin_cpu(o.cpu, "rtp_send") != 0) return 1;

  bench_stop_on_signals();
  /* Sleeps end within ~1 us of the requested time instead of the 50 us default slack. */
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);

  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    perror("rtp_send: socket");
    return 1;
  }
  struct sockaddr_in src;
  memset(&src, 0, sizeof src);
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr*)&src, sizeof src) != 0 || connect(fd, (struct sockaddr*)&o.dst, sizeof o.dst) != 0) {
    perror("rtp_send: bind/connect");
    return 1;
  }

  const size_t datagram = BENCH_RTP_HEADER + o.payload;
  static unsigned char bufs[MAX_BATCH][BENCH_MAX_DATAGRAM];
  static struct iovec iov[MAX_BATCH];
  static struct mmsghdr msgs[MAX_BATCH];
  for (unsigned i = 0; i < o.batch; i++) {
    unsigned char* p = bufs[i];
    memset(p, 0xA5, datagram);
    p[0] = 0x80; /* V=2, no padding, no extension, CC=0 */
    p[1] = (unsigned char)(o.pt & 0x7f);
    put_be32(p + 8, o.ssrc);
    memcpy(p + BENCH_MAGIC_OFFSET, bench_magic, 4);
    put_be32(p + BENCH_RUN_OFFSET, o.run_id);
    iov[i].iov_base = p;
    iov[i].iov_len = datagram;
    memset(&msgs[i], 0, sizeof msgs[i]);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }

  const uint64_t limit = o.count ? o.count : UINT64_MAX;
  const uint64_t start = bench_now_ns();
  const uint64_t end = start + (uint64_t)(o.duration_s * 1e9);
  const uint16_t seq0 = (uint16_t)(o.run_id * 7919u);
  uint64_t burst = (uint64_t)(o.rate * o.tick_us / 1e6);
  if (burst < 1) burst = 1;
  if (burst > o.batch) burst = o.batch;
  uint64_t sent = 0, calls = 0, errors = 0, sleeps = 0, max_backlog = 0;
  int last_errno = 0;
  uint64_t now = start;

  while (!stop_requested && sent < limit) {
    now = bench_now_ns();
    if (now >= end) break;
    uint64_t n;
    if (o.rate > 0) {
      /* Packet k is due at start + k / rate; packet 0 at once. */
      uint64_t due = (uint64_t)((double)(now - start) * o.rate / 1e9) + 1;
      if (due > limit) due = limit;
      if (due <= sent) {
        /* Wake when packet sent + burst - 1 is due. */
        uint64_t next = start + (uint64_t)((double)(sent + burst - 1) * 1e9 / o.rate);
        if (next > end) next = end;
        if (next > now + 2000) {
          struct timespec ts = {(time_t)(next / 1000000000ull), (long)(next % 1000000000ull)};
          clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
          sleeps++;
        }
        continue;
      }
      uint64_t backlog = due - sent;
      if (backlog > max_backlog) max_backlog = backlog;
      n = backlog < o.batch ? backlog : o.batch;
    } else {
      n = limit - sent < o.batch ? limit - sent : o.batch;
    }
    const uint32_t rtp_ts = (uint32_t)(now / 100000ull * 9ull); /* 90 kHz media clock */
    for (uint64_t i = 0; i < n; i++) {
      unsigned char* p = bufs[i];
      const uint64_t index = sent + i;
      /* Each stream has its own sequence: in order, no gaps. */
      put_be16(p + 2, (uint16_t)(seq0 + index / o.ssrcs));
      put_be32(p + 4, rtp_ts);
      if (o.ssrcs > 1) put_be32(p + 8, o.ssrc + (uint32_t)(index % o.ssrcs));
      memcpy(p + BENCH_TIME_OFFSET, &now, 8);
      memcpy(p + BENCH_INDEX_OFFSET, &index, 8);
    }
    int r = sendmmsg(fd, msgs, (unsigned)n, 0);
    calls++;
    if (r < 0) {
      if (errno == EINTR) continue;
      /* ECONNREFUSED: an ICMP port-unreachable came back (nobody bound yet);
       * ENOBUFS/EAGAIN: local queue full. The batch is lost; count it and go on. */
      if (errno == ECONNREFUSED || errno == ENOBUFS || errno == EAGAIN) {
        errors++;
        last_errno = errno;
        sent += n; /* they count as offered: the sink will see them as lost */
        continue;
      }
      perror("rtp_send: sendmmsg");
      return 1;
    }
    sent += (uint64_t)r;
  }
  const uint64_t stopped = bench_now_ns();

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  const double elapsed = (double)(stopped - start) / 1e9;
  printf("{\"sent\":%llu,\"elapsed_s\":%.6f,\"target_pps\":%.1f,\"achieved_pps\":%.1f,\"datagram_bytes\":%zu,"
         "\"burst\":%llu,\"sendmmsg_calls\":%llu,\"sleeps\":%llu,\"max_backlog\":%llu,\"send_errors\":%llu,\"last_errno\":%d,"
         "\"cpu_user_s\":%.6f,\"cpu_sys_s\":%.6f,\"interrupted\":%s}\n",
         (unsigned long long)sent, elapsed, o.rate, elapsed > 0 ? (double)sent / elapsed : 0.0, datagram,
         (unsigned long long)(o.rate > 0 ? burst : o.batch), (unsigned long long)calls, (unsigned long long)sleeps, (unsigned long long)max_backlog,
         (unsigned long long)errors, last_errno, cpu_seconds(&ru.ru_utime), cpu_seconds(&ru.ru_stime),
         stop_requested ? "true" : "false");
  close(fd);
  return 0;
}

/* What rtp_send and rtp_sink share as command-line tools: bounded option
 * values, CPU pinning, stop on SIGINT/SIGTERM, and CPU-time reading.
 * Each tool defines `usage(const char* why)` (prints, exits 2), and
 * defines _GNU_SOURCE before its first include (for sched_setaffinity). */
#ifndef MEDIAMESH_BENCH_TOOL_H
#define MEDIAMESH_BENCH_TOOL_H

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static void usage(const char* why);

static volatile sig_atomic_t stop_requested = 0;

static void bench_on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

/* No SA_RESTART: a signal also ends a blocked recvmmsg or clock_nanosleep. */
static inline void bench_stop_on_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = bench_on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

/* Pins the process to `cpu` (-1: leave it); 0 on success. */
static inline int bench_pin_cpu(int cpu, const char* tool) {
  if (cpu < 0) return 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) == 0) return 0;
  fprintf(stderr, "%s: sched_setaffinity: %s\n", tool, strerror(errno));
  return -1;
}

static inline void bench_bad_value(const char* name, const char* s) {
  char msg[128];
  snprintf(msg, sizeof msg, "bad %s \"%s\"", name, s);
  usage(msg);
}

static inline uint64_t parse_u64(const char* s, const char* name, uint64_t min, uint64_t max) {
  char* end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max) bench_bad_value(name, s);
  return (uint64_t)v;
}

static inline double parse_double(const char* s, const char* name, double min, double max) {
  char* end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (errno != 0 || end == s || *end != '\0' || !(v >= min && v <= max)) bench_bad_value(name, s);
  return v;
}

static inline double cpu_seconds(const struct timeval* tv) { return (double)tv->tv_sec + (double)tv->tv_usec / 1e6; }

#endif

// podnet-conntrack-events: the kernel's connection events for the agent's flow log, read from
// ctnetlink's NEW and DESTROY groups of the network namespace it runs in (both families) and
// written to stdout as fixed-size binary records, many to a write: the agent reads them with a
// Buffer view and parses no text. One record per event, 136 bytes, integers little-endian:
//
//   0 kind (1 NEW, 2 DESTROY, 3 LOST: the kernel dropped events, 4 READY: subscribed)
//   1 family (4 or 6)   2 IP protocol number   3 flags (1 counters, 2 start/stop times)
//   4 u32 the connection's id
//   8 original source, 24 original destination, 40 reply source, 56 reply destination:
//     16 bytes each, network order (an IPv4 address in the first 4)
//   72 u16 original source port, 74 original destination port, 76 reply source port,
//   78 reply destination port (0 for ICMP)
//   80 f64 seconds since the epoch when the event was read
//   88 f64 start, 96 f64 stop: the kernel's timestamps in seconds (0 without them)
//   104 f64 original packets, 112 original bytes, 120 reply packets, 128 reply bytes
//
// Events gather for FLUSH_MS after the first of a batch before they are read and written, so
// that a burst of short connections costs the helper and the agent one wake-up per batch
// rather than one per event. When the socket's buffer
// overflows the kernel drops events and says so (ENOBUFS): that is a LOST record, counted by
// the agent. The helper ends with its parent.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "records are written in the machine's order, which must be little-endian"
#endif

enum { RECORD_BYTES = 136, FLUSH_MS = 10 };
enum { KIND_NEW = 1, KIND_DESTROY = 2, KIND_LOST = 3, KIND_READY = 4 };
enum { HAS_COUNTERS = 1, HAS_TIMES = 2 };
/** Room for bursts of short connections before the kernel has to drop events (8 MiB). */
static const int SOCKET_BUFFER_BYTES = 8 * 1024 * 1024;

static unsigned char out[RECORD_BYTES * 480];
static size_t pending;

static void write_all(const unsigned char *data, size_t len) {
  while (len > 0) {
    ssize_t n = write(STDOUT_FILENO, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      exit(1);
    }
    data += n;
    len -= (size_t)n;
  }
}

static void flush(void) {
  write_all(out, pending);
  pending = 0;
}

static unsigned char *next_record(void) {
  if (pending + RECORD_BYTES > sizeof out) flush();
  unsigned char *r = out + pending;
  memset(r, 0, RECORD_BYTES);
  pending += RECORD_BYTES;
  return r;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void put_u16(unsigned char *r, size_t at, uint16_t v) { memcpy(r + at, &v, 2); }
static void put_u32(unsigned char *r, size_t at, uint32_t v) { memcpy(r + at, &v, 4); }
static void put_f64(unsigned char *r, size_t at, double v) { memcpy(r + at, &v, 8); }

static uint16_t be16_at(const struct nlattr *a) {
  uint16_t v;
  memcpy(&v, (const char *)a + NLA_HDRLEN, 2);
  return ntohs(v);
}

static uint32_t be32_at(const struct nlattr *a) {
  uint32_t v;
  memcpy(&v, (const char *)a + NLA_HDRLEN, 4);
  return ntohl(v);
}

static uint64_t be64_at(const struct nlattr *a) {
  uint64_t v;
  memcpy(&v, (const char *)a + NLA_HDRLEN, 8);
  return be64toh(v);
}

/** Each whole attribute in [data, data+len) as `a`. */
#define EACH_ATTRIBUTE(a, data, len)                                                      \
  for (const struct nlattr *a = (const struct nlattr *)(data);                            \
       (const char *)a + NLA_HDRLEN <= (const char *)(data) + (len) && a->nla_len >= NLA_HDRLEN && \
       (const char *)a + a->nla_len <= (const char *)(data) + (len);                      \
       a = (const struct nlattr *)((const char *)a + NLA_ALIGN(a->nla_len)))

#define PAYLOAD(a) ((const char *)(a) + NLA_HDRLEN)
#define PAYLOAD_LEN(a) ((size_t)(a)->nla_len - NLA_HDRLEN)
#define TYPE(a) ((a)->nla_type & NLA_TYPE_MASK)

/** One tuple into the record: addresses at `addr_at` and `addr_at + 16`, ports at `port_at`. */
static void put_tuple(unsigned char *r, const struct nlattr *tuple, size_t addr_at,
                      size_t port_at) {
  EACH_ATTRIBUTE(part, PAYLOAD(tuple), PAYLOAD_LEN(tuple)) {
    if (TYPE(part) == CTA_TUPLE_IP) {
      EACH_ATTRIBUTE(ip, PAYLOAD(part), PAYLOAD_LEN(part)) {
        switch (TYPE(ip)) {
        case CTA_IP_V4_SRC: memcpy(r + addr_at, PAYLOAD(ip), 4); break;
        case CTA_IP_V4_DST: memcpy(r + addr_at + 16, PAYLOAD(ip), 4); break;
        case CTA_IP_V6_SRC: memcpy(r + addr_at, PAYLOAD(ip), 16); break;
        case CTA_IP_V6_DST: memcpy(r + addr_at + 16, PAYLOAD(ip), 16); break;
        }
      }
    } else if (TYPE(part) == CTA_TUPLE_PROTO) {
      EACH_ATTRIBUTE(p, PAYLOAD(part), PAYLOAD_LEN(part)) {
        switch (TYPE(p)) {
        case CTA_PROTO_NUM: r[2] = *(const unsigned char *)PAYLOAD(p); break;
        case CTA_PROTO_SRC_PORT: put_u16(r, port_at, be16_at(p)); break;
        case CTA_PROTO_DST_PORT: put_u16(r, port_at + 2, be16_at(p)); break;
        }
      }
    }
  }
}

/** Packets and bytes of one direction at `at` (the kernel sends 64-bit counters, or 32). */
static void put_counters(unsigned char *r, const struct nlattr *counters, size_t at) {
  r[3] |= HAS_COUNTERS;
  EACH_ATTRIBUTE(c, PAYLOAD(counters), PAYLOAD_LEN(counters)) {
    switch (TYPE(c)) {
    case CTA_COUNTERS_PACKETS: put_f64(r, at, (double)be64_at(c)); break;
    case CTA_COUNTERS_BYTES: put_f64(r, at + 8, (double)be64_at(c)); break;
    case CTA_COUNTERS32_PACKETS: put_f64(r, at, (double)be32_at(c)); break;
    case CTA_COUNTERS32_BYTES: put_f64(r, at + 8, (double)be32_at(c)); break;
    }
  }
}

static void put_times(unsigned char *r, const struct nlattr *times) {
  r[3] |= HAS_TIMES;
  EACH_ATTRIBUTE(t, PAYLOAD(times), PAYLOAD_LEN(times)) {
    if (TYPE(t) == CTA_TIMESTAMP_START) put_f64(r, 88, (double)be64_at(t) / 1e9);
    if (TYPE(t) == CTA_TIMESTAMP_STOP) put_f64(r, 96, (double)be64_at(t) / 1e9);
  }
}

static void put_event(const struct nlmsghdr *h, double read_at) {
  if (NFNL_SUBSYS_ID(h->nlmsg_type) != NFNL_SUBSYS_CTNETLINK) return;
  int type = NFNL_MSG_TYPE(h->nlmsg_type);
  if (type != IPCTNL_MSG_CT_NEW && type != IPCTNL_MSG_CT_DELETE) return;
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nfgenmsg))) return;
  const struct nfgenmsg *g = NLMSG_DATA(h);
  if (g->nfgen_family != AF_INET && g->nfgen_family != AF_INET6) return;
  unsigned char *r = next_record();
  r[0] = type == IPCTNL_MSG_CT_NEW ? KIND_NEW : KIND_DESTROY;
  r[1] = g->nfgen_family == AF_INET ? 4 : 6;
  put_f64(r, 80, read_at);
  const char *attrs = (const char *)g + NLMSG_ALIGN(sizeof *g);
  size_t len = h->nlmsg_len - NLMSG_LENGTH(sizeof *g);
  EACH_ATTRIBUTE(a, attrs, len) {
    switch (TYPE(a)) {
    case CTA_TUPLE_ORIG: put_tuple(r, a, 8, 72); break;
    case CTA_TUPLE_REPLY: put_tuple(r, a, 40, 76); break;
    case CTA_ID: put_u32(r, 4, be32_at(a)); break;
    case CTA_COUNTERS_ORIG: put_counters(r, a, 104); break;
    case CTA_COUNTERS_REPLY: put_counters(r, a, 120); break;
    case CTA_TIMESTAMP: put_times(r, a); break;
    }
  }
}

static int subscribe(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) return -1;
  struct sockaddr_nl local = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) return -1;
  // Forcing the size needs CAP_NET_ADMIN, which the agent has; otherwise the sysctl's cap.
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &SOCKET_BUFFER_BYTES,
                 sizeof SOCKET_BUFFER_BYTES) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &SOCKET_BUFFER_BYTES, sizeof SOCKET_BUFFER_BYTES);
  unsigned groups[] = {NFNLGRP_CONNTRACK_NEW, NFNLGRP_CONNTRACK_DESTROY};
  for (size_t i = 0; i < sizeof groups / sizeof *groups; i++)
    if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &groups[i], sizeof groups[i]) < 0)
      return -1;
  return fd;
}

/** Reads what the socket holds now into records; false when it holds nothing more. */
static int read_events(int fd, unsigned char *buf, size_t size) {
  ssize_t n = recv(fd, buf, size, MSG_DONTWAIT);
  if (n < 0) {
    if (errno == ENOBUFS) {
      next_record()[0] = KIND_LOST;
      return 1;
    }
    if (errno == EAGAIN || errno == EINTR) return 0;
    fprintf(stderr, "podnet-conntrack-events: reading events: %s\n", strerror(errno));
    exit(1);
  }
  double read_at = now_seconds();
  for (const struct nlmsghdr *h = (const struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
       h = NLMSG_NEXT(h, n))
    put_event(h, read_at);
  return 1;
}

int main(void) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  int fd = subscribe();
  if (fd < 0) {
    fprintf(stderr, "podnet-conntrack-events: subscribing to conntrack events: %s\n",
            strerror(errno));
    return 1;
  }
  next_record()[0] = KIND_READY;
  flush();
  static unsigned char buf[1 << 16];
  const struct timespec gather = {.tv_nsec = FLUSH_MS * 1000000L};
  for (;;) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, -1) <= 0) continue;
    // The first event of a batch: let the others gather in the socket's buffer, then read
    // them all and write them at once (one wake-up and one write per batch, not per event).
    nanosleep(&gather, NULL);
    while (read_events(fd, buf, sizeof buf))
      ;
    flush();
  }
}

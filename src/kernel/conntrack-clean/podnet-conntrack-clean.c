// podnet-conntrack-clean: deletes the conntrack entries that still steer a service's UDP or
// SCTP traffic to an endpoint that went away, for the proxy, which keeps one running. Each
// cleanup is then one request to a process that is already up, and for IPv4 the kernel sends
// only the entries asked for (a dump filtered in the kernel, Linux 5.8+) instead of the whole
// table, which `conntrack -D` reads and filters itself: on a busy host that was most of the
// time between an endpoint's removal and its last entry's. (The kernel's filter finds no IPv6
// entry, as tried on 6.18; IPv6 tables are read whole and checked here.) Deletions go many to
// a send.
//
// One request per line on stdin:
//   FAMILY PROTO ORIG_DST PORT REPLY_SRC
// FAMILY 4 or 6; PROTO the IP protocol number; ORIG_DST the service's address, or `-` for a
// node port (any local address); PORT the original destination port; REPLY_SRC the endpoint
// (the reply's source is the address the entry was translated to, in both families).
// One answer per line on stdout, in order: `ok DELETED` or `error MESSAGE`.
//
// Every entry the dump returns is checked here too, so that a kernel that ignores the filter
// still deletes only what was asked; one that refuses it is asked again without.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

// The kernel's CTA_FILTER flags (net/netfilter/nf_conntrack_netlink.c): which fields of a
// tuple the dump compares.
enum {
  FILTER_IP_SRC = 1 << 0,
  FILTER_IP_DST = 1 << 1,
  FILTER_PROTO_NUM = 1 << 3,
  FILTER_PROTO_DST_PORT = 1 << 5,
};

struct request {
  int family; // AF_INET or AF_INET6
  int addr_len;
  uint8_t proto;
  int any_dst; // a node port: any original destination
  unsigned char dst[16];
  uint16_t port; // network order
  unsigned char reply_src[16];
};

/** One entry to delete: its original tuple and zone attributes, as the dump sent them. */
struct victim {
  unsigned char attrs[256];
  size_t len;
};

static struct victim *victims;
static size_t victim_count, victim_room;
static int kernel_filters = 1;

#define PAYLOAD(a) ((const char *)(a) + NLA_HDRLEN)
#define PAYLOAD_LEN(a) ((size_t)(a)->nla_len - NLA_HDRLEN)
#define TYPE(a) ((a)->nla_type & NLA_TYPE_MASK)

/** Each whole attribute in [data, data+len) as `a`. */
#define EACH_ATTRIBUTE(a, data, len)                                                      \
  for (const struct nlattr *a = (const struct nlattr *)(data);                            \
       (const char *)a + NLA_HDRLEN <= (const char *)(data) + (len) && a->nla_len >= NLA_HDRLEN && \
       (const char *)a + a->nla_len <= (const char *)(data) + (len);                      \
       a = (const struct nlattr *)((const char *)a + NLA_ALIGN(a->nla_len)))

/** A message being built: attributes appended, nests opened and closed. */
struct message {
  unsigned char *buf;
  size_t len, room;
};

static void *append(struct message *m, const void *data, size_t len) {
  size_t aligned = NLA_ALIGN(len);
  if (m->len + aligned > m->room) return NULL;
  unsigned char *at = m->buf + m->len;
  memset(at, 0, aligned);
  if (data) memcpy(at, data, len);
  m->len += aligned;
  return at;
}

static int put_attr(struct message *m, int type, const void *data, size_t len) {
  struct nlattr *a = append(m, NULL, NLA_HDRLEN);
  if (!a || !append(m, data, len)) return -1;
  a->nla_type = (uint16_t)type;
  a->nla_len = (uint16_t)(NLA_HDRLEN + len);
  return 0;
}

static size_t open_nest(struct message *m, int type) {
  size_t at = m->len;
  struct nlattr *a = append(m, NULL, NLA_HDRLEN);
  if (!a) return (size_t)-1;
  a->nla_type = (uint16_t)(type | NLA_F_NESTED);
  return at;
}

static void close_nest(struct message *m, size_t at) {
  ((struct nlattr *)(m->buf + at))->nla_len = (uint16_t)(m->len - at);
}

static void start_message(struct message *m, int type, int flags, int family, uint32_t seq) {
  struct nlmsghdr *h = append(m, NULL, NLMSG_HDRLEN);
  h->nlmsg_type = (uint16_t)((NFNL_SUBSYS_CTNETLINK << 8) | type);
  h->nlmsg_flags = (uint16_t)flags;
  h->nlmsg_seq = seq;
  struct nfgenmsg *g = append(m, NULL, sizeof *g);
  g->nfgen_family = (uint8_t)family;
  g->version = NFNETLINK_V0;
}

static void end_message(struct message *m, size_t start) {
  ((struct nlmsghdr *)(m->buf + start))->nlmsg_len = (uint32_t)(m->len - start);
}

/** The tuple's address of type `want` (a CTA_IP_* source or destination) into `out`. */
static int tuple_addr(const struct nlattr *tuple, int want, unsigned char *out, int len) {
  EACH_ATTRIBUTE(part, PAYLOAD(tuple), PAYLOAD_LEN(tuple)) {
    if (TYPE(part) != CTA_TUPLE_IP) continue;
    EACH_ATTRIBUTE(ip, PAYLOAD(part), PAYLOAD_LEN(part)) {
      if (TYPE(ip) == want && PAYLOAD_LEN(ip) == (size_t)len) {
        memcpy(out, PAYLOAD(ip), (size_t)len);
        return 1;
      }
    }
  }
  return 0;
}

/** The tuple's protocol number and destination port (network order). */
static void tuple_proto(const struct nlattr *tuple, uint8_t *proto, uint16_t *dport) {
  EACH_ATTRIBUTE(part, PAYLOAD(tuple), PAYLOAD_LEN(tuple)) {
    if (TYPE(part) != CTA_TUPLE_PROTO) continue;
    EACH_ATTRIBUTE(p, PAYLOAD(part), PAYLOAD_LEN(part)) {
      if (TYPE(p) == CTA_PROTO_NUM) *proto = *(const uint8_t *)PAYLOAD(p);
      if (TYPE(p) == CTA_PROTO_DST_PORT) memcpy(dport, PAYLOAD(p), 2);
    }
  }
}

/** Whether the dumped entry is one the request asks for; if so it is kept to be deleted. */
static void consider(const struct request *r, const struct nlmsghdr *h) {
  const struct nfgenmsg *g = NLMSG_DATA(h);
  if (g->nfgen_family != r->family) return;
  const char *attrs = (const char *)g + NLMSG_ALIGN(sizeof *g);
  size_t len = h->nlmsg_len - NLMSG_LENGTH(sizeof *g);
  const struct nlattr *orig = NULL, *reply = NULL, *zone = NULL;
  EACH_ATTRIBUTE(a, attrs, len) {
    if (TYPE(a) == CTA_TUPLE_ORIG) orig = a;
    if (TYPE(a) == CTA_TUPLE_REPLY) reply = a;
    if (TYPE(a) == CTA_ZONE) zone = a;
  }
  if (!orig || !reply) return;
  int v4 = r->family == AF_INET;
  unsigned char addr[16];
  uint8_t proto = 0;
  uint16_t dport = 0;
  tuple_proto(orig, &proto, &dport);
  if (proto != r->proto || dport != r->port) return;
  if (!r->any_dst && (!tuple_addr(orig, v4 ? CTA_IP_V4_DST : CTA_IP_V6_DST, addr, r->addr_len) ||
                      memcmp(addr, r->dst, (size_t)r->addr_len) != 0))
    return;
  if (!tuple_addr(reply, v4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, addr, r->addr_len) ||
      memcmp(addr, r->reply_src, (size_t)r->addr_len) != 0)
    return;
  size_t need = NLA_ALIGN(orig->nla_len) + (zone ? NLA_ALIGN(zone->nla_len) : 0);
  if (need > sizeof victims[0].attrs) return;
  if (victim_count == victim_room) {
    victim_room = victim_room ? victim_room * 2 : 64;
    victims = realloc(victims, victim_room * sizeof *victims);
    if (!victims) exit(1);
  }
  struct victim *v = &victims[victim_count++];
  memcpy(v->attrs, orig, orig->nla_len);
  v->len = NLA_ALIGN(orig->nla_len);
  if (zone) {
    memcpy(v->attrs + v->len, zone, zone->nla_len);
    v->len += NLA_ALIGN(zone->nla_len);
  }
}

static unsigned char rbuf[1 << 17];

/*
 * Receives one batch from the kernel and hands it to `handle` a message at a time. The handler
 * returns 0 to go on, 1 when the reply it waits for is complete, or -errno; so does this, with
 * 0 once the batch is used up.
 */
typedef int (*message_handler)(const struct nlmsghdr *h, void *ctx);
static int recv_batch(int fd, message_handler handle, void *ctx) {
  ssize_t n;
  do n = recv(fd, rbuf, sizeof rbuf, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  for (const struct nlmsghdr *h = (const struct nlmsghdr *)rbuf; NLMSG_OK(h, (size_t)n);
       h = NLMSG_NEXT(h, n)) {
    int rc = handle(h, ctx);
    if (rc) return rc;
  }
  return 0;
}

struct dump_reply {
  const struct request *r;
  uint32_t seq;
};

/** A dump's reply: entries, then DONE (or an error). */
static int on_dump_message(const struct nlmsghdr *h, void *ctx) {
  const struct dump_reply *d = ctx;
  if (h->nlmsg_seq != d->seq) return 0;
  if (h->nlmsg_type == NLMSG_DONE) return 1;
  if (h->nlmsg_type == NLMSG_ERROR) {
    int error = ((const struct nlmsgerr *)NLMSG_DATA(h))->error;
    return error ? error : 1;
  }
  if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct nfgenmsg))) consider(d->r, h);
  return 0;
}

struct delete_acks {
  uint32_t first, end; /* the sequence numbers sent: [first, end) */
  size_t sent, acked;
  long deleted;
};

/** One ack per delete request sent. */
static int on_delete_ack(const struct nlmsghdr *h, void *ctx) {
  struct delete_acks *a = ctx;
  if (h->nlmsg_type != NLMSG_ERROR || h->nlmsg_seq < a->first || h->nlmsg_seq >= a->end) return 0;
  a->acked++;
  int error = ((const struct nlmsgerr *)NLMSG_DATA(h))->error;
  // Gone already (timed out, or deleted by another) is what was wanted.
  if (error == 0) a->deleted++;
  else if (error != -ENOENT) return error;
  return a->acked == a->sent;
}

/** Sends the dump request for `r` and collects its matching entries; 0 or -errno. */
static int dump(int fd, const struct request *r, uint32_t seq) {
  unsigned char buf[512];
  struct message m = {buf, 0, sizeof buf};
  start_message(&m, IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, r->family, seq);
  if (kernel_filters && r->family == AF_INET) {
    size_t orig = open_nest(&m, CTA_TUPLE_ORIG);
    size_t ip = open_nest(&m, CTA_TUPLE_IP);
    if (!r->any_dst) put_attr(&m, CTA_IP_V4_DST, r->dst, (size_t)r->addr_len);
    close_nest(&m, ip);
    size_t proto = open_nest(&m, CTA_TUPLE_PROTO);
    put_attr(&m, CTA_PROTO_NUM, &r->proto, 1);
    put_attr(&m, CTA_PROTO_DST_PORT, &r->port, 2);
    close_nest(&m, proto);
    close_nest(&m, orig);
    size_t reply = open_nest(&m, CTA_TUPLE_REPLY);
    ip = open_nest(&m, CTA_TUPLE_IP);
    put_attr(&m, CTA_IP_V4_SRC, r->reply_src, (size_t)r->addr_len);
    close_nest(&m, ip);
    close_nest(&m, reply);
    size_t filter = open_nest(&m, CTA_FILTER);
    uint32_t orig_flags = FILTER_PROTO_NUM | FILTER_PROTO_DST_PORT | (r->any_dst ? 0 : FILTER_IP_DST);
    uint32_t reply_flags = FILTER_IP_SRC;
    put_attr(&m, CTA_FILTER_ORIG_FLAGS, &orig_flags, 4);
    put_attr(&m, CTA_FILTER_REPLY_FLAGS, &reply_flags, 4);
    close_nest(&m, filter);
  }
  end_message(&m, 0);
  if (send(fd, m.buf, m.len, 0) < 0) return -errno;
  struct dump_reply reply = {r, seq};
  int rc;
  while ((rc = recv_batch(fd, on_dump_message, &reply)) == 0) {
  }
  return rc < 0 ? rc : 0;
}

/** Deletes the collected entries, many requests to a send; the number deleted, or -errno. */
static long delete_victims(int fd, int family, uint32_t *seq) {
  static unsigned char buf[1 << 15];
  long deleted = 0;
  size_t next = 0;
  while (next < victim_count) {
    struct message m = {buf, 0, sizeof buf};
    uint32_t first = *seq;
    size_t sent = 0;
    while (next < victim_count &&
           m.len + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg)) + victims[next].len <= m.room) {
      size_t start = m.len;
      start_message(&m, IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST | NLM_F_ACK, family, (*seq)++);
      append(&m, victims[next].attrs, victims[next].len);
      end_message(&m, start);
      next++;
      sent++;
    }
    if (send(fd, m.buf, m.len, 0) < 0) return -errno;
    struct delete_acks acks = {first, *seq, sent, 0, 0};
    while (acks.acked < sent) {
      int rc = recv_batch(fd, on_delete_ack, &acks);
      if (rc < 0) return rc;
    }
    deleted += acks.deleted;
  }
  return deleted;
}

static int parse_request(char *line, struct request *r) {
  char *fields[6];
  int n = 0;
  for (char *save = NULL, *f = strtok_r(line, " \t\n", &save); f && n < 6;
       f = strtok_r(NULL, " \t\n", &save))
    fields[n++] = f;
  if (n != 5) return -1;
  memset(r, 0, sizeof *r);
  r->family = strcmp(fields[0], "6") == 0 ? AF_INET6 : strcmp(fields[0], "4") == 0 ? AF_INET : -1;
  if (r->family < 0) return -1;
  r->addr_len = r->family == AF_INET ? 4 : 16;
  int proto = atoi(fields[1]);
  long port = atol(fields[3]);
  if (proto <= 0 || proto > 255 || port <= 0 || port > 65535) return -1;
  r->proto = (uint8_t)proto;
  r->port = htons((uint16_t)port);
  r->any_dst = strcmp(fields[2], "-") == 0;
  if (!r->any_dst && inet_pton(r->family, fields[2], r->dst) != 1) return -1;
  if (inet_pton(r->family, fields[4], r->reply_src) != 1) return -1;
  return 0;
}

int main(void) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  struct sockaddr_nl local = {.nl_family = AF_NETLINK};
  if (fd < 0 || bind(fd, (struct sockaddr *)&local, sizeof local) < 0) {
    fprintf(stderr, "podnet-conntrack-clean: opening ctnetlink: %s\n", strerror(errno));
    return 1;
  }
  // Acks without a copy of each request: a batch's acks then fit the socket's buffer.
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  int rcvbuf = 4 * 1024 * 1024;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  setvbuf(stdout, NULL, _IOLBF, 0);
  uint32_t seq = 1;
  char *line = NULL;
  size_t room = 0;
  while (getline(&line, &room, stdin) > 0) {
    struct request r;
    if (parse_request(line, &r) < 0) {
      printf("error cannot read the request (want: FAMILY PROTO ORIG_DST|- PORT REPLY_SRC)\n");
      continue;
    }
    victim_count = 0;
    int err = dump(fd, &r, seq++);
    if ((err == -EINVAL || err == -EOPNOTSUPP) && kernel_filters && r.family == AF_INET) {
      // A kernel before 5.8 knows no dump filter: the whole table is read and checked here.
      fprintf(stderr, "podnet-conntrack-clean: the kernel refused a filtered dump (%s); reading "
                      "whole tables from now on\n", strerror(-err));
      kernel_filters = 0;
      victim_count = 0;
      err = dump(fd, &r, seq++);
    }
    if (err < 0) {
      printf("error reading conntrack: %s\n", strerror(-err));
      continue;
    }
    long deleted = delete_victims(fd, r.family, &seq);
    if (deleted < 0) printf("error deleting conntrack entries: %s\n", strerror((int)-deleted));
    else printf("ok %ld\n", deleted);
  }
  return 0;
}

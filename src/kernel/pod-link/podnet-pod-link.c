// podnet-pod-link: configures the pod end of a routed pod's veth inside the pod's network
// namespace, for the node agent, which keeps one running: a pod's ADD then costs no process
// start on the pod side. Runtimes such as containerd create namespaces as files
// (/var/run/netns/cni-...) that `ip -n` cannot name, so this enters them itself.
//
// One request per line on stdin:   NETNS_PATH IFNAME POD_IPV4 GATEWAY_IPV4
//                               or ipv6 NETNS_PATH IFNAME POD_IPV6 GATEWAY_IPV6 GATEWAY_MAC
// one answer per line on stdout:   ok | error <message>
//
// For each request, in the pod's namespace and stopping at the first failure: the link up,
// POD_IPV4/32 on it, a link route to the gateway, and the default route via the gateway --
// what `ip -batch` did there before. An ipv6 request comes after its pod's IPv4 one (the link
// is up then) and adds POD_IPV6/128 without duplicate address detection, a permanent neighbour
// for the link-local gateway on the host end and the default route via it: the pod's first
// IPv6 packet leaves at once, with no address still tentative and no neighbour to solicit.
// The netlink socket is opened inside the pod's namespace
// and the process returns to its own namespace at once, so nothing else runs in the pod's.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct request {
  struct nlmsghdr header;
  union {
    struct ifinfomsg link;
    struct ifaddrmsg addr;
    struct rtmsg route;
    struct ndmsg neighbour;
  } body;
  char attributes[256];
};

static char failure[512];

static int fail(const char *step, int err) {
  snprintf(failure, sizeof failure, "%s: %s", step, strerror(err));
  return -1;
}

static void add_attribute(struct request *r, unsigned short type, const void *data, size_t len) {
  struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->header.nlmsg_len));
  a->rta_type = type;
  a->rta_len = RTA_LENGTH(len);
  memcpy(RTA_DATA(a), data, len);
  r->header.nlmsg_len = NLMSG_ALIGN(r->header.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

static void start(struct request *r, unsigned short type, unsigned short flags, size_t body) {
  memset(r, 0, sizeof *r);
  r->header.nlmsg_len = NLMSG_LENGTH(body);
  r->header.nlmsg_type = type;
  r->header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
}

/* Sends one request and waits for its acknowledgement; returns 0 or a negative errno. */
static int talk(int sock, struct request *r, int *ifindex) {
  static unsigned int seq;
  r->header.nlmsg_seq = ++seq;
  if (send(sock, r, r->header.nlmsg_len, 0) < 0) return -errno;
  char buf[32768];
  for (;;) {
    ssize_t n = recv(sock, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
         h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != seq) continue;
      if (h->nlmsg_type == RTM_NEWLINK && ifindex) {
        *ifindex = ((struct ifinfomsg *)NLMSG_DATA(h))->ifi_index;
        continue;
      }
      if (h->nlmsg_type == NLMSG_ERROR) return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
    }
  }
}

static int open_in_namespace(const char *netns, int home) {
  int target = open(netns, O_RDONLY | O_CLOEXEC);
  if (target < 0) return fail("open namespace", errno);
  if (setns(target, CLONE_NEWNET) < 0) {
    int err = errno;
    close(target);
    return fail("enter namespace", err);
  }
  close(target);
  int sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  int err = errno;
  // Back home before anything else: a process stuck in a pod's namespace must not go on.
  if (setns(home, CLONE_NEWNET) < 0) {
    perror("podnet-pod-link: return to own namespace");
    exit(1);
  }
  if (sock < 0) return fail("netlink socket", err);
  return sock;
}

static int link_index(int sock, const char *ifname) {
  struct request r;
  int ifindex = 0;
  start(&r, RTM_GETLINK, 0, sizeof r.body.link);
  r.body.link.ifi_family = AF_UNSPEC;
  add_attribute(&r, IFLA_IFNAME, ifname, strlen(ifname) + 1);
  int err = talk(sock, &r, &ifindex);
  if (err < 0 || ifindex == 0) {
    snprintf(failure, sizeof failure, "link %s: %s", ifname,
             err < 0 ? strerror(-err) : "not found");
    return -1;
  }
  return ifindex;
}

/* The pod's own address (a host prefix) on the link; returns 0 or a negative errno. */
static int add_address(int sock, int ifindex, int family, const void *addr, size_t len,
                       unsigned char prefixlen, unsigned char flags) {
  struct request r;
  start(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof r.body.addr);
  r.body.addr.ifa_family = family;
  r.body.addr.ifa_prefixlen = prefixlen;
  r.body.addr.ifa_flags = flags;
  r.body.addr.ifa_scope = RT_SCOPE_UNIVERSE;
  r.body.addr.ifa_index = ifindex;
  add_attribute(&r, IFA_LOCAL, addr, len);
  add_attribute(&r, IFA_ADDRESS, addr, len);
  return talk(sock, &r, NULL);
}

/*
 * A route as `ip route add` makes it (main table, protocol boot): to `dst` on the link when
 * there is no gateway, else via `gateway`. Returns 0 or a negative errno.
 */
static int add_route(int sock, int ifindex, int family, const void *dst, unsigned char dst_len,
                     const void *gateway, size_t len) {
  struct request r;
  start(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof r.body.route);
  r.body.route.rtm_family = family;
  r.body.route.rtm_dst_len = dst_len;
  r.body.route.rtm_table = RT_TABLE_MAIN;
  r.body.route.rtm_protocol = RTPROT_BOOT;
  r.body.route.rtm_scope = gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  r.body.route.rtm_type = RTN_UNICAST;
  if (dst) add_attribute(&r, RTA_DST, dst, len);
  if (gateway) add_attribute(&r, RTA_GATEWAY, gateway, len);
  add_attribute(&r, RTA_OIF, &ifindex, sizeof ifindex);
  return talk(sock, &r, NULL);
}

static int configure(int sock, const char *ifname, struct in_addr pod, struct in_addr gateway) {
  struct request r;
  int err, ifindex = link_index(sock, ifname);
  if (ifindex < 0) return -1;

  start(&r, RTM_NEWLINK, 0, sizeof r.body.link);
  r.body.link.ifi_family = AF_UNSPEC;
  r.body.link.ifi_index = ifindex;
  r.body.link.ifi_flags = IFF_UP;
  r.body.link.ifi_change = IFF_UP;
  if ((err = talk(sock, &r, NULL)) < 0) return fail("link set up", -err);

  if ((err = add_address(sock, ifindex, AF_INET, &pod, sizeof pod, 32, 0)) < 0)
    return fail("addr add", -err);
  if ((err = add_route(sock, ifindex, AF_INET, &gateway, 32, NULL, sizeof gateway)) < 0)
    return fail("route add gateway", -err);
  if ((err = add_route(sock, ifindex, AF_INET, NULL, 0, &gateway, sizeof gateway)) < 0)
    return fail("route add default", -err);
  return 0;
}

static int configure_ipv6(int sock, const char *ifname, struct in6_addr pod,
                          struct in6_addr gateway, const unsigned char mac[6]) {
  struct request r;
  int err, ifindex = link_index(sock, ifname);
  if (ifindex < 0) return -1;

  if ((err = add_address(sock, ifindex, AF_INET6, &pod, sizeof pod, 128, IFA_F_NODAD)) < 0)
    return fail("addr add ipv6", -err);

  start(&r, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, sizeof r.body.neighbour);
  r.body.neighbour.ndm_family = AF_INET6;
  r.body.neighbour.ndm_ifindex = ifindex;
  r.body.neighbour.ndm_state = NUD_PERMANENT;
  add_attribute(&r, NDA_DST, &gateway, sizeof gateway);
  add_attribute(&r, NDA_LLADDR, mac, 6);
  if ((err = talk(sock, &r, NULL)) < 0) return fail("neigh add gateway", -err);

  if ((err = add_route(sock, ifindex, AF_INET6, NULL, 0, &gateway, sizeof gateway)) < 0)
    return fail("route add ipv6 default", -err);
  return 0;
}

static int serve_ipv6(const char *line, int home) {
  char netns[4096], ifname[IFNAMSIZ + 1], pod_text[64], gateway_text[64];
  unsigned int m[6];
  unsigned char mac[6];
  struct in6_addr pod, gateway;
  if (sscanf(line, "ipv6 %4095s %16s %63s %63s %2x:%2x:%2x:%2x:%2x:%2x", netns, ifname, pod_text,
             gateway_text, &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 10 ||
      strlen(ifname) >= IFNAMSIZ || inet_pton(AF_INET6, pod_text, &pod) != 1 ||
      inet_pton(AF_INET6, gateway_text, &gateway) != 1) {
    snprintf(failure, sizeof failure,
             "bad request (want ipv6 NETNS IFNAME POD_IPV6 GATEWAY_IPV6 GATEWAY_MAC)");
    return -1;
  }
  for (int i = 0; i < 6; i++) mac[i] = (unsigned char)m[i];
  int sock = open_in_namespace(netns, home);
  if (sock < 0) return -1;
  int result = configure_ipv6(sock, ifname, pod, gateway, mac);
  close(sock);
  return result;
}

static int serve(const char *line, int home) {
  if (strncmp(line, "ipv6 ", 5) == 0) return serve_ipv6(line, home);
  char netns[4096], ifname[IFNAMSIZ + 1], pod_text[64], gateway_text[64];
  struct in_addr pod, gateway;
  if (sscanf(line, "%4095s %16s %63s %63s", netns, ifname, pod_text, gateway_text) != 4 ||
      strlen(ifname) >= IFNAMSIZ || inet_pton(AF_INET, pod_text, &pod) != 1 ||
      inet_pton(AF_INET, gateway_text, &gateway) != 1) {
    snprintf(failure, sizeof failure, "bad request (want NETNS IFNAME POD_IPV4 GATEWAY_IPV4)");
    return -1;
  }
  int sock = open_in_namespace(netns, home);
  if (sock < 0) return -1;
  int result = configure(sock, ifname, pod, gateway);
  close(sock);
  return result;
}

int main(void) {
  int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) {
    perror("podnet-pod-link: /proc/self/ns/net");
    return 1;
  }
  char *line = NULL;
  size_t size = 0;
  while (getline(&line, &size, stdin) >= 0) {
    if (serve(line, home) == 0) printf("ok\n");
    else printf("error %s\n", failure);
    fflush(stdout);
  }
  free(line);
  return 0;
}

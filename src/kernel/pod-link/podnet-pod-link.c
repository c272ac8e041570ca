// podnet-pod-link: wires a routed pod's veth, both ends, for the node agent, which keeps one
// running. A pod's ADD then costs one request to a process that is already up: no process
// start, and no wait on one process before asking the next. Runtimes such as containerd
// create namespaces as files (/var/run/netns/cni-...) that `ip -n` cannot name, so this opens
// them itself.
//
// One request per line on stdin:
//   NETNS_PATH IFNAME MTU HOST_VETH HOST_MAC POD_MAC POD_IPV4 GATEWAY_IPV4 [POD_IPV6 GATEWAY_IPV6]
// where POD_IPV4 and GATEWAY_IPV4 are both `-` for a pod of an IPv6-only cluster (which then
// needs the IPv6 pair);
// one answer per line on stdout: ok | exists <message> | error <message>.
// Also `gro DEV...`, answered `ok STATE...`: each device's GRO as on, off, or - (no such
// device), read in one request where ethtool would take a process per device.
//
// For each request, over netlink and stopping at the first failure:
// - the pair: HOST_VETH in this namespace, its peer IFNAME made straight in the pod's
//   namespace (it never appears in this one, so no other pod's ADD can trip over it), both
//   with the MTU and their MAC;
// - the host end: on a pod with IPv6, no Router Advertisements taken from the pod (a pod must
//   not become the host's router), set before the end comes up; GRO on (the agent's offloads,
//   here so that a new pod costs the agent no ethtool run); up; GATEWAY_IPV4/32; the route
//   to POD_IPV4/32, marked proto 80. IPv6: GATEWAY_IPV6/64 without duplicate address detection
//   (a tentative address would not answer for a second or more), the route to POD_IPV6/128
//   (proto 80), and a permanent neighbour for the pod, whose MAC is known: the first packet to
//   a new pod needs no solicitation;
// - the pod end: up, POD_IPV4/32, a link route to the gateway and the default route via it (a /32
//   has no subnet route to delete, unlike ptp's). IPv6: POD_IPV6/128 without duplicate address
//   detection, a permanent neighbour for the gateway at HOST_MAC and the default route via it:
//   the pod's first IPv6 packet leaves at once.
// A failure once the pair exists deletes its host end, which takes the peer and every route
// with it: nothing half made is left. `exists` means IFNAME is already in the pod's namespace
// (the CNI spec's "interface exists"); nothing was made then.
//
// The pod's namespace is entered only to open a netlink socket there; the process returns to
// its own at once, so nothing else ever runs in a pod's namespace.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/** podnet's mark on every route it installs (CONVENTIONS.md). */
#define PODNET_ROUTE_PROTO 80

struct request {
  struct nlmsghdr header;
  union {
    struct ifinfomsg link;
    struct ifaddrmsg addr;
    struct rtmsg route;
    struct ndmsg neighbour;
  } body;
  char attributes[512];
};

/** What one request asks for, parsed. */
struct veth {
  char netns[4096];
  char ifname[IFNAMSIZ + 1];
  char host_veth[IFNAMSIZ + 1];
  unsigned int mtu;
  unsigned char host_mac[6];
  unsigned char pod_mac[6];
  int ipv4;
  struct in_addr pod, gateway;
  int ipv6;
  struct in6_addr pod6, gateway6;
};

static char failure[4608];
/** This process's own network namespace, and a netlink socket in it: the host's side. */
static int home;
static int host_sock;

static int fail(const char *step, int err) {
  snprintf(failure, sizeof failure, "%s: %s", step, strerror(err));
  return -1;
}

static struct rtattr *add_attribute(struct request *r, unsigned short type, const void *data,
                                    size_t len) {
  struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->header.nlmsg_len));
  a->rta_type = type;
  a->rta_len = RTA_LENGTH(len);
  if (len) memcpy(RTA_DATA(a), data, len);
  r->header.nlmsg_len = NLMSG_ALIGN(r->header.nlmsg_len) + RTA_ALIGN(a->rta_len);
  return a;
}

/** Closes a nested attribute opened with add_attribute(r, type, NULL, 0): it holds all since. */
static void end_nest(struct request *r, struct rtattr *nest) {
  nest->rta_len = (unsigned short)((char *)r + r->header.nlmsg_len - (char *)nest);
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

static int netlink_socket(void) {
  return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
}

/** A netlink socket in the namespace `target`; the process itself stays in its own. */
static int socket_in_namespace(int target) {
  if (setns(target, CLONE_NEWNET) < 0) return fail("enter namespace", errno);
  int sock = netlink_socket();
  int err = errno;
  // Back home before anything else: a process stuck in a pod's namespace must not go on.
  if (setns(home, CLONE_NEWNET) < 0) {
    perror("podnet-pod-link: return to own namespace");
    exit(1);
  }
  if (sock < 0) return fail("netlink socket", err);
  return sock;
}

/** The link's index, or 0 when there is no such link (-1 on another failure). */
static int link_index(int sock, const char *ifname) {
  struct request r;
  int ifindex = 0;
  start(&r, RTM_GETLINK, 0, sizeof r.body.link);
  r.body.link.ifi_family = AF_UNSPEC;
  add_attribute(&r, IFLA_IFNAME, ifname, strlen(ifname) + 1);
  int err = talk(sock, &r, &ifindex);
  if (err == -ENODEV) return 0;
  if (err < 0) {
    snprintf(failure, sizeof failure, "link %s: %s", ifname, strerror(-err));
    return -1;
  }
  return ifindex;
}

/**
 * The pair, HOST_VETH here and IFNAME in the pod's namespace `pod_netns`, each with the MTU
 * and its MAC, both down: an end cannot come up before the kernel has paired it (ENOTCONN).
 * Returns 0 or a negative errno.
 */
static int create_pair(const struct veth *v, int pod_netns) {
  struct request r;
  start(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof r.body.link);
  r.body.link.ifi_family = AF_UNSPEC;
  add_attribute(&r, IFLA_IFNAME, v->host_veth, strlen(v->host_veth) + 1);
  add_attribute(&r, IFLA_MTU, &v->mtu, sizeof v->mtu);
  add_attribute(&r, IFLA_ADDRESS, v->host_mac, sizeof v->host_mac);
  struct rtattr *info = add_attribute(&r, IFLA_LINKINFO, NULL, 0);
  add_attribute(&r, IFLA_INFO_KIND, "veth", strlen("veth"));
  struct rtattr *data = add_attribute(&r, IFLA_INFO_DATA, NULL, 0);
  struct rtattr *peer = add_attribute(&r, VETH_INFO_PEER, NULL, 0);
  // The peer's attributes follow an ifinfomsg of its own.
  struct ifinfomsg *peer_link = (struct ifinfomsg *)((char *)&r + r.header.nlmsg_len);
  memset(peer_link, 0, sizeof *peer_link);
  peer_link->ifi_family = AF_UNSPEC;
  r.header.nlmsg_len += NLMSG_ALIGN(sizeof *peer_link);
  add_attribute(&r, IFLA_IFNAME, v->ifname, strlen(v->ifname) + 1);
  add_attribute(&r, IFLA_MTU, &v->mtu, sizeof v->mtu);
  add_attribute(&r, IFLA_ADDRESS, v->pod_mac, sizeof v->pod_mac);
  unsigned int fd = (unsigned int)pod_netns;
  add_attribute(&r, IFLA_NET_NS_FD, &fd, sizeof fd);
  end_nest(&r, peer);
  end_nest(&r, data);
  end_nest(&r, info);
  return talk(host_sock, &r, NULL);
}

static int delete_link(int ifindex) {
  struct request r;
  start(&r, RTM_DELLINK, 0, sizeof r.body.link);
  r.body.link.ifi_family = AF_UNSPEC;
  r.body.link.ifi_index = ifindex;
  return talk(host_sock, &r, NULL);
}

static int set_up(int sock, int ifindex) {
  struct request r;
  start(&r, RTM_NEWLINK, 0, sizeof r.body.link);
  r.body.link.ifi_family = AF_UNSPEC;
  r.body.link.ifi_index = ifindex;
  r.body.link.ifi_flags = IFF_UP;
  r.body.link.ifi_change = IFF_UP;
  return talk(sock, &r, NULL);
}

/** An address on the link, as `ip addr add` makes it; returns 0 or a negative errno. */
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
 * A route as `ip route add` makes it (main table) with protocol `protocol`: to `dst` on the
 * link when there is no gateway, else via `gateway`. Returns 0 or a negative errno.
 */
static int add_route(int sock, int ifindex, int family, const void *dst, unsigned char dst_len,
                     const void *gateway, size_t len, unsigned char protocol) {
  struct request r;
  start(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof r.body.route);
  r.body.route.rtm_family = family;
  r.body.route.rtm_dst_len = dst_len;
  r.body.route.rtm_table = RT_TABLE_MAIN;
  r.body.route.rtm_protocol = protocol;
  r.body.route.rtm_scope = gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  r.body.route.rtm_type = RTN_UNICAST;
  if (dst) add_attribute(&r, RTA_DST, dst, len);
  if (gateway) add_attribute(&r, RTA_GATEWAY, gateway, len);
  add_attribute(&r, RTA_OIF, &ifindex, sizeof ifindex);
  return talk(sock, &r, NULL);
}

/** A permanent IPv6 neighbour, as `ip neigh replace ... nud permanent`. */
static int add_neighbour(int sock, int ifindex, const struct in6_addr *addr,
                         const unsigned char mac[6]) {
  struct request r;
  start(&r, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, sizeof r.body.neighbour);
  r.body.neighbour.ndm_family = AF_INET6;
  r.body.neighbour.ndm_ifindex = ifindex;
  r.body.neighbour.ndm_state = NUD_PERMANENT;
  add_attribute(&r, NDA_DST, addr, sizeof *addr);
  add_attribute(&r, NDA_LLADDR, mac, 6);
  return talk(sock, &r, NULL);
}

static int refuse_router_advertisements(const char *ifname) {
  char path[128];
  snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/accept_ra", ifname);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  int err = write(fd, "0", 1) == 1 ? 0 : -errno;
  close(fd);
  return err;
}

/*
 * GRO on the host end, off being a veth's default: it then coalesces what the pod sends before
 * the host forwards it. Set while the end is down, so it comes up with its NAPI running. A
 * driver that refuses costs speed, never reachability: not the ADD's failure (the agent's
 * offloads check names it).
 */
static void enable_gro(const char *ifname) {
  struct ethtool_value value = {.cmd = ETHTOOL_SGRO, .data = 1};
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, ifname, strlen(ifname) + 1);
  ifr.ifr_data = (char *)&value;
  // Any socket of the host's namespace carries a device ioctl; this one is at hand.
  (void)ioctl(host_sock, SIOCETHTOOL, &ifr);
}

static int configure_host_end(const struct veth *v, int ifindex) {
  int err;
  if (v->ipv6 && (err = refuse_router_advertisements(v->host_veth)) < 0)
    return fail("host accept_ra", -err);
  enable_gro(v->host_veth);
  if ((err = set_up(host_sock, ifindex)) < 0) return fail("host link set up", -err);
  if (v->ipv4 &&
      (err = add_address(host_sock, ifindex, AF_INET, &v->gateway, sizeof v->gateway, 32, 0)) < 0)
    return fail("host addr add", -err);
  if (v->ipv4 && (err = add_route(host_sock, ifindex, AF_INET, &v->pod, 32, NULL, sizeof v->pod,
                                  PODNET_ROUTE_PROTO)) < 0)
    return fail("host route add", -err);
  if (!v->ipv6) return 0;
  if ((err = add_address(host_sock, ifindex, AF_INET6, &v->gateway6, sizeof v->gateway6, 64,
                         IFA_F_NODAD)) < 0)
    return fail("host addr add ipv6", -err);
  if ((err = add_route(host_sock, ifindex, AF_INET6, &v->pod6, 128, NULL, sizeof v->pod6,
                       PODNET_ROUTE_PROTO)) < 0)
    return fail("host route add ipv6", -err);
  if ((err = add_neighbour(host_sock, ifindex, &v->pod6, v->pod_mac)) < 0)
    return fail("host neigh add pod", -err);
  return 0;
}

static int configure_pod_ipv4(const struct veth *v, int sock, int ifindex) {
  int err;
  if ((err = add_address(sock, ifindex, AF_INET, &v->pod, sizeof v->pod, 32, 0)) < 0)
    return fail("addr add", -err);
  if ((err = add_route(sock, ifindex, AF_INET, &v->gateway, 32, NULL, sizeof v->gateway,
                       RTPROT_BOOT)) < 0)
    return fail("route add gateway", -err);
  if ((err = add_route(sock, ifindex, AF_INET, NULL, 0, &v->gateway, sizeof v->gateway,
                       RTPROT_BOOT)) < 0)
    return fail("route add default", -err);
  return 0;
}

static int configure_pod_end(const struct veth *v, int sock) {
  int err, ifindex = link_index(sock, v->ifname);
  if (ifindex < 0) return -1;
  if (ifindex == 0) return fail(v->ifname, ENODEV);
  if ((err = set_up(sock, ifindex)) < 0) return fail("link set up", -err);
  if (v->ipv4 && (err = configure_pod_ipv4(v, sock, ifindex)) < 0) return err;
  if (!v->ipv6) return 0;
  if ((err = add_address(sock, ifindex, AF_INET6, &v->pod6, sizeof v->pod6, 128, IFA_F_NODAD)) <
      0)
    return fail("addr add ipv6", -err);
  if ((err = add_neighbour(sock, ifindex, &v->gateway6, v->host_mac)) < 0)
    return fail("neigh add gateway", -err);
  if ((err = add_route(sock, ifindex, AF_INET6, NULL, 0, &v->gateway6, sizeof v->gateway6,
                       RTPROT_BOOT)) < 0)
    return fail("route add ipv6 default", -err);
  return 0;
}

/** 0 when made, 1 when IFNAME already exists in the pod, -1 on any other failure. */
static int wire(const struct veth *v, int pod_netns, int pod_sock) {
  int err = create_pair(v, pod_netns);
  if (err == -EEXIST && link_index(pod_sock, v->ifname) > 0) {
    snprintf(failure, sizeof failure, "interface %s already exists in %s", v->ifname, v->netns);
    return 1;
  }
  // The pair was not made, so whatever exists belongs to someone else and stays.
  if (err < 0) return fail("link add", -err);
  int host_index = link_index(host_sock, v->host_veth);
  if (host_index <= 0) {
    if (host_index == 0) fail(v->host_veth, ENODEV);
    return -1;
  }
  if (configure_host_end(v, host_index) == 0 && configure_pod_end(v, pod_sock) == 0) return 0;
  // The host end takes its peer and both ends' addresses and routes with it.
  if ((err = delete_link(host_index)) < 0 && err != -ENODEV) {
    size_t used = strlen(failure);
    snprintf(failure + used, sizeof failure - used, "; and could not remove %s: %s",
             v->host_veth, strerror(-err));
  }
  return -1;
}

static int parse_mac(const char *text, unsigned char mac[6]) {
  unsigned int m[6];
  char end;
  if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5],
             &end) != 6)
    return -1;
  for (int i = 0; i < 6; i++) mac[i] = (unsigned char)m[i];
  return 0;
}

static int parse(const char *line, struct veth *v) {
  char host_mac[32], pod_mac[32], pod[64], gateway[64], pod6[64], gateway6[64];
  int fields = sscanf(line, "%4095s %16s %u %16s %31s %31s %63s %63s %63s %63s", v->netns,
                      v->ifname, &v->mtu, v->host_veth, host_mac, pod_mac, pod, gateway, pod6,
                      gateway6);
  v->ipv6 = fields == 10;
  v->ipv4 = fields >= 8 && !(strcmp(pod, "-") == 0 && strcmp(gateway, "-") == 0);
  if ((fields != 8 && fields != 10) || (!v->ipv4 && !v->ipv6) || strlen(v->ifname) >= IFNAMSIZ ||
      strlen(v->host_veth) >= IFNAMSIZ || parse_mac(host_mac, v->host_mac) < 0 ||
      parse_mac(pod_mac, v->pod_mac) < 0 ||
      (v->ipv4 && (inet_pton(AF_INET, pod, &v->pod) != 1 ||
                   inet_pton(AF_INET, gateway, &v->gateway) != 1)) ||
      (v->ipv6 && (inet_pton(AF_INET6, pod6, &v->pod6) != 1 ||
                   inet_pton(AF_INET6, gateway6, &v->gateway6) != 1))) {
    snprintf(failure, sizeof failure,
             "bad request (want NETNS IFNAME MTU HOST_VETH HOST_MAC POD_MAC POD_IPV4|- "
             "GATEWAY_IPV4|- [POD_IPV6 GATEWAY_IPV6])");
    return -1;
  }
  return 0;
}

static void report_gro(char *devs) {
  printf("ok");
  for (char *dev = strtok(devs, " \t\n"); dev; dev = strtok(NULL, " \t\n")) {
    struct ethtool_value value = {.cmd = ETHTOOL_GGRO};
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    size_t len = strlen(dev);
    int read = len < IFNAMSIZ;
    if (read) {
      memcpy(ifr.ifr_name, dev, len + 1);
      ifr.ifr_data = (char *)&value;
      read = ioctl(host_sock, SIOCETHTOOL, &ifr) == 0;
    }
    printf(!read ? " -" : value.data ? " on" : " off");
  }
  printf("\n");
}

/** 0 when wired, 1 when IFNAME already exists in the pod, -1 on any other failure. */
static int serve(const char *line) {
  struct veth v;
  if (parse(line, &v) < 0) return -1;
  int pod_netns = open(v.netns, O_RDONLY | O_CLOEXEC);
  if (pod_netns < 0) return fail("open namespace", errno);
  int result = -1;
  int pod_sock = socket_in_namespace(pod_netns);
  if (pod_sock >= 0) {
    result = wire(&v, pod_netns, pod_sock);
    close(pod_sock);
  }
  close(pod_netns);
  return result;
}

int main(void) {
  home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) {
    perror("podnet-pod-link: /proc/self/ns/net");
    return 1;
  }
  host_sock = netlink_socket();
  if (host_sock < 0) {
    perror("podnet-pod-link: netlink socket");
    return 1;
  }
  char *line = NULL;
  size_t size = 0;
  while (getline(&line, &size, stdin) >= 0) {
    if (strncmp(line, "gro ", 4) == 0) {
      report_gro(line + 4);
    } else {
      int result = serve(line);
      if (result == 0) printf("ok\n");
      else printf("%s %s\n", result > 0 ? "exists" : "error", failure);
    }
    fflush(stdout);
  }
  free(line);
  return 0;
}

/*
 * podnet-bgp-md5: the kernel's side of BGP sessions signed with TCP-MD5 (RFC 2385).
 *
 * Node.js has no way to set TCP_MD5SIG on a socket, so this small program owns the TCP sockets
 * and relays their bytes to the speaker over unix sockets; every BGP decision stays in the
 * speaker (src/bgp/), which starts this through src/kernel/tcp-md5.ts.
 *
 * Peers and the listen address are IPv4 or IPv6 (BGP over an IPv6-only fabric): the kernel takes
 * an IPv6 peer's key as a sockaddr_in6, and on an IPv6 socket an IPv4 peer's as its v4-mapped
 * address, which is how a connection from it to "::" shows.
 *
 *   - It listens on ADDR:PORT with each keyed peer's key set on the listening socket: the
 *     kernel then drops that peer's segments unless they carry the right signature, so a peer
 *     with a wrong key never completes a handshake. Peers without a key connect as usual. Each
 *     accepted connection is handed to the speaker's socket, announced by one line "PEER\n".
 *   - On its control socket the speaker asks for an outgoing connection with one line
 *     "PEER PORT LOCAL\n" (LOCAL "-" for any source); the connection is made with the peer's
 *     key set, then relayed. If it fails, the control connection is closed.
 *
 * Keys come on stdin as "ADDRESS KEY" lines up to an empty line or EOF, never on the command
 * line (which any user can read in /proc). "ready" is printed once both sockets listen. Later
 * lines on stdin change the keys while sessions run: "ADDRESS KEY" sets that peer's key,
 * "ADDRESS" alone removes it. Open connections keep the key they were made with, so a change
 * touches no session; the speaker drops the changed peer's own. Each connection is relayed by
 * a child process that dies with this one, and this one dies with its parent.
 *
 * Usage: podnet-bgp-md5 LISTEN_ADDR LISTEN_PORT SPEAKER_SOCKET CONTROL_SOCKET
 * Built by `make build`: cc -O2 -o dist/bin/podnet-bgp-md5 src/bgp/md5/podnet-bgp-md5.c
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_KEYS 1024
/* How long an outgoing connection may take before the speaker's FSM is told it failed. */
#define CONNECT_TIMEOUT_S 5

/* A peer's address of either family. */
struct peer_addr {
    sa_family_t family;
    union {
        struct in_addr v4;
        struct in6_addr v6;
    } u;
};

struct peer_key {
    struct peer_addr addr;
    uint16_t len;
    uint8_t key[TCP_MD5SIG_MAXKEYLEN];
};

static struct peer_key keys[MAX_KEYS];
static int key_count;

static void fail(const char *what) {
    fprintf(stderr, "podnet-bgp-md5: %s: %s\n", what, strerror(errno));
    exit(1);
}


/* Reads an IPv4 or IPv6 address; 0 when `text` is neither. */
static int parse_addr(const char *text, struct peer_addr *a) {
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, text, &a->u.v4) == 1) a->family = AF_INET;
    else if (inet_pton(AF_INET6, text, &a->u.v6) == 1) a->family = AF_INET6;
    return a->family != 0;
}

static int same_addr(const struct peer_addr *a, const struct peer_addr *b) {
    if (a->family != b->family) return 0;
    return a->family == AF_INET ? a->u.v4.s_addr == b->u.v4.s_addr
                                : memcmp(&a->u.v6, &b->u.v6, sizeof a->u.v6) == 0;
}

/*
 * The socket address of `a` as a socket of `family` names it: itself, or on an IPv6 socket an
 * IPv4 peer's v4-mapped address. 0 when an IPv4 socket cannot reach it (an IPv6 peer).
 */
static socklen_t sockaddr_of(const struct peer_addr *a, sa_family_t family, uint16_t port,
                             struct sockaddr_storage *out) {
    memset(out, 0, sizeof *out);
    if (family == AF_INET) {
        if (a->family != AF_INET) return 0;
        struct sockaddr_in *sin = (struct sockaddr_in *)out;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        sin->sin_addr = a->u.v4;
        return sizeof *sin;
    }
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    if (a->family == AF_INET6) {
        sin6->sin6_addr = a->u.v6;
    } else {
        sin6->sin6_addr.s6_addr[10] = 0xff;
        sin6->sin6_addr.s6_addr[11] = 0xff;
        memcpy(&sin6->sin6_addr.s6_addr[12], &a->u.v4, 4);
    }
    return sizeof *sin6;
}

/* Sets (or, with len 0, removes) the key on a socket of `family`; an IPv4 socket skips IPv6 peers. */
static int set_key(int fd, sa_family_t family, const struct peer_key *k) {
    struct tcp_md5sig sig;
    memset(&sig, 0, sizeof sig);
    if (sockaddr_of(&k->addr, family, 0, &sig.tcpm_addr) == 0) return 0;
    sig.tcpm_keylen = k->len;
    memcpy(sig.tcpm_key, k->key, k->len);
    return setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof sig);
}

/* Finds the peer's slot, or -1. */
static int key_index(const struct peer_addr *addr) {
    for (int i = 0; i < key_count; i++)
        if (same_addr(&keys[i].addr, addr)) return i;
    return -1;
}

/* The listening socket and its family (-1 before it exists). */
static int listener = -1;
static sa_family_t listener_family;

/*
 * One stdin line: "ADDRESS KEY" sets the key (the rest of the line, as BIRD's password string
 * is), "ADDRESS" alone removes it. With a listener, the listener learns the change at once.
 */
static void key_line(char *line) {
    char *space = strchr(line, ' ');
    if (space) *space = 0;
    struct peer_addr addr;
    const char *key = space ? space + 1 : "";
    size_t len = strlen(key);
    if (!parse_addr(line, &addr) || len > TCP_MD5SIG_MAXKEYLEN || (space && len == 0)) {
        fprintf(stderr, "podnet-bgp-md5: bad key line for %s\n", line);
        exit(2);
    }
    int i = key_index(&addr);
    if (!space) {
        if (i < 0) return;
        struct peer_key removed = {.addr = addr, .len = 0};
        keys[i] = keys[--key_count];
        if (listener >= 0 && set_key(listener, listener_family, &removed) < 0) fail("TCP_MD5SIG");
        return;
    }
    if (i < 0) {
        if (key_count == MAX_KEYS) {
            fprintf(stderr, "podnet-bgp-md5: more than %d keys\n", MAX_KEYS);
            exit(2);
        }
        i = key_count++;
    }
    keys[i].addr = addr;
    keys[i].len = (uint16_t)len;
    memcpy(keys[i].key, key, len);
    if (listener >= 0 && set_key(listener, listener_family, &keys[i]) < 0) fail("TCP_MD5SIG");
}

/* stdin, read with read(2) rather than stdio so that poll(2) sees every unread byte. */
static char input[8192];
static size_t input_used;
static int input_open = 1;

/* Reads once more from stdin (blocking); 0 at EOF. */
static int read_input(void) {
    if (input_used == sizeof input) {
        fprintf(stderr, "podnet-bgp-md5: key line too long\n");
        exit(2);
    }
    ssize_t n;
    do n = read(0, input + input_used, sizeof input - input_used);
    while (n < 0 && errno == EINTR);
    if (n <= 0) return input_open = 0;
    input_used += (size_t)n;
    return 1;
}

/* Takes the next complete line out of the buffer into `line`; 0 when there is none. */
static int take_line(char *line, size_t size) {
    char *nl = memchr(input, '\n', input_used);
    if (!nl) return 0;
    size_t len = (size_t)(nl - input);
    if (len >= size) {
        fprintf(stderr, "podnet-bgp-md5: key line too long\n");
        exit(2);
    }
    memcpy(line, input, len);
    line[len] = 0;
    input_used -= len + 1;
    memmove(input, nl + 1, input_used);
    return 1;
}

/* The first keys: lines up to an empty line or EOF. */
static void read_keys(void) {
    char line[512];
    for (;;) {
        while (take_line(line, sizeof line)) {
            if (!line[0]) return;
            key_line(line);
        }
        if (!read_input()) return;
    }
}

static int unix_socket(const char *path, struct sockaddr_un *sun) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("socket");
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sun->sun_path) {
        errno = ENAMETOOLONG;
        fail(path);
    }
    strcpy(sun->sun_path, path);
    return fd;
}

/* Copies bytes both ways until both directions have ended, passing each EOF on. */
static void relay(int a, int b) {
    char buf[65536];
    int open_a = 1, open_b = 1;
    while (open_a || open_b) {
        struct pollfd fds[2] = {{a, open_a ? POLLIN : 0, 0}, {b, open_b ? POLLIN : 0, 0}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        for (int i = 0; i < 2; i++) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            int from = i == 0 ? a : b, to = i == 0 ? b : a;
            ssize_t n = read(from, buf, sizeof buf);
            if (n <= 0) {
                /* A reset or error ends the whole session, as a plain socket's would. */
                if (n < 0) return;
                shutdown(to, SHUT_WR);
                if (i == 0) open_a = 0;
                else open_b = 0;
                continue;
            }
            for (ssize_t off = 0; off < n;) {
                ssize_t w = write(to, buf + off, (size_t)(n - off));
                if (w <= 0) return;
                off += w;
            }
        }
    }
}

/* An accepted peer connection: announce it to the speaker, then relay. */
static void hand_to_speaker(int tcp, const char *speaker_path) {
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    if (getpeername(tcp, (struct sockaddr *)&peer, &len) < 0) return;
    struct sockaddr_un sun;
    int speaker = unix_socket(speaker_path, &sun);
    if (connect(speaker, (struct sockaddr *)&sun, sizeof sun) < 0) return;
    char line[INET6_ADDRSTRLEN + 2];
    if (peer.ss_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&peer)->sin_addr, line, INET6_ADDRSTRLEN);
    } else {
        /* An IPv4 peer on an IPv6 listener is named by its IPv4 address, as configured. */
        const struct in6_addr *a = &((struct sockaddr_in6 *)&peer)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) inet_ntop(AF_INET, &a->s6_addr[12], line, INET6_ADDRSTRLEN);
        else inet_ntop(AF_INET6, a, line, INET6_ADDRSTRLEN);
    }
    strcat(line, "\n");
    if (write(speaker, line, strlen(line)) != (ssize_t)strlen(line)) return;
    relay(tcp, speaker);
}

/* A speaker's request for an outgoing connection: "PEER PORT LOCAL\n". */
static void connect_out(int control) {
    char line[128];
    size_t used = 0;
    while (used < sizeof line - 1) {
        ssize_t n = read(control, line + used, 1);
        if (n <= 0) return;
        if (line[used] == '\n') break;
        used++;
    }
    line[used] = 0;
    char peer_text[64], local_text[64];
    unsigned port;
    if (sscanf(line, "%63s %u %63s", peer_text, &port, local_text) != 3 || port == 0 ||
        port > 65535)
        return;
    struct peer_addr peer_addr;
    if (!parse_addr(peer_text, &peer_addr)) return;
    struct sockaddr_storage peer;
    socklen_t peer_len = sockaddr_of(&peer_addr, peer_addr.family, (uint16_t)port, &peer);
    int tcp = socket(peer_addr.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (tcp < 0) return;
    int k = key_index(&peer_addr);
    if (k >= 0 && set_key(tcp, peer_addr.family, &keys[k]) < 0) return;
    if (strcmp(local_text, "-") != 0) {
        struct peer_addr local_addr;
        struct sockaddr_storage local;
        if (!parse_addr(local_text, &local_addr) || local_addr.family != peer_addr.family) return;
        socklen_t local_len = sockaddr_of(&local_addr, local_addr.family, 0, &local);
        if (bind(tcp, (struct sockaddr *)&local, local_len) < 0) return;
    }
    struct timeval timeout = {.tv_sec = CONNECT_TIMEOUT_S};
    setsockopt(tcp, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (connect(tcp, (struct sockaddr *)&peer, peer_len) < 0) return;
    relay(control, tcp);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: podnet-bgp-md5 LISTEN_ADDR LISTEN_PORT SPEAKER_SOCKET "
                        "CONTROL_SOCKET (keys on stdin)\n");
        return 2;
    }
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    signal(SIGCHLD, SIG_IGN); /* relays reap themselves */
    signal(SIGPIPE, SIG_IGN);
    read_keys();

    struct peer_addr listen_addr;
    if (!parse_addr(argv[1], &listen_addr)) {
        fprintf(stderr, "podnet-bgp-md5: %s: not an IP address\n", argv[1]);
        return 2;
    }
    struct sockaddr_storage addr;
    listener_family = listen_addr.family;
    socklen_t addr_len =
        sockaddr_of(&listen_addr, listener_family, (uint16_t)atoi(argv[2]), &addr);
    int fd = socket(listener_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("socket");
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    for (int i = 0; i < key_count; i++)
        if (set_key(fd, listener_family, &keys[i]) < 0) fail("TCP_MD5SIG");
    if (bind(fd, (struct sockaddr *)&addr, addr_len) < 0) fail("bind");
    listener = fd;
    if (listen(listener, 64) < 0) fail("listen");

    struct sockaddr_un sun;
    int control = unix_socket(argv[4], &sun);
    unlink(argv[4]);
    if (bind(control, (struct sockaddr *)&sun, sizeof sun) < 0) fail(argv[4]);
    if (listen(control, 64) < 0) fail("listen");
    printf("ready\n");
    fflush(stdout);

    for (;;) {
        /* Key changes first: a connection waiting beside them is made with the new keys. */
        char line[512];
        while (take_line(line, sizeof line))
            if (line[0]) key_line(line);
        struct pollfd fds[3] = {
            {listener, POLLIN, 0}, {control, POLLIN, 0}, {input_open ? 0 : -1, POLLIN, 0}};
        if (poll(fds, 3, -1) < 0) {
            if (errno == EINTR) continue;
            fail("poll");
        }
        if (fds[2].revents & (POLLIN | POLLHUP)) {
            read_input();
            continue;
        }
        for (int i = 0; i < 2; i++) {
            if (!(fds[i].revents & POLLIN)) continue;
            int conn = accept4(fds[i].fd, NULL, NULL, SOCK_CLOEXEC);
            if (conn < 0) continue;
            pid_t pid = fork();
            if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(listener);
                close(control);
                if (i == 0) hand_to_speaker(conn, argv[3]);
                else connect_out(conn);
                _exit(0);
            }
            close(conn);
        }
    }
}

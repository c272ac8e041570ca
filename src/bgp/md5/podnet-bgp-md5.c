/*
 * podnet-bgp-md5: the kernel's side of BGP sessions signed with TCP-MD5 (RFC 2385).
 *
 * Node.js has no way to set TCP_MD5SIG on a socket, so this small program owns the TCP sockets
 * and relays their bytes to the speaker over unix sockets; every BGP decision stays in the
 * speaker (src/bgp/), which starts this through src/kernel/tcp-md5.ts.
 *
 *   - It listens on ADDR:PORT with each keyed peer's key set on the listening socket: the
 *     kernel then drops that peer's segments unless they carry the right signature, so a peer
 *     with a wrong key never completes a handshake. Peers without a key connect as usual. Each
 *     accepted connection is handed to the speaker's socket, announced by one line "PEER\n".
 *   - On its control socket the speaker asks for an outgoing connection with one line
 *     "PEER PORT LOCAL\n" (LOCAL "-" for any source); the connection is made with the peer's
 *     key set, then relayed. If it fails, the control connection is closed.
 *
 * Keys come on stdin as "ADDRESS KEY" lines up to EOF, never on the command line (which any
 * user can read in /proc). "ready" is printed once both sockets listen. Each connection is
 * relayed by a child process that dies with this one, and this one dies with its parent.
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

struct peer_key {
    struct in_addr addr;
    uint16_t len;
    uint8_t key[TCP_MD5SIG_MAXKEYLEN];
};

static struct peer_key keys[MAX_KEYS];
static int key_count;

static void fail(const char *what) {
    fprintf(stderr, "podnet-bgp-md5: %s: %s\n", what, strerror(errno));
    exit(1);
}

static const struct peer_key *key_for(struct in_addr addr) {
    for (int i = 0; i < key_count; i++)
        if (keys[i].addr.s_addr == addr.s_addr) return &keys[i];
    return NULL;
}

static int set_key(int fd, const struct peer_key *k) {
    struct tcp_md5sig sig;
    memset(&sig, 0, sizeof sig);
    struct sockaddr_in *sin = (struct sockaddr_in *)&sig.tcpm_addr;
    sin->sin_family = AF_INET;
    sin->sin_addr = k->addr;
    sig.tcpm_keylen = k->len;
    memcpy(sig.tcpm_key, k->key, k->len);
    return setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof sig);
}

/* "ADDRESS KEY" lines; the key is the rest of the line, as BIRD's password string is. */
static void read_keys(void) {
    char line[512];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = 0;
        char *space = strchr(line, ' ');
        if (!space) continue;
        *space = 0;
        const char *key = space + 1;
        size_t len = strlen(key);
        if (key_count == MAX_KEYS || len == 0 || len > TCP_MD5SIG_MAXKEYLEN ||
            inet_pton(AF_INET, line, &keys[key_count].addr) != 1) {
            fprintf(stderr, "podnet-bgp-md5: bad key line for %s\n", line);
            exit(2);
        }
        keys[key_count].len = (uint16_t)len;
        memcpy(keys[key_count].key, key, len);
        key_count++;
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
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    if (getpeername(tcp, (struct sockaddr *)&peer, &len) < 0) return;
    struct sockaddr_un sun;
    int speaker = unix_socket(speaker_path, &sun);
    if (connect(speaker, (struct sockaddr *)&sun, sizeof sun) < 0) return;
    char line[INET_ADDRSTRLEN + 2];
    inet_ntop(AF_INET, &peer.sin_addr, line, INET_ADDRSTRLEN);
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
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, peer_text, &peer.sin_addr) != 1) return;
    int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (tcp < 0) return;
    const struct peer_key *k = key_for(peer.sin_addr);
    if (k && set_key(tcp, k) < 0) return;
    if (strcmp(local_text, "-") != 0) {
        struct sockaddr_in local = {.sin_family = AF_INET};
        if (inet_pton(AF_INET, local_text, &local.sin_addr) != 1) return;
        if (bind(tcp, (struct sockaddr *)&local, sizeof local) < 0) return;
    }
    struct timeval timeout = {.tv_sec = CONNECT_TIMEOUT_S};
    setsockopt(tcp, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (connect(tcp, (struct sockaddr *)&peer, sizeof peer) < 0) return;
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

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
        fprintf(stderr, "podnet-bgp-md5: %s: not an IPv4 address\n", argv[1]);
        return 2;
    }
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0) fail("socket");
    int on = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    for (int i = 0; i < key_count; i++)
        if (set_key(listener, &keys[i]) < 0) fail("TCP_MD5SIG");
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0) fail("bind");
    if (listen(listener, 64) < 0) fail("listen");

    struct sockaddr_un sun;
    int control = unix_socket(argv[4], &sun);
    unlink(argv[4]);
    if (bind(control, (struct sockaddr *)&sun, sizeof sun) < 0) fail(argv[4]);
    if (listen(control, 64) < 0) fail("listen");
    printf("ready\n");
    fflush(stdout);

    for (;;) {
        struct pollfd fds[2] = {{listener, POLLIN, 0}, {control, POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            fail("poll");
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

/*
 * podnet-cni: the binary a container runtime execs for every CNI call (type "podnet").
 *
 * Node.js needs ~120 ms just to start, and runtimes exec the plugin once per pod, so this is
 * a thin client: it answers VERSION itself and hands every other call -- the CNI_* variables
 * and the network configuration from stdin -- to the node agent over its unix socket, then
 * prints the agent's answer and exits with the agent's exit code. Every decision (parsing,
 * validation, allocation, wiring) is made by the agent: see src/cni/ and
 * src/agent/cni-server.ts, and src/cni/protocol.ts for the wire format.
 *
 * The one error it reports itself is the agent being unreachable: CNI code 11, "try again
 * later", which tells the runtime to retry rather than give up on the pod.
 *
 * Built by `make build`: cc -O2 -o dist/bin/podnet-cni src/cni/shim/podnet-cni.c
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/podnet/agent.sock"
#define LATEST_VERSION "1.1.0"

/* The variables the CNI spec defines; nothing else of the environment is passed on. */
static const char *const CNI_VARS[] = {
    "CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH", NULL,
};

struct buf {
    char *data;
    size_t len;
};

/* Reads fd to EOF into a growing buffer (NUL-terminated for the string searches below). */
static int read_all(int fd, struct buf *b) {
    size_t cap = 4096;
    b->data = malloc(cap);
    b->len = 0;
    if (!b->data) return -1;
    for (;;) {
        if (cap - b->len < 2) {
            char *bigger = realloc(b->data, cap *= 2);
            if (!bigger) return -1;
            b->data = bigger;
        }
        ssize_t n = read(fd, b->data + b->len, cap - b->len - 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) break;
        b->len += (size_t)n;
    }
    b->data[b->len] = '\0';
    return 0;
}

static int write_all(int fd, const char *p, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/*
 * Finds the string value of a top-level-looking "key": "value" in the config. Deliberately
 * simple: values with escapes are not supported (it returns NULL), which is fine for the two
 * keys read here (agentSocket, cniVersion) -- the agent validates the whole config anyway.
 */
static char *json_string(const char *json, const char *key, char *out, size_t outlen) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\"", key);
    const char *p = strstr(json, pattern);
    if (!p) return NULL;
    p += strlen(pattern);
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    if (*p++ != ':') return NULL;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    if (*p++ != '"') return NULL;
    size_t n = 0;
    for (; *p != '"'; p++) {
        if (*p == '\0' || *p == '\\' || (unsigned char)*p < 0x20 || n + 1 >= outlen) return NULL;
        out[n++] = *p;
    }
    out[n] = '\0';
    return out;
}

/* Prints a CNI error (spec: JSON on stdout, non-zero exit). */
static int cni_error(const char *version, int code, const char *msg, const char *where,
                     const char *details) {
    printf("{\"cniVersion\":\"%s\",\"code\":%d,\"msg\":\"%s %s\",\"details\":\"%s\"}\n", version,
           code, msg, where, details);
    return 1;
}

int main(void) {
    /* An agent that dies mid-call must give us EPIPE (and error 11), not a silent SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);

    /* Read the config even for VERSION, so the runtime's write to stdin never fails. */
    struct buf config;
    if (read_all(STDIN_FILENO, &config) != 0)
        return cni_error(LATEST_VERSION, 5, "could not read", "stdin", strerror(errno));

    const char *command = getenv("CNI_COMMAND");
    if (command && strcmp(command, "VERSION") == 0) {
        printf("{\"cniVersion\":\"" LATEST_VERSION
               "\",\"supportedVersions\":[\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n");
        return 0;
    }

    /* Errors are reported in the configuration's version when it can be read. */
    char version[32];
    if (!json_string(config.data, "cniVersion", version, sizeof version))
        strcpy(version, LATEST_VERSION);
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    if (!json_string(config.data, "agentSocket", path, sizeof path)) strcpy(path, DEFAULT_SOCKET);

    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
        return cni_error(version, 11, "podnet agent not reachable at", path, strerror(errno));

    /* Request: NAME=VALUE\0 for each CNI variable set, an empty entry, then the config. */
    for (const char *const *name = CNI_VARS; *name; name++) {
        const char *value = getenv(*name);
        if (!value) continue;
        if (write_all(fd, *name, strlen(*name)) != 0 || write_all(fd, "=", 1) != 0 ||
            write_all(fd, value, strlen(value) + 1) != 0)
            return cni_error(version, 11, "could not send the call to", path, strerror(errno));
    }
    if (write_all(fd, "", 1) != 0 || write_all(fd, config.data, config.len) != 0 ||
        shutdown(fd, SHUT_WR) != 0)
        return cni_error(version, 11, "could not send the call to", path, strerror(errno));

    /* Response: the exit code as decimal, a newline, then what to print on stdout. */
    struct buf reply;
    if (read_all(fd, &reply) != 0)
        return cni_error(version, 11, "no answer from", path, strerror(errno));
    char *newline = memchr(reply.data, '\n', reply.len);
    if (!newline)
        return cni_error(version, 11, "podnet agent closed the connection before answering at",
                         path, "the agent may have restarted");
    int code = atoi(reply.data);
    size_t header = (size_t)(newline - reply.data) + 1;
    if (write_all(STDOUT_FILENO, newline + 1, reply.len - header) != 0) return 1;
    return code;
}

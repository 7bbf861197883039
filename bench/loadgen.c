/* loadgen: the benchmark's load generator (see bench/README.md).
 *
 * One thread, epoll, non-blocking sockets to 127.0.0.1 only. It speaks
 * just enough of each protocol: a websocket client (RFC 6455, masked
 * frames) with or without SockJS framing, and HTTP/1.1 keep-alive with
 * Content-Length and chunked bodies for the SockJS polling and streaming
 * transports. Every run is bounded in time. It reports its own CPU share
 * (from /proc/self/stat) over the measured window, so a reader can tell
 * whether the generator or the server was the bottleneck.
 *
 * usage: loadgen MODE port key=value...
 *   ws_echo   path= conns= secs= sockjs=0|1 [rate=N: fixed-rate latency]
 *             [zmsg=HEX: offer permessage-deflate (client_no_context_takeover)
 *             and send these bytes, a compressed message, with RSV1 set]
 *   bcast     path= conns= secs= sockjs=0|1 window= [ttl=N probes]
 *             [sport=P: the sender (the first connection) talks to another
 *             server, on port P, whose broadcasts reach this one's sessions]
 *   http      path= conns= secs=
 *   xhr_poll  prefix= conns= secs=
 *   xhr_stream prefix= conns= secs= window= wspath=
 *   idle      kind=ws|poll path=|prefix= conns=   (READY, waits for stdin)
 *   churn     path= conns= secs=   (kind=poll: xhr polling sessions instead)
 *   hold      path= conns= echo= rate= secs= hb= periods=   (N idle SockJS
 *             websocket sessions through `periods` heartbeat periods while
 *             `echo` sessions echo at a fixed rate: heartbeat gaps, p99)
 * Every mode takes srcs=N: connect from 127.0.0.2 .. 127.0.0.(N+1), round
 * robin, instead of 127.0.0.1 (one source address has ~28k ephemeral
 * ports: 100,000 connections need several).
 * spid=PID[,PID...]: the server processes whose CPU time over the measured
 * window is reported as server_cpu (summed).
 * Output: one JSON object on stdout.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- options ----------------------------------------------------------- */

static int g_argc;
static char **g_argv;

static const char *opt(const char *key, const char *def) {
    size_t n = strlen(key);
    for (int i = 3; i < g_argc; i++)
        if (!strncmp(g_argv[i], key, n) && g_argv[i][n] == '=') return g_argv[i] + n + 1;
    return def;
}
static double optf(const char *key, double def) {
    const char *v = opt(key, NULL);
    return v ? atof(v) : def;
}

/* ---- time and CPU -------------------------------------------------------- */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of a process (0: this one), in seconds: the sum over its
 * threads of /proc/<pid>/task/<tid>/schedstat (nanoseconds; a server that
 * gets a few percent of a loaded CPU would show a handful of 10 ms ticks
 * in /proc/<pid>/stat), else utime + stime from /proc/<pid>/stat. */
static double stat_cpu_secs_of(int pid);
static double cpu_secs_of(int pid) {
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", pid ? pid : getpid());
    DIR *d = opendir(dir);
    if (!d) return stat_cpu_secs_of(pid);
    double total = 0;
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[400];
        snprintf(path, sizeof path, "%s/%s/schedstat", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        unsigned long long ns = 0;
        if (fscanf(f, "%llu", &ns) == 1) { total += ns / 1e9; found = 1; }
        fclose(f);
    }
    closedir(d);
    return found ? total : stat_cpu_secs_of(pid);
}

static double stat_cpu_secs_of(int pid) {
    char buf[1024], path[64];
    if (pid) snprintf(path, sizeof path, "/proc/%d/stat", pid);
    else snprintf(path, sizeof path, "/proc/self/stat");
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return 0;
    unsigned long ut = 0, st = 0;
    /* fields after ")": state(3) ... utime(14) stime(15) */
    int field = 2;
    for (char *s = p + 1; *s; s++) {
        if (*s == ' ') {
            field++;
            if (field == 14) ut = strtoul(s + 1, NULL, 10);
            if (field == 15) { st = strtoul(s + 1, NULL, 10); break; }
        }
    }
    return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

static double cpu_secs(void) { return cpu_secs_of(0); }

/* The measured window: wall time, our CPU, and the server's CPU (spid=),
 * whose CPU seconds per operation do not depend on what else the machine
 * runs, unlike operations per wall second. */
static double g_t0, g_c0, g_s0, g_server_cpu;
static int g_spids[8], g_nspids;
static double servers_cpu(void) {
    double sum = 0;
    for (int i = 0; i < g_nspids; i++) sum += cpu_secs_of(g_spids[i]);
    return sum;
}
static void window_start(void) { g_t0 = now(); g_c0 = cpu_secs(); g_s0 = servers_cpu(); }
static double window_cpu(double *elapsed) {
    double t = now() - g_t0;
    *elapsed = t;
    g_server_cpu = g_nspids ? servers_cpu() - g_s0 : 0;
    return t > 0 ? (cpu_secs() - g_c0) / t : 0;
}

/* ---- connections ---------------------------------------------------------- */

enum { K_WS, K_HTTP };
enum { S_CONNECTING, S_HANDSHAKE, S_OPEN, S_CLOSED };

typedef struct conn {
    int fd, idx, kind, state;
    char *rbuf; size_t rlen, rcap;
    char *wbuf; size_t wlen, wcap;
    int want_out;
    /* websocket */
    unsigned char mask[4];
    int sockjs_open;
    /* http response parser */
    int hstate;        /* 0 headers, 1 content-length body, 2 chunk size, 3 chunk data, 4 chunk crlf, 5 trailer */
    long remain;
    int status;
    char body[256]; size_t blen;
    /* workload state */
    int phase;
    int inflight;
    double sent_at;
    long count;
    /* hold: heartbeats */
    double last_hb, max_gap;
    int hbs;
    char sid[32];
} conn;

static int g_port, g_ep;
/* bcast sport=: the port of the first connection (the sender), if not g_port. */
static int g_sport;
static conn *g_conns;
static int g_nconns;
static long g_errors;

static void die(const char *m) { perror(m); exit(2); }

static void raise_nofile(void) {
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    /* As root the hard limit may be raised too (100,000 connections). */
    struct rlimit want = {.rlim_cur = 400000, .rlim_max = 400000};
    if (rl.rlim_max < want.rlim_max && setrlimit(RLIMIT_NOFILE, &want) == 0) return;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

static int g_srcs;

static void ep_mod(conn *c, int out) {
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl mod");
    c->want_out = out;
}

static int open_conn(conn *c) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (g_srcs > 0) {
        /* The port is picked at connect(), per (source, destination). */
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = 0};
        src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + c->idx % g_srcs);
        if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) { close(fd); return -1; }
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(c->idx == 0 && g_sport ? g_sport : g_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    c->fd = fd;
    c->state = S_CONNECTING;
    c->rlen = c->wlen = 0;
    c->sockjs_open = 0;
    c->hstate = 0;
    c->blen = 0;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl add");
    c->want_out = 1;
    return 0;
}

static void close_conn(conn *c) {
    if (c->fd >= 0) {
        epoll_ctl(g_ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->state = S_CLOSED;
}

static void send_bytes(conn *c, const void *data, size_t n) {
    if (c->fd < 0) return;
    if (c->wlen == 0 && c->state != S_CONNECTING) {
        ssize_t w = send(c->fd, data, n, MSG_NOSIGNAL);
        if (w == (ssize_t)n) return;
        if (w < 0) {
            if (errno != EAGAIN) { g_errors++; close_conn(c); return; }
            w = 0;
        }
        data = (const char *)data + w;
        n -= w;
    }
    if (c->wlen + n > c->wcap) {
        c->wcap = (c->wlen + n) * 2;
        c->wbuf = realloc(c->wbuf, c->wcap);
    }
    memcpy(c->wbuf + c->wlen, data, n);
    c->wlen += n;
    if (!c->want_out) ep_mod(c, 1);
}

static void flush_out(conn *c) {
    while (c->wlen) {
        ssize_t w = send(c->fd, c->wbuf, c->wlen, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN) return;
            g_errors++;
            close_conn(c);
            return;
        }
        memmove(c->wbuf, c->wbuf + w, c->wlen - w);
        c->wlen -= w;
    }
    ep_mod(c, 0);
}

/* ---- websocket ------------------------------------------------------------ */

static void ws_send(conn *c, int opcode, const char *payload, size_t n) {
    unsigned char frame[16 + 4096];
    size_t h = 0;
    if (n > 4096) n = 4096;
    frame[h++] = 0x80 | opcode;
    if (n < 126) frame[h++] = 0x80 | n;
    else { frame[h++] = 0x80 | 126; frame[h++] = n >> 8; frame[h++] = n & 255; }
    memcpy(frame + h, c->mask, 4);
    h += 4;
    for (size_t i = 0; i < n; i++) frame[h + i] = payload[i] ^ c->mask[i & 3];
    send_bytes(c, frame, h + n);
}

/* A compressed message to send (zmsg=): then permessage-deflate is offered. */
static char g_zmsg[2048];
static size_t g_zlen;

static void ws_handshake(conn *c, const char *path) {
    char req[640];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:%d\r\n%s\r\n",
                     path, g_port, g_port,
                     g_zlen ? "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n" : "");
    c->state = S_HANDSHAKE;
    send_bytes(c, req, n);
}

/* Called per complete server frame. */
typedef void (*ws_frame_cb)(conn *c, int opcode, const char *p, size_t n);
/* Called per complete HTTP response (body kept up to 255 bytes) and per body
 * chunk of bytes (streaming). */
typedef void (*http_resp_cb)(conn *c);
typedef void (*http_body_cb)(conn *c, const char *p, size_t n);
typedef void (*open_cb)(conn *c);

static ws_frame_cb on_frame;
static http_resp_cb on_response;
static http_body_cb on_body;
static open_cb on_open;

static size_t ws_parse(conn *c) {
    size_t pos = 0;
    char *b = c->rbuf;
    if (c->state == S_HANDSHAKE) {
        char *e = memmem(b, c->rlen, "\r\n\r\n", 4);
        if (!e) return 0;
        if (c->rlen < 12 || memcmp(b + 9, "101", 3)) { g_errors++; close_conn(c); return 0; }
        c->state = S_OPEN;
        pos = e + 4 - b;
        if (on_open) on_open(c);
    }
    while (c->fd >= 0 && c->rlen - pos >= 2) {
        unsigned char *u = (unsigned char *)b + pos;
        int op = u[0] & 15;
        uint64_t n = u[1] & 127;
        size_t h = 2;
        if (n == 126) {
            if (c->rlen - pos < 4) break;
            n = (u[2] << 8) | u[3];
            h = 4;
        } else if (n == 127) {
            if (c->rlen - pos < 10) break;
            n = 0;
            for (int i = 0; i < 8; i++) n = (n << 8) | u[2 + i];
            h = 10;
        }
        if (c->rlen - pos < h + n) break;
        const char *p = b + pos + h;
        pos += h + n;
        if (op == 9) ws_send(c, 10, p, n);
        else if (op == 8) { c->state = S_CLOSED; on_frame(c, op, p, n); }
        else on_frame(c, op, p, n);
    }
    return pos;
}

/* ---- HTTP responses -------------------------------------------------------- */

static size_t http_parse(conn *c) {
    size_t pos = 0;
    char *b = c->rbuf;
    while (c->fd >= 0 && pos < c->rlen) {
        size_t avail = c->rlen - pos;
        if (c->hstate == 0) {
            char *e = memmem(b + pos, avail, "\r\n\r\n", 4);
            if (!e) break;
            c->status = atoi(b + pos + 9);
            c->remain = 0;
            int chunked = 0;
            for (char *l = b + pos; l < e; ) {
                char *nl = memmem(l, e - l, "\r\n", 2);
                if (!nl) nl = e;
                if (!strncasecmp(l, "content-length:", 15)) c->remain = atol(l + 15);
                else if (!strncasecmp(l, "transfer-encoding:", 18) && memmem(l, nl - l, "chunked", 7)) chunked = 1;
                l = nl + 2;
            }
            pos = e + 4 - b;
            c->blen = 0;
            if (chunked) c->hstate = 2;
            else if (c->remain > 0) c->hstate = 1;
            else { on_response(c); }
        } else if (c->hstate == 1 || c->hstate == 3) {
            size_t take = avail < (size_t)c->remain ? avail : (size_t)c->remain;
            size_t room = sizeof c->body - 1 - c->blen;
            memcpy(c->body + c->blen, b + pos, take < room ? take : room);
            c->blen += take < room ? take : room;
            if (on_body) on_body(c, b + pos, take);
            pos += take;
            c->remain -= take;
            if (c->remain == 0) {
                if (c->hstate == 1) { c->hstate = 0; on_response(c); }
                else c->hstate = 4;
            }
        } else if (c->hstate == 2 || c->hstate == 4 || c->hstate == 5) {
            char *nl = memmem(b + pos, avail, "\r\n", 2);
            if (!nl) break;
            if (c->hstate == 2) {
                c->remain = strtol(b + pos, NULL, 16);
                c->hstate = c->remain ? 3 : 5;
            } else if (c->hstate == 4) {
                c->hstate = 2;
            } else { /* end of trailers: an empty line */
                if (nl == b + pos) { c->hstate = 0; on_response(c); }
            }
            pos = nl + 2 - b;
        }
    }
    return pos;
}

/* ---- event loop ------------------------------------------------------------- */

static void handle_read(conn *c) {
    for (;;) {
        /* Small at first (100,000 idle connections), doubled while full. */
        if (c->rcap - c->rlen < 2048) {
            c->rcap = c->rcap ? c->rcap * 2 : 4096;
            if (c->rcap > 262144 && c->rcap < c->rlen + 65536) c->rcap = c->rlen + 65536;
            c->rbuf = realloc(c->rbuf, c->rcap);
        }
        size_t room = c->rcap - c->rlen;
        ssize_t r = recv(c->fd, c->rbuf + c->rlen, room, 0);
        if (r == 0) { close_conn(c); return; }
        if (r < 0) {
            if (errno == EAGAIN) break;
            g_errors++;
            close_conn(c);
            return;
        }
        c->rlen += r;
        size_t used = c->kind == K_WS ? ws_parse(c) : http_parse(c);
        if (c->fd < 0) return;
        if (used) {
            memmove(c->rbuf, c->rbuf + used, c->rlen - used);
            c->rlen -= used;
        }
        if ((size_t)r < room) break;
    }
    if (c->rcap > 262144 && c->rlen < 65536) { /* shrink after a burst */
        c->rcap = 131072;
        c->rbuf = realloc(c->rbuf, c->rcap);
    }
}

static open_cb on_connected;

static void poll_once(int timeout_ms) {
    struct epoll_event evs[512];
    int n = epoll_wait(g_ep, evs, 512, timeout_ms);
    for (int i = 0; i < n; i++) {
        conn *c = evs[i].data.ptr;
        if (c->fd < 0) continue;
        if (c->state == S_CONNECTING && (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            int err = 0;
            socklen_t l = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
            if (err) { g_errors++; close_conn(c); continue; }
            c->state = S_HANDSHAKE;
            ep_mod(c, 0);
            on_connected(c);
            if (c->fd < 0) continue;
        }
        if (evs[i].events & EPOLLOUT && c->wlen) flush_out(c);
        if (c->fd >= 0 && evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) handle_read(c);
    }
}

static void init_conns(int n) {
    g_nconns = n;
    g_conns = calloc(n, sizeof(conn));
    for (int i = 0; i < n; i++) {
        g_conns[i].fd = -1;
        g_conns[i].idx = i;
        g_conns[i].state = S_CLOSED;
        uint32_t m = (uint32_t)rand() | 0x01010101u;
        memcpy(g_conns[i].mask, &m, 4);
        snprintf(g_conns[i].sid, sizeof g_conns[i].sid, "s%d_%d", i, rand() % 1000000);
    }
}

/* Open all connections, at most `batch` handshakes pending at once, until
 * `ready(c)` holds for every one or the deadline passes. */
typedef int (*ready_fn)(conn *c);
static int open_range(int kind, ready_fn ready, int lo, int hi, double deadline_secs) {
    double deadline = now() + deadline_secs;
    int next = lo, batch = 200, first = lo, before = 0;
    for (;;) {
        /* Connections below `first` are ready (counted in `before`). */
        while (first < next && ready(&g_conns[first])) { first++; before++; }
        int pending = 0, done = before;
        for (int i = first; i < next; i++) {
            if (ready(&g_conns[i])) done++;
            else if (g_conns[i].fd >= 0) pending++;
        }
        if (done == hi - lo) return done;
        while (next < hi && pending < batch) {
            g_conns[next].kind = kind;
            if (open_conn(&g_conns[next]) == 0) pending++;
            else g_errors++;
            next++;
        }
        if (now() > deadline) return done;
        if (next == hi && pending == 0) return done;
        poll_once(5);
    }
}

static int open_all(int kind, ready_fn ready, double deadline_secs) {
    return open_range(kind, ready, 0, g_nconns, deadline_secs);
}

/* ---- workloads -------------------------------------------------------------- */

static const char *g_path, *g_prefix;
static int g_sockjs;
static char g_msg[64] = "hello, world!";
static long g_total, g_sent;
static double *g_lat; static long g_nlat, g_latcap;

static int is_open(conn *c) { return c->fd >= 0 && c->state == S_OPEN && (!g_sockjs || c->sockjs_open); }
static void connected_ws(conn *c) { ws_handshake(c, g_path); }

static void echo_send(conn *c) {
    c->sent_at = now();
    c->inflight = 1;
    if (g_sockjs) {
        char b[80];
        int n = snprintf(b, sizeof b, "[\"%s\"]", g_msg);
        ws_send(c, 1, b, n);
    } else if (g_zlen) ws_send(c, 0x41, g_zmsg, g_zlen);  /* RSV1: compressed */
    else ws_send(c, 1, g_msg, strlen(g_msg));
}

static int g_measuring, g_fixed_rate;
static void echo_frame(conn *c, int op, const char *p, size_t n) {
    if (op == 8) return;
    if (g_sockjs) {
        if (n == 0) return;
        if (p[0] == 'o') { c->sockjs_open = 1; return; }
        if (p[0] != 'a') return;
    }
    if (!c->inflight) return;
    c->inflight = 0;
    if (g_measuring) {
        g_total++;
        if (g_fixed_rate && g_nlat < g_latcap) g_lat[g_nlat++] = now() - c->sent_at;
    }
    if (!g_fixed_rate) echo_send(c);
}

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void fixed_rate(int n, double rate, double secs, double *p50, double *p99, long *skipped_out);

static void mode_ws_echo(void) {
    int n = (int)optf("conns", 100);
    const char *hex = opt("zmsg", NULL);
    for (g_zlen = 0; hex && hex[0] && hex[1] && g_zlen < sizeof g_zmsg; hex += 2) {
        unsigned v;
        sscanf(hex, "%2x", &v);
        g_zmsg[g_zlen++] = (char)v;
    }
    double secs = optf("secs", 3), rate = optf("rate", 0), warm = optf("warm", 0.5);
    init_conns(n);
    on_connected = connected_ws;
    on_frame = echo_frame;
    int ok = open_all(K_WS, is_open, 30);
    if (ok < n) { fprintf(stderr, "only %d/%d connected\n", ok, n); }
    if (rate > 0) {
        double p50, p99;
        long skipped;
        window_start();
        fixed_rate(n, rate, secs, &p50, &p99, &skipped);
        double el, cpu = window_cpu(&el);
        printf("{\"mode\":\"ws_latency\",\"conns\":%d,\"rate\":%.0f,\"n\":%ld,\"skipped\":%ld,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"cpu\":%.3f,\"server_cpu\":%.3f,\"secs\":%.2f,\"errors\":%ld}\n",
               ok, rate, g_nlat, skipped, p50, p99, cpu, g_server_cpu, el, g_errors);
        return;
    }
    for (int i = 0; i < n; i++) if (is_open(&g_conns[i])) echo_send(&g_conns[i]);
    double t = now();
    while (now() < t + warm) poll_once(10);
    g_measuring = 1;
    window_start();
    while (now() < g_t0 + secs) poll_once(10);
    g_measuring = 0;
    double el, cpu = window_cpu(&el);
    printf("{\"mode\":\"ws_echo\",\"conns\":%d,\"count\":%ld,\"rate\":%.1f,\"cpu\":%.3f,\"server_cpu\":%.3f,\"secs\":%.2f,\"errors\":%ld}\n",
           ok, g_total, g_total / el, cpu, g_server_cpu, el, g_errors);
}

/* Broadcast: conns[0] sends '@' messages; every receiver counts the '@'
 * bytes in what it gets (one per delivery). At most `window` broadcasts are
 * not yet fully delivered at any time. */
static long g_deliv, g_window, g_receivers;
static void count_frame(conn *c, int op, const char *p, size_t n) {
    if (op == 8) return;
    if (g_sockjs && n && p[0] == 'o') { c->sockjs_open = 1; return; }
    long k = 0;
    for (size_t i = 0; i < n; i++) k += p[i] == '@';
    g_deliv += k;
    c->count += k;
}

static conn *g_sender;
static void bcast_send(void) {
    if (g_sockjs) ws_send(g_sender, 1, "[\"@\"]", 5);
    else ws_send(g_sender, 1, "@", 1);
    g_sent++;
}

static void pump_bcast(void) {
    while (g_sender->fd >= 0 && g_sent * g_receivers - g_deliv < g_window * g_receivers) bcast_send();
}

static int cmpl(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

/* Time from sending one broadcast, with nothing else in flight, until every
 * receiver has it. */
static void ttl_probes(int probes, double *p50_ms, double *max_ms) {
    double d[64];
    int k = 0;
    for (int i = 0; i < probes && i < 64; i++) {
        double until = now() + 5;
        while (g_deliv < g_sent * g_receivers && now() < until) poll_once(5);
        until = now() + 0.05;
        while (now() < until) poll_once(5);
        long target = (g_sent + 1) * g_receivers;
        double t0 = now();
        bcast_send();
        until = t0 + 10;
        while (g_deliv < target && now() < until) poll_once(1);
        if (g_deliv >= target) d[k++] = (now() - t0) * 1000;
    }
    qsort(d, k, sizeof(double), cmpl);
    *p50_ms = k ? d[k / 2] : -1;
    *max_ms = k ? d[k - 1] : -1;
}

static void mode_bcast(void) {
    int n = (int)optf("conns", 1000);
    double secs = optf("secs", 3);
    g_window = (long)optf("window", 4);
    int probes = (int)optf("ttl", 5);
    g_sport = (int)optf("sport", 0);
    init_conns(n);
    on_connected = connected_ws;
    on_frame = count_frame;
    int ok = open_all(K_WS, is_open, optf("open", 60));
    if (ok < n) fprintf(stderr, "only %d/%d connected\n", ok, n);
    g_receivers = ok;
    g_sender = &g_conns[0];
    double t = now();
    while (now() < t + 0.3) poll_once(10);
    double p50, mx;
    ttl_probes(probes, &p50, &mx);
    long d0 = g_deliv;
    window_start();
    while (now() < g_t0 + secs && g_sender->fd >= 0) { pump_bcast(); poll_once(10); }
    double el, cpu = window_cpu(&el);
    long deliv = g_deliv - d0;
    printf("{\"mode\":\"bcast\",\"conns\":%d,\"deliveries\":%ld,\"rate\":%.1f,\"ttl_p50_ms\":%.2f,\"ttl_max_ms\":%.2f,\"cpu\":%.3f,\"server_cpu\":%.3f,\"secs\":%.2f,\"errors\":%ld}\n",
           ok, deliv, deliv / el, p50, mx, cpu, g_server_cpu, el, g_errors);
}

/* Plain HTTP: GET path on keep-alive connections. */
static char g_req[1024]; static int g_reqlen;
static void http_connected(conn *c) { c->state = S_OPEN; send_bytes(c, g_req, g_reqlen); }
static void http_done(conn *c) {
    if (c->status != 200 && c->status != 204) g_errors++;
    if (g_measuring) g_total++;
    send_bytes(c, g_req, g_reqlen);
}
static int is_started(conn *c) { return c->fd >= 0 && c->state == S_OPEN; }

static void mode_http(void) {
    int n = (int)optf("conns", 50);
    double secs = optf("secs", 3);
    g_reqlen = snprintf(g_req, sizeof g_req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", opt("path", "/"), g_port);
    init_conns(n);
    on_connected = http_connected;
    on_response = http_done;
    int ok = open_all(K_HTTP, is_started, 30);
    double t = now();
    while (now() < t + 0.5) poll_once(10);
    g_measuring = 1;
    window_start();
    while (now() < g_t0 + secs) poll_once(10);
    double el, cpu = window_cpu(&el);
    printf("{\"mode\":\"http\",\"conns\":%d,\"count\":%ld,\"rate\":%.1f,\"cpu\":%.3f,\"server_cpu\":%.3f,\"secs\":%.2f,\"errors\":%ld}\n",
           ok, g_total, g_total / el, cpu, g_server_cpu, el, g_errors);
}

/* xhr polling round trip: xhr_send ["m"] (204), then xhr (a["m"]). The
 * first xhr opens the session (o). */
static void xhr_req(conn *c, const char *what, const char *body) {
    char req[512];
    size_t bl = body ? strlen(body) : 0;
    int n = snprintf(req, sizeof req,
                     "POST %s/000/%s/%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n\r\n%s", g_prefix, c->sid, what, g_port, bl, body ? body : "");
    send_bytes(c, req, n);
}
static void poll_connected(conn *c) { c->state = S_OPEN; c->phase = 0; xhr_req(c, "xhr", NULL); }
static void poll_resp(conn *c) {
    if (c->status >= 300) { g_errors++; close_conn(c); return; }
    if (c->phase == 0 || c->phase == 2) {      /* an xhr answer */
        if (c->blen && c->body[0] == 'a') {
            if (g_measuring) g_total++;
        } else if (c->blen && c->body[0] == 'h' && c->phase == 2) {
            xhr_req(c, "xhr", NULL);            /* heartbeat: poll again */
            return;
        } else if (!(c->blen && c->body[0] == 'o')) {
            g_errors++;
        }
        c->sockjs_open = 1;
        c->phase = 1;
        xhr_req(c, "xhr_send", "[\"m\"]");
    } else {                                    /* xhr_send answered */
        c->phase = 2;
        xhr_req(c, "xhr", NULL);
    }
}
static int poll_ready(conn *c) { return c->fd >= 0 && c->sockjs_open; }

static void mode_xhr_poll(void) {
    int n = (int)optf("conns", 50);
    double secs = optf("secs", 3);
    g_prefix = opt("prefix", "/echo");
    init_conns(n);
    on_connected = poll_connected;
    on_response = poll_resp;
    int ok = open_all(K_HTTP, poll_ready, 30);
    double t = now();
    while (now() < t + 0.5) poll_once(10);
    g_measuring = 1;
    window_start();
    while (now() < g_t0 + secs) poll_once(10);
    double el, cpu = window_cpu(&el);
    printf("{\"mode\":\"xhr_poll\",\"conns\":%d,\"count\":%ld,\"rate\":%.1f,\"cpu\":%.3f,\"server_cpu\":%.3f,\"secs\":%.2f,\"errors\":%ld}\n",
           ok, g_total, g_total / el, cpu, g_server_cpu, el, g_errors);
}

/* xhr_streaming receivers (all but the last connection) and one websocket
 * sender (the last), on a broadcast service. */
static void stream_connected(conn *c) {
    if (c->kind == K_WS) { ws_handshake(c, g_path); return; }
    c->state = S_OPEN;
    xhr_req(c, "xhr_streaming", NULL);
}
static void stream_body(conn *c, const char *p, size_t n) {
    if (!c->sockjs_open) {
        for (size_t i = 0; i < n; i++) if (p[i] == 'o') { c->sockjs_open = 1; break; }
    }
    long k = 0;
    for (size_t i = 0; i < n; i++) k += p[i] == '@';
    g_deliv += k;
}
static long g_reopens;
static void stream_end(conn *c) {
    /* The response hit response_limit: poll the same session again. */
    g_reopens++;
    if (c->fd >= 0) xhr_req(c, "xhr_streaming", NULL);
}
static int stream_ready(conn *c) {
    return c->fd >= 0 && (c->kind == K_WS ? (c->state == S_OPEN && c->sockjs_open) : c->sockjs_open);
}

static void mode_xhr_stream(void) {
    int n = (int)optf("conns", 100);
    double secs = optf("secs", 3);
    g_window = (long)optf("window", 8);
    g_prefix = opt("prefix", "/bcast");
    g_path = opt("wspath", "/bcast/000/sender/websocket");
    g_sockjs = 1;
    init_conns(n + 1);
    on_connected = stream_connected;
    on_response = stream_end;
    on_body = stream_body;
    on_frame = count_frame;
    g_sender = &g_conns[n];
    /* receivers first, then the sender */
    g_nconns = n;
    int ok = open_all(K_HTTP, stream_ready, 30);
    g_nconns = n + 1;
    g_sender->kind = K_WS;
    open_conn(g_sender);
    double until = now() + 10;
    while (!stream_ready(g_sender) && now() < until) poll_once(5);
    /* The sender receives its own broadcasts too. */
    g_receivers = ok + 1;
    until = now() + 0.3;
    while (now() < until) poll_once(10);
    long d0 = g_deliv;
    window_start();
    while (now() < g_t0 + secs && g_sender->fd >= 0) { pump_bcast(); poll_once(10); }
    double el, cpu = window_cpu(&el);
    long deliv = g_deliv - d0;
    printf("{\"mode\":\"xhr_stream\",\"conns\":%d,\"deliveries\":%ld,\"rate\":%.1f,\"reopens\":%ld,\"cpu\":%.3f,\"server_cpu\":%.3f,\"secs\":%.2f,\"errors\":%ld}\n",
           ok, deliv, deliv / el, g_reopens, cpu, g_server_cpu, el, g_errors);
}

/* Idle sessions: open them, say READY, hold them until stdin closes or a
 * line arrives (bounded by hold=). */
static void idle_poll_resp(conn *c) {
    if (c->status >= 300) { g_errors++; close_conn(c); return; }
    if (!c->sockjs_open && c->blen && c->body[0] == 'o') {
        c->sockjs_open = 1;
        xhr_req(c, "xhr", NULL);   /* this one stays pending */
    } else {
        xhr_req(c, "xhr", NULL);   /* heartbeat or message: keep a poll pending */
    }
}
static void mode_idle(void) {
    int n = (int)optf("conns", 10000);
    double hold = optf("hold", 60);
    int poll_kind = !strcmp(opt("kind", "ws"), "poll");
    init_conns(n);
    int ok;
    if (poll_kind) {
        g_prefix = opt("prefix", "/echo");
        on_connected = poll_connected;
        on_response = idle_poll_resp;
        ok = open_all(K_HTTP, poll_ready, optf("open", 60));
    } else {
        g_sockjs = (int)optf("sockjs", 1);
        on_connected = connected_ws;
        on_frame = echo_frame;
        ok = open_all(K_WS, is_open, optf("open", 60));
    }
    double t = now();
    while (now() < t + 0.3) poll_once(10);
    printf("READY %d\n", ok);
    fflush(stdout);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    static conn stdin_conn = {.fd = 0, .state = S_OPEN};
    ev.data.ptr = &stdin_conn;
    epoll_ctl(g_ep, EPOLL_CTL_ADD, 0, &ev);
    double until = now() + hold;
    while (now() < until) {
        struct pollfd pf = {.fd = 0, .events = POLLIN};
        if (poll(&pf, 1, 0) > 0) break;
        poll_once(20);
    }
    int still = 0;
    for (int i = 0; i < n; i++) if (g_conns[i].fd >= 0) still++;
    printf("{\"mode\":\"idle\",\"conns\":%d,\"still_open\":%d,\"errors\":%ld}\n", ok, still, g_errors);
}

/* Churn: each slot opens a SockJS websocket session, echoes one message,
 * closes, and starts over. */
static long g_cycles;
static void churn_frame(conn *c, int op, const char *p, size_t n) {
    if (op == 8) { close_conn(c); return; }
    if (n && p[0] == 'o') {
        c->sockjs_open = 1;
        ws_send(c, 1, "[\"m\"]", 5);
    } else if (n && p[0] == 'a') {
        if (g_measuring) g_cycles++;
        ws_send(c, 8, "\x03\xe8", 2);   /* close 1000; the server closes the TCP connection */
    }
}
static void churn_poll_resp(conn *c);
static void churn_poll_connected(conn *c);
static void mode_churn(void) {
    int n = (int)optf("conns", 50);
    double secs = optf("secs", 3);
    int kind = strcmp(opt("kind", "ws"), "poll") ? K_WS : K_HTTP;
    g_sockjs = 1;
    g_prefix = opt("prefix", "/echo");
    init_conns(n);
    on_connected = kind == K_WS ? connected_ws : churn_poll_connected;
    on_frame = churn_frame;
    on_response = churn_poll_resp;
    for (int i = 0; i < n; i++) { g_conns[i].kind = kind; open_conn(&g_conns[i]); }
    g_measuring = 1;
    window_start();
    while (now() < g_t0 + secs) {
        poll_once(5);
        for (int i = 0; i < n; i++)
            if (g_conns[i].fd < 0) { g_conns[i].kind = kind; if (open_conn(&g_conns[i]) < 0) g_errors++; }
    }
    double el, cpu = window_cpu(&el);
    printf("{\"mode\":\"churn\",\"conns\":%d,\"count\":%ld,\"rate\":%.1f,\"cpu\":%.3f,\"server_cpu\":%.3f,\"secs\":%.2f,\"errors\":%ld}\n",
           n, g_cycles, g_cycles / el, cpu, g_server_cpu, el, g_errors);
}

/* Hold: `conns` idle SockJS websocket sessions (from srcs= addresses) held
 * through `periods` heartbeat periods of `hb` seconds, while `echo`
 * sessions echo at a fixed `rate`, measured once before the idle sessions
 * open (the idle server) and once while they are held. Each held session
 * records the longest gap between its open frame and heartbeats. */
static int g_echo_n;
static long g_hb_total;
static int g_holding;
static void hold_frame(conn *c, int op, const char *p, size_t n) {
    if (c->idx < g_echo_n) { echo_frame(c, op, p, n); return; }
    if (op == 8 || !n) return;
    double t = now();
    if (p[0] == 'o') { c->sockjs_open = 1; c->last_hb = t; return; }
    if (p[0] != 'h') return;
    if (g_holding) {
        double gap = t - c->last_hb;
        if (gap > c->max_gap) c->max_gap = gap;
        c->hbs++;
        g_hb_total++;
    }
    c->last_hb = t;
}

/* Fixed-rate echo on conns [0, n) for `secs`; p50/p99 in ms. */
static void fixed_rate(int n, double rate, double secs, double *p50, double *p99, long *skipped_out) {
    g_fixed_rate = 1;
    g_nlat = 0;
    if (g_latcap < (long)(rate * secs) + 16) {
        g_latcap = (long)(rate * secs) + 16;
        g_lat = realloc(g_lat, g_latcap * sizeof(double));
    }
    double start = now(), t;
    long issued = 0, skipped = 0; int rr = 0;
    g_measuring = 1;
    while ((t = now()) < start + secs) {
        long due = (long)((t - start) * rate);
        while (issued < due) {
            int tries = 0;
            while (tries < n && (!is_open(&g_conns[rr]) || g_conns[rr].inflight)) { rr = (rr + 1) % n; tries++; }
            if (tries == n) { skipped += due - issued; issued = due; break; }
            echo_send(&g_conns[rr]);
            rr = (rr + 1) % n;
            issued++;
        }
        poll_once(1);
    }
    g_measuring = 0;
    double drain = now() + 1;
    while (now() < drain) { int busy = 0; for (int i = 0; i < n; i++) busy |= g_conns[i].inflight && g_conns[i].fd >= 0; if (!busy) break; poll_once(5); }
    for (int i = 0; i < n; i++) g_conns[i].inflight = 0;
    qsort(g_lat, g_nlat, sizeof(double), cmpd);
    *p50 = g_nlat ? g_lat[g_nlat / 2] * 1000 : -1;
    *p99 = g_nlat ? g_lat[(long)(g_nlat * 0.99)] * 1000 : -1;
    *skipped_out = skipped;
}

static void mode_hold(void) {
    int held = (int)optf("conns", 100000);
    int echo = (int)optf("echo", 100);
    double rate = optf("rate", 2000), secs = optf("secs", 5), hb = optf("hb", 25);
    int periods = (int)optf("periods", 2);
    const char *echo_path = opt("echopath", "/echo/000/e/websocket");
    g_echo_n = echo;
    init_conns(echo + held);
    on_connected = connected_ws;
    on_frame = hold_frame;
    g_path = echo_path;
    int eok = open_range(K_WS, is_open, 0, echo, 30);
    double p50_idle, p99_idle, p50_held, p99_held;
    long sk1, sk2;
    fixed_rate(echo, rate, secs, &p50_idle, &p99_idle, &sk1);
    g_path = opt("path", "/echo/000/h/websocket");
    double t_open = now();
    int ok = open_range(K_WS, is_open, echo, echo + held, 300);
    double open_secs = now() - t_open;
    fprintf(stderr, "hold: %d/%d open in %.1f s\n", ok, held, open_secs);
    /* The hold: periods x hb, plus the sweep's granularity and slack; the
     * echo load runs through all of it, measured in one window. */
    g_holding = 1;
    double hold = periods * hb + 3;
    window_start();
    fixed_rate(echo, rate, hold, &p50_held, &p99_held, &sk2);
    double el, cpu = window_cpu(&el);
    g_holding = 0;
    double t = now();
    int still = 0, enough = 0, late = 0;
    double max_gap = 0;
    for (int i = echo; i < echo + held; i++) {
        conn *c = &g_conns[i];
        if (c->fd < 0 || !c->sockjs_open) continue;
        still++;
        /* the time since the last heartbeat counts as a gap too */
        double gap = t - c->last_hb;
        if (gap > c->max_gap) c->max_gap = gap;
        if (c->hbs >= periods) enough++;
        if (c->max_gap > hb + 2) late++;
        if (c->max_gap > max_gap) max_gap = c->max_gap;
    }
    printf("{\"mode\":\"hold\",\"held\":%d,\"open_secs\":%.2f,\"still_open\":%d,\"with_all_heartbeats\":%d,"
           "\"late\":%d,\"max_gap_s\":%.2f,\"heartbeats\":%ld,\"echo_conns\":%d,\"p50_idle_ms\":%.3f,"
           "\"p99_idle_ms\":%.3f,\"p50_held_ms\":%.3f,\"p99_held_ms\":%.3f,\"skipped\":%ld,\"cpu\":%.3f,"
           "\"server_cpu\":%.3f,\"secs\":%.2f,\"errors\":%ld}\n",
           ok, open_secs, still, enough, late, max_gap, g_hb_total, eok, p50_idle, p99_idle, p50_held,
           p99_held, sk1 + sk2, cpu, g_server_cpu, el, g_errors);
}

/* Churn of polling sessions: xhr (o), xhr_send, xhr (a), then the
 * connection closes and the slot starts a session with a new id. */
static void churn_poll_resp(conn *c) {
    if (c->status >= 300) { g_errors++; close_conn(c); return; }
    if (c->phase == 0) {
        if (!(c->blen && c->body[0] == 'o')) { g_errors++; close_conn(c); return; }
        c->phase = 1;
        xhr_req(c, "xhr_send", "[\"m\"]");
    } else if (c->phase == 1) {
        c->phase = 2;
        xhr_req(c, "xhr", NULL);
    } else {
        if (c->blen && c->body[0] == 'a') { if (g_measuring) g_cycles++; }
        else g_errors++;
        close_conn(c);
    }
}
static void churn_poll_connected(conn *c) {
    c->state = S_OPEN;
    c->phase = 0;
    snprintf(c->sid, sizeof c->sid, "c%d_%ld", c->idx, c->count++);
    xhr_req(c, "xhr", NULL);
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: loadgen MODE PORT key=value...\n"); return 2; }
    g_argc = argc;
    g_argv = argv;
    g_port = atoi(argv[2]);
    srand((unsigned)(now() * 1e6) ^ getpid());
    raise_nofile();
    g_ep = epoll_create1(0);
    g_path = opt("path", "/echo/000/x/websocket");
    g_sockjs = (int)optf("sockjs", 1);
    for (const char *sp = opt("spid", NULL); sp && *sp && g_nspids < 8;) {
        char *end;
        int pid = (int)strtol(sp, &end, 10);
        if (end == sp) break;
        if (pid > 0) g_spids[g_nspids++] = pid;
        sp = *end == ',' ? end + 1 : end;
    }
    g_srcs = (int)optf("srcs", 0);
    const char *m = argv[1];
    if (!strcmp(m, "ws_echo")) mode_ws_echo();
    else if (!strcmp(m, "bcast")) mode_bcast();
    else if (!strcmp(m, "http")) mode_http();
    else if (!strcmp(m, "xhr_poll")) mode_xhr_poll();
    else if (!strcmp(m, "xhr_stream")) mode_xhr_stream();
    else if (!strcmp(m, "idle")) mode_idle();
    else if (!strcmp(m, "churn")) mode_churn();
    else if (!strcmp(m, "hold")) mode_hold();
    else { fprintf(stderr, "unknown mode %s\n", m); return 2; }
    fflush(stdout);
    return 0;
}

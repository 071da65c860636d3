/*
 * wsload — a WebSocket (RFC 6455) echo load generator for scripts/bench.sh.
 *
 * Opens N connections, performs the HTTP/1.1 upgrade handshake on each (random
 * Sec-WebSocket-Key, checks the 101 status and the Sec-WebSocket-Accept value), then keeps
 * DEPTH masked text (or binary) messages of SIZE bytes in flight per connection: every echo
 * that comes back is checked (opcode, length, payload) and answered with the next message.
 * Round trips completed inside the measured window (after the warm-up) are counted and their
 * latencies go into a log-linear histogram. No extension (no compression) is offered.
 *
 * Build: cc -O2 -o /tmp/wsload wsload.c   (libc only; -pthread for --threads > 1 on old libcs)
 *
 * Usage: wsload --port P [--host 127.0.0.1] [--path /ws/echo] [--connections 64]
 *               [--duration 10] [--size 32] [--depth 1] [--warmup 0] [--threads 1]
 *               [--binary] [--marks] [--check]
 *   --marks  prints "# window start" and "# window end" lines (flushed) when the measured
 *            window opens and closes, so a caller can sample the server's CPU time.
 *   --check  one connection, one message: prints {"status": S, "echo": true|false} and exits
 *            0 if the upgrade and the echo worked, 3 if it could not connect, 4 if the
 *            upgrade was refused (S is the HTTP status), 5 if the echo was wrong.
 *
 * Output: one JSON line
 *   {"messages": n, "seconds": s, "messages_per_sec": r, "p50_us": .., "p99_us": .., "errors": e, ...}
 * Exit status: 0 if at least one round trip completed and there were no errors, 1 otherwise,
 * 2 on bad arguments or the hard time limit (warm-up + duration + 5 s after the handshakes).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------ */
/* SHA-1 (FIPS 180-4) and base64, just enough for Sec-WebSocket-Accept. */

typedef struct {
    uint32_t h[5];
    uint64_t bytes;
    uint8_t block[64];
    size_t used;
} sha1_ctx;

static uint32_t rol32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1_compress(uint32_t h[5], const uint8_t *p) {
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++) w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999u; }
        else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1u; }
        else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDCu; }
        else { f = b ^ c ^ d; k = 0xCA62C1D6u; }
        uint32_t t = rol32(a, 5) + f + e + k + w[i];
        e = d; d = c; c = rol32(b, 30); b = a; a = t;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

static void sha1_init(sha1_ctx *c) {
    static const uint32_t iv[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
    memcpy(c->h, iv, sizeof iv);
    c->bytes = 0;
    c->used = 0;
}

static void sha1_update(sha1_ctx *c, const void *data, size_t n) {
    const uint8_t *p = data;
    c->bytes += n;
    while (n > 0) {
        size_t take = 64 - c->used < n ? 64 - c->used : n;
        memcpy(c->block + c->used, p, take);
        c->used += take; p += take; n -= take;
        if (c->used == 64) { sha1_compress(c->h, c->block); c->used = 0; }
    }
}

static void sha1_final(sha1_ctx *c, uint8_t out[20]) {
    uint64_t bits = c->bytes * 8;
    uint8_t pad = 0x80, zero = 0, len[8];
    sha1_update(c, &pad, 1);
    while (c->used != 56) sha1_update(c, &zero, 1);
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha1_update(c, len, 8);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(c->h[i] >> 24); out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->h[i] >> 8); out[4 * i + 3] = (uint8_t)c->h[i];
    }
}

/* Writes the base64 of n bytes and a NUL to out (4 * ceil(n / 3) + 1 bytes). */
static void base64(const uint8_t *in, size_t n, char *out) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? alphabet[v & 63] : '=';
    }
    out[o] = 0;
}

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)) (RFC 6455 §4.2.2). */
static void websocket_accept(const char *key, char out[29]) {
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    sha1_ctx c;
    uint8_t digest[20];
    sha1_init(&c);
    sha1_update(&c, key, strlen(key));
    sha1_update(&c, guid, sizeof guid - 1);
    sha1_final(&c, digest);
    base64(digest, 20, out);
}

/* ------------------------------------------------------------------------------------------ */
/* Settings, clock, randomness, histogram. */

static const char *opt_host = "127.0.0.1";
static int opt_port = 0;
static const char *opt_path = "/ws/echo";
static int opt_connections = 64;
static double opt_duration = 10;
static double opt_warmup = 0;
static size_t opt_size = 32;
static int opt_depth = 1;
static int opt_threads = 1;
static int opt_binary = 0;
static int opt_marks = 0;
static int opt_check = 0;

static struct sockaddr_storage server_addr;
static socklen_t server_addr_len;
static uint8_t *pattern; /* 'a'..'z' repeated, opt_size + 26 bytes: payload of seq s = pattern + s % 26 */

#define HANDSHAKE_TIMEOUT_NS 5000000000ull
#define CLOSE_TIMEOUT_NS 1000000000ull

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void fill_random(void *buf, size_t n) {
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            /* Fall back to the clock: keys need to be fresh, not secret, for a load generator. */
            uint64_t t = now_ns() ^ (uint64_t)(uintptr_t)p;
            for (size_t i = 0; i < n; i++) { t = t * 6364136223846793005ull + 1442695040888963407ull; p[i] = (uint8_t)(t >> 56); }
            return;
        }
        p += got;
        n -= (size_t)got;
    }
}

static uint64_t xorshift(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return *s = x;
}

/* Log-linear histogram of nanoseconds: exact below 128, then 64 sub-buckets per power of two
 * (relative error under 1 %). */
#define HIST_BUCKETS (128 + 58 * 64)
typedef struct { uint64_t count[HIST_BUCKETS]; } histogram;

static int hist_index(uint64_t v) {
    if (v < 128) return (int)v;
    int shift = 63 - __builtin_clzll(v) - 6; /* v >> shift is in [64, 127] */
    int i = 128 + (shift - 1) * 64 + (int)((v >> shift) - 64);
    return i < HIST_BUCKETS ? i : HIST_BUCKETS - 1;
}

static uint64_t hist_value(int i) {
    if (i < 128) return (uint64_t)i;
    int shift = (i - 128) / 64 + 1;
    uint64_t m = (uint64_t)((i - 128) % 64 + 64);
    return (m << shift) + ((1ull << shift) >> 1);
}

/* The q-quantile (0..1) in nanoseconds, or -1 if empty. */
static double hist_quantile(const histogram *h, double q) {
    uint64_t total = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) total += h->count[i];
    if (total == 0) return -1;
    uint64_t rank = (uint64_t)(q * (double)total);
    if (rank >= total) rank = total - 1;
    uint64_t seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += h->count[i];
        if (seen > rank) return (double)hist_value(i);
    }
    return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* Connections. */

enum { ST_CONNECTING, ST_HANDSHAKE, ST_READY, ST_OPEN, ST_CLOSING, ST_DONE };

typedef struct {
    int fd;
    int state;
    char key[25];
    char accept[29];
    uint8_t *rbuf; /* unparsed input: rbuf[0..rlen) */
    size_t rlen, rcap;
    uint8_t *wbuf; /* pending output: wbuf[woff..wlen) */
    size_t wlen, woff, wcap;
    int want_out; /* EPOLLOUT is registered */
    uint64_t *sent_at; /* ring of DEPTH send times, oldest first from head */
    int head, inflight;
    uint64_t next_seq, recv_seq; /* seq of the next message to send / the oldest one in flight */
    int in_message; /* a fragmented data message is being received */
    size_t msg_off; /* payload bytes of the current message received so far */
    uint64_t close_deadline;
} conn;

typedef struct {
    int id;
    conn *conns;
    int nconns;
    int epfd;
    uint64_t rng;
    histogram hist;
    uint64_t messages; /* round trips completed inside the window */
    uint64_t errors, connect_errors, handshake_errors, protocol_errors;
    int handshake_status; /* last non-101 status seen, for --check */
    int echo_ok; /* --check: the one echo matched */
    int open; /* connections that completed the upgrade */
    int active; /* connections in ST_OPEN */
    char first_error[160];
    pthread_t thread;
} worker;

/* Shared timeline, set once all workers finished their handshakes. */
static pthread_barrier_t barrier;
static volatile uint64_t t_go, t_window_start, t_window_end;
static volatile sig_atomic_t hard_stop = 0;

static void note_error(worker *w, uint64_t *kind, const char *fmt, ...) {
    (*kind)++;
    w->errors++;
    if (w->first_error[0] == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->first_error, sizeof w->first_error, fmt, ap);
        va_end(ap);
        for (char *p = w->first_error; *p; p++)
            if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) *p = '\'';
    }
}

static void reserve(uint8_t **buf, size_t *cap, size_t need) {
    if (need <= *cap) return;
    size_t n = *cap ? *cap : 4096;
    while (n < need) n *= 2;
    uint8_t *p = realloc(*buf, n);
    if (!p) { fprintf(stderr, "wsload: out of memory\n"); exit(2); }
    *buf = p;
    *cap = n;
}

static void set_events(worker *w, conn *c, int want_out) {
    if (c->want_out == want_out) return;
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want_out;
}

static void close_conn(worker *w, conn *c) {
    if (c->state == ST_OPEN) w->active--;
    if (c->fd >= 0) {
        epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    c->state = ST_DONE;
}

/* Appends a masked frame with the given opcode and payload (payload may be NULL: the message
 * pattern for seq is used). */
static void queue_frame(worker *w, conn *c, int opcode, const uint8_t *payload, size_t n) {
    reserve(&c->wbuf, &c->wcap, c->wlen + n + 14);
    uint8_t *p = c->wbuf + c->wlen;
    *p++ = (uint8_t)(0x80 | opcode);
    if (n < 126) {
        *p++ = (uint8_t)(0x80 | n);
    } else if (n <= 0xFFFF) {
        *p++ = 0x80 | 126;
        *p++ = (uint8_t)(n >> 8); *p++ = (uint8_t)n;
    } else {
        *p++ = 0x80 | 127;
        for (int i = 7; i >= 0; i--) *p++ = (uint8_t)((uint64_t)n >> (8 * i));
    }
    uint32_t key = (uint32_t)xorshift(&w->rng);
    uint8_t mask[4];
    memcpy(mask, &key, 4);
    memcpy(p, mask, 4);
    p += 4;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) { /* 8 bytes at a time; the key repeats every 4 */
        uint64_t v, k = (uint64_t)key | (uint64_t)key << 32;
        memcpy(&v, payload + i, 8);
        v ^= k;
        memcpy(p + i, &v, 8);
    }
    for (; i < n; i++) p[i] = payload[i] ^ mask[i & 3];
    c->wlen = (size_t)(p - c->wbuf) + n;
}

static void queue_message(worker *w, conn *c, uint64_t now) {
    queue_frame(w, c, opt_binary ? 0x2 : 0x1, pattern + c->next_seq % 26, opt_size);
    c->sent_at[(c->head + c->inflight) % opt_depth] = now;
    c->inflight++;
    c->next_seq++;
}

static void start_closing(worker *w, conn *c, uint64_t now) {
    static const uint8_t normal[2] = {0x03, 0xE8}; /* 1000 */
    queue_frame(w, c, 0x8, normal, 2);
    if (c->state == ST_OPEN) w->active--;
    c->state = ST_CLOSING;
    c->close_deadline = now + CLOSE_TIMEOUT_NS;
}

/* Writes pending output; returns -1 if the connection failed. */
static int flush_conn(worker *w, conn *c) {
    while (c->woff < c->wlen) {
        ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (n > 0) { c->woff += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) { set_events(w, c, 1); return 0; }
        return -1;
    }
    c->woff = c->wlen = 0;
    set_events(w, c, 0);
    return 0;
}

static void start_connect(worker *w, conn *c) {
    c->fd = socket(server_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) { note_error(w, &w->connect_errors, "socket: %s", strerror(errno)); c->state = ST_DONE; return; }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&server_addr, server_addr_len) < 0 && errno != EINPROGRESS) {
        note_error(w, &w->connect_errors, "connect: %s", strerror(errno));
        close(c->fd); c->fd = -1; c->state = ST_DONE;
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev);
    c->want_out = 1;
    c->state = ST_CONNECTING;
}

static void send_upgrade(conn *c) {
    uint8_t nonce[16];
    fill_random(nonce, sizeof nonce);
    base64(nonce, sizeof nonce, c->key);
    websocket_accept(c->key, c->accept);
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nUser-Agent: wsload\r\n\r\n",
                     opt_path, opt_host, opt_port, c->key);
    reserve(&c->wbuf, &c->wcap, c->wlen + (size_t)n);
    memcpy(c->wbuf + c->wlen, req, (size_t)n);
    c->wlen += (size_t)n;
    c->state = ST_HANDSHAKE;
}

/* Value of header `name` in the response head (NUL-terminated, lines end in CRLF), copied into
 * out; returns 0 if absent. */
static int header_value(const char *head, const char *name, char *out, size_t outlen) {
    size_t nlen = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line && line[2]; line = strstr(line + 2, "\r\n")) {
        const char *l = line + 2;
        if (strncasecmp(l, name, nlen) == 0 && l[nlen] == ':') {
            const char *v = l + nlen + 1;
            while (*v == ' ' || *v == '\t') v++;
            const char *end = strstr(v, "\r\n");
            size_t len = end ? (size_t)(end - v) : strlen(v);
            while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t')) len--;
            if (len >= outlen) len = outlen - 1;
            memcpy(out, v, len);
            out[len] = 0;
            return 1;
        }
    }
    return 0;
}

/* Parses the upgrade response once it is complete; returns 1 done, 0 need more, -1 failed. */
static int parse_upgrade(worker *w, conn *c) {
    uint8_t *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
    if (!end) {
        if (c->rlen > 16384) { note_error(w, &w->handshake_errors, "upgrade response head too long"); return -1; }
        return 0;
    }
    size_t headlen = (size_t)(end - c->rbuf) + 4;
    char *head = malloc(headlen + 1);
    memcpy(head, c->rbuf, headlen);
    head[headlen] = 0;
    int status = 0, ok = 0;
    char value[256];
    if (sscanf(head, "HTTP/1.%*d %d", &status) != 1) {
        note_error(w, &w->handshake_errors, "bad upgrade response");
    } else if (status != 101) {
        w->handshake_status = status;
        note_error(w, &w->handshake_errors, "upgrade refused with status %d", status);
    } else if (!header_value(head, "Sec-WebSocket-Accept", value, sizeof value) || strcmp(value, c->accept) != 0) {
        w->handshake_status = status;
        note_error(w, &w->handshake_errors, "wrong or missing Sec-WebSocket-Accept");
    } else if (header_value(head, "Sec-WebSocket-Extensions", value, sizeof value) && value[0]) {
        w->handshake_status = status;
        note_error(w, &w->handshake_errors, "server chose an extension that was not offered: %s", value);
    } else {
        w->handshake_status = status;
        ok = 1;
    }
    free(head);
    if (!ok) return -1;
    /* Frames that came with the head stay in the buffer. */
    memmove(c->rbuf, c->rbuf + headlen, c->rlen - headlen);
    c->rlen -= headlen;
    c->state = ST_READY;
    w->open++;
    return 1;
}

/* Parses whole frames in rbuf. Returns -1 if the connection must be dropped. */
static int parse_frames(worker *w, conn *c, uint64_t now) {
    size_t pos = 0;
    int failed = 0;
    while (c->rlen - pos >= 2) {
        const uint8_t *p = c->rbuf + pos;
        size_t avail = c->rlen - pos;
        int fin = p[0] & 0x80, rsv = p[0] & 0x70, opcode = p[0] & 0x0F;
        int masked = p[1] & 0x80;
        uint64_t len = p[1] & 0x7F;
        size_t hdr = 2;
        if (len == 126) {
            if (avail < 4) break;
            len = (uint64_t)p[2] << 8 | p[3];
            hdr = 4;
        } else if (len == 127) {
            if (avail < 10) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = len << 8 | p[2 + i];
            hdr = 10;
        }
        if (masked) hdr += 4;
        if (rsv || masked || len > (1ull << 31)) {
            note_error(w, &w->protocol_errors, "bad frame from server (rsv %d, masked %d, length %llu)", rsv >> 4,
                       masked != 0, (unsigned long long)len);
            failed = 1;
            break;
        }
        if (avail < hdr + len) {
            reserve(&c->rbuf, &c->rcap, hdr + (size_t)len); /* room for the whole frame once compacted */
            break;
        }
        const uint8_t *payload = p + hdr;
        pos += hdr + (size_t)len;

        if (opcode == 0x8) { /* close */
            if (c->state != ST_CLOSING) {
                int code = len >= 2 ? payload[0] << 8 | payload[1] : 1005;
                note_error(w, &w->protocol_errors, "server closed the connection with code %d", code);
            }
            failed = 1;
            break;
        } else if (opcode == 0x9) { /* ping: answer with a pong carrying the same payload */
            queue_frame(w, c, 0xA, payload, (size_t)len);
            continue;
        } else if (opcode == 0xA) { /* pong */
            continue;
        }
        /* Data: a text/binary frame starts a message, continuation frames extend it. */
        if (opcode == 0x1 || opcode == 0x2) {
            if (c->in_message) { note_error(w, &w->protocol_errors, "new message inside a fragmented one"); failed = 1; break; }
            if (opcode != (opt_binary ? 0x2 : 0x1)) {
                note_error(w, &w->protocol_errors, "echo came back as %s", opcode == 0x1 ? "text" : "binary");
                failed = 1;
                break;
            }
            c->in_message = 1;
            c->msg_off = 0;
        } else if (opcode != 0x0 || !c->in_message) {
            note_error(w, &w->protocol_errors, "unexpected opcode %d", opcode);
            failed = 1;
            break;
        }
        if (c->state == ST_CLOSING) { if (fin) c->in_message = 0; continue; }
        if (c->inflight == 0 || c->msg_off + len > opt_size ||
            memcmp(payload, pattern + c->recv_seq % 26 + c->msg_off, (size_t)len) != 0) {
            note_error(w, &w->protocol_errors, "echo payload differs from the message sent");
            failed = 1;
            break;
        }
        c->msg_off += (size_t)len;
        if (!fin) continue;
        if (c->msg_off != opt_size) {
            note_error(w, &w->protocol_errors, "echo is %zu bytes, sent %zu", c->msg_off, opt_size);
            failed = 1;
            break;
        }
        c->in_message = 0;
        /* One round trip done. */
        uint64_t sent = c->sent_at[c->head];
        c->head = (c->head + 1) % opt_depth;
        c->inflight--;
        c->recv_seq++;
        if (opt_check) { w->echo_ok = 1; continue; }
        if (t_window_start && now >= t_window_start && now < t_window_end) {
            w->messages++;
            w->hist.count[hist_index(now - sent)]++;
        }
        if (now < t_window_end) queue_message(w, c, now);
    }
    memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
    c->rlen -= pos;
    return failed ? -1 : 0;
}

static void on_readable(worker *w, conn *c, uint64_t now) {
    for (;;) {
        reserve(&c->rbuf, &c->rcap, c->rlen + 16384);
        size_t room = c->rcap - c->rlen;
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, room, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n <= 0) {
            if (c->state != ST_CLOSING) {
                if (c->state == ST_HANDSHAKE || c->state == ST_CONNECTING)
                    note_error(w, &w->handshake_errors, "connection closed during the upgrade: %s",
                               n == 0 ? "end of stream" : strerror(errno));
                else
                    note_error(w, &w->protocol_errors, "connection lost: %s", n == 0 ? "end of stream" : strerror(errno));
            }
            close_conn(w, c);
            return;
        }
        c->rlen += (size_t)n;
        if (c->state == ST_HANDSHAKE) {
            int r = parse_upgrade(w, c);
            if (r < 0) { close_conn(w, c); return; }
            if (r == 0) continue;
        }
        if (c->state == ST_OPEN || c->state == ST_CLOSING) {
            if (parse_frames(w, c, now) < 0) { close_conn(w, c); return; }
        }
        if ((size_t)n < room) break; /* drained, most likely: spare the extra EAGAIN call */
    }
    if (c->fd >= 0 && flush_conn(w, c) < 0) {
        if (c->state != ST_CLOSING) note_error(w, &w->protocol_errors, "send failed: %s", strerror(errno));
        close_conn(w, c);
    }
}

static void on_writable(worker *w, conn *c) {
    if (c->state == ST_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) { note_error(w, &w->connect_errors, "connect: %s", strerror(err)); close_conn(w, c); return; }
        send_upgrade(c);
    }
    if (flush_conn(w, c) < 0) {
        note_error(w, c->state == ST_HANDSHAKE ? &w->handshake_errors : &w->protocol_errors, "send failed: %s",
                   strerror(errno));
        close_conn(w, c);
    }
}

static void poll_once(worker *w, int timeout_ms) {
    struct epoll_event events[256];
    int n = epoll_wait(w->epfd, events, 256, timeout_ms);
    if (n <= 0) return;
    uint64_t now = now_ns();
    for (int i = 0; i < n; i++) {
        conn *c = events[i].data.ptr;
        if (c->fd < 0) continue;
        uint32_t ev = events[i].events;
        if ((ev & EPOLLOUT) || (c->state == ST_CONNECTING && (ev & (EPOLLERR | EPOLLHUP)))) on_writable(w, c);
        if (c->fd >= 0 && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) && c->state != ST_CONNECTING) on_readable(w, c, now);
    }
}

static void *run_worker(void *arg) {
    worker *w = arg;
    /* 1. Connect and upgrade, bounded. */
    uint64_t deadline = now_ns() + HANDSHAKE_TIMEOUT_NS;
    for (int i = 0; i < w->nconns; i++) start_connect(w, &w->conns[i]);
    for (;;) {
        int pending = 0;
        for (int i = 0; i < w->nconns; i++)
            if (w->conns[i].state == ST_CONNECTING || w->conns[i].state == ST_HANDSHAKE) pending++;
        if (!pending || hard_stop) break;
        uint64_t now = now_ns();
        if (now >= deadline) {
            for (int i = 0; i < w->nconns; i++) {
                conn *c = &w->conns[i];
                if (c->state == ST_CONNECTING || c->state == ST_HANDSHAKE) {
                    note_error(w, &w->handshake_errors, "upgrade timed out");
                    close_conn(w, c);
                }
            }
            break;
        }
        poll_once(w, 10);
    }
    /* 2. Everybody starts together. */
    if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD) {
        uint64_t go = now_ns();
        t_go = go;
        t_window_start = go + (uint64_t)(opt_warmup * 1e9);
        t_window_end = t_window_start + (uint64_t)(opt_duration * 1e9);
        /* The hard limit from here on: warm-up + duration + 5 s. */
        alarm(opt_check ? 5 : (unsigned)(opt_warmup + opt_duration + 0.999) + 5);
    }
    pthread_barrier_wait(&barrier);
    uint64_t now = now_ns();
    for (int i = 0; i < w->nconns; i++) {
        conn *c = &w->conns[i];
        if (c->state != ST_READY) continue;
        c->state = ST_OPEN;
        w->active++;
        int first = opt_check ? 1 : opt_depth;
        for (int k = 0; k < first; k++) queue_message(w, c, now);
        /* Frames that arrived with the upgrade response (a ping, say). */
        if (c->rlen && parse_frames(w, c, now) < 0) { close_conn(w, c); continue; }
        if (flush_conn(w, c) < 0) { note_error(w, &w->protocol_errors, "send failed: %s", strerror(errno)); close_conn(w, c); }
    }
    /* 3. Load until the window closes (or, for --check, until the echo or 2 s). */
    int marked_start = 0;
    uint64_t end = opt_check ? now + 2000000000ull : t_window_end;
    for (;;) {
        now = now_ns();
        if (hard_stop || now >= end) break;
        if (opt_check && (w->echo_ok || w->errors)) break;
        if (opt_marks && w->id == 0 && !marked_start && now >= t_window_start) {
            printf("# window start\n");
            fflush(stdout);
            marked_start = 1;
        }
        if (!w->active) break;
        uint64_t next = !marked_start && t_window_start > now ? t_window_start : end;
        uint64_t wait_ms = (next - now) / 1000000 + 1;
        poll_once(w, wait_ms > 50 ? 50 : (int)wait_ms);
    }
    if (opt_marks && w->id == 0) {
        if (!marked_start) printf("# window start\n");
        printf("# window end\n");
        fflush(stdout);
    }
    /* 4. Close politely: close frame, then wait (bounded) for the server's close or EOF. */
    now = now_ns();
    for (int i = 0; i < w->nconns; i++) {
        conn *c = &w->conns[i];
        if (c->state != ST_OPEN) continue;
        start_closing(w, c, now);
        if (flush_conn(w, c) < 0) close_conn(w, c);
    }
    for (;;) {
        int closing = 0;
        now = now_ns();
        for (int i = 0; i < w->nconns; i++) {
            conn *c = &w->conns[i];
            if (c->state != ST_CLOSING) continue;
            if (now >= c->close_deadline || hard_stop) close_conn(w, c);
            else closing++;
        }
        if (!closing) break;
        poll_once(w, 10);
    }
    for (int i = 0; i < w->nconns; i++) close_conn(w, &w->conns[i]);
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "{\"messages\": 0, \"seconds\": 0, \"messages_per_sec\": 0, \"p50_us\": null, "
                              "\"p99_us\": null, \"errors\": 1, \"first_error\": \"hard time limit reached\"}\n";
    hard_stop = 1;
    if (write(STDOUT_FILENO, msg, sizeof msg - 1) < 0) { /* nothing more to do */ }
    _exit(2);
}

static void usage(void) {
    fprintf(stderr,
            "usage: wsload --port P [--host H] [--path /ws/echo] [--connections 64] [--duration S] [--size 32]\n"
            "              [--depth 1] [--warmup S] [--threads 1] [--binary] [--marks] [--check]\n");
    exit(2);
}

static double number_arg(const char *flag, const char *v, double min, double max) {
    char *end;
    double d = v ? strtod(v, &end) : 0;
    if (!v || *end || d < min || d > max) { fprintf(stderr, "wsload: bad value for %s\n", flag); usage(); }
    return d;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--host") && v) { opt_host = v; i++; }
        else if (!strcmp(a, "--port")) { opt_port = (int)number_arg(a, v, 1, 65535); i++; }
        else if (!strcmp(a, "--path") && v) { opt_path = v; i++; }
        else if (!strcmp(a, "--connections")) { opt_connections = (int)number_arg(a, v, 1, 100000); i++; }
        else if (!strcmp(a, "--duration")) { opt_duration = number_arg(a, v, 0.01, 86400); i++; }
        else if (!strcmp(a, "--warmup")) { opt_warmup = number_arg(a, v, 0, 3600); i++; }
        else if (!strcmp(a, "--size")) { opt_size = (size_t)number_arg(a, v, 0, 1 << 30); i++; }
        else if (!strcmp(a, "--depth")) { opt_depth = (int)number_arg(a, v, 1, 1 << 16); i++; }
        else if (!strcmp(a, "--threads")) { opt_threads = (int)number_arg(a, v, 1, 64); i++; }
        else if (!strcmp(a, "--binary")) opt_binary = 1;
        else if (!strcmp(a, "--marks")) opt_marks = 1;
        else if (!strcmp(a, "--check")) opt_check = 1;
        else usage();
    }
    if (!opt_port) usage();
    if (opt_check) { opt_connections = 1; opt_threads = 1; opt_depth = 1; opt_warmup = 0; opt_marks = 0; }
    if (opt_threads > opt_connections) opt_threads = opt_connections;

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    char port[16];
    snprintf(port, sizeof port, "%d", opt_port);
    int gai = getaddrinfo(opt_host, port, &hints, &res);
    if (gai) { fprintf(stderr, "wsload: %s: %s\n", opt_host, gai_strerror(gai)); return 2; }
    memcpy(&server_addr, res->ai_addr, res->ai_addrlen);
    server_addr_len = res->ai_addrlen;
    freeaddrinfo(res);

    pattern = malloc(opt_size + 26);
    for (size_t i = 0; i < opt_size + 26; i++) pattern[i] = (uint8_t)('a' + i % 26);

    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    alarm((unsigned)(HANDSHAKE_TIMEOUT_NS / 1000000000ull) + 2); /* the upgrade phase; re-armed at the start */

    worker *workers = calloc((size_t)opt_threads, sizeof *workers);
    conn *conns = calloc((size_t)opt_connections, sizeof *conns);
    for (int i = 0; i < opt_connections; i++) {
        conns[i].fd = -1;
        conns[i].sent_at = calloc((size_t)opt_depth, sizeof(uint64_t));
    }
    pthread_barrier_init(&barrier, NULL, (unsigned)opt_threads);
    int base = 0;
    for (int t = 0; t < opt_threads; t++) {
        worker *w = &workers[t];
        w->id = t;
        w->conns = conns + base;
        w->nconns = opt_connections / opt_threads + (t < opt_connections % opt_threads);
        base += w->nconns;
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        fill_random(&w->rng, sizeof w->rng);
        w->rng |= 1;
    }
    for (int t = 1; t < opt_threads; t++) pthread_create(&workers[t].thread, NULL, run_worker, &workers[t]);
    run_worker(&workers[0]);
    for (int t = 1; t < opt_threads; t++) pthread_join(workers[t].thread, NULL);
    alarm(0);

    histogram *all = calloc(1, sizeof *all);
    uint64_t messages = 0, errors = 0, ce = 0, he = 0, pe = 0;
    int open = 0, status = 0, echo_ok = 0;
    const char *first_error = "";
    for (int t = 0; t < opt_threads; t++) {
        worker *w = &workers[t];
        messages += w->messages; errors += w->errors;
        ce += w->connect_errors; he += w->handshake_errors; pe += w->protocol_errors;
        open += w->open;
        if (w->handshake_status) status = w->handshake_status;
        echo_ok |= w->echo_ok;
        if (!first_error[0] && w->first_error[0]) first_error = w->first_error;
        for (int i = 0; i < HIST_BUCKETS; i++) all->count[i] += w->hist.count[i];
    }
    if (first_error[0]) fprintf(stderr, "wsload: %s\n", first_error);

    if (opt_check) {
        printf("{\"status\": %d, \"echo\": %s, \"first_error\": \"%s\"}\n", status, echo_ok ? "true" : "false", first_error);
        if (echo_ok && !errors) return 0;
        if (ce || (he && status == 0)) return 3;
        if (status != 101) return 4;
        return 5;
    }

    char p50[32] = "null", p90[32] = "null", p99[32] = "null", p999[32] = "null", max[32] = "null";
    if (messages) {
        snprintf(p50, sizeof p50, "%.1f", hist_quantile(all, 0.50) / 1e3);
        snprintf(p90, sizeof p90, "%.1f", hist_quantile(all, 0.90) / 1e3);
        snprintf(p99, sizeof p99, "%.1f", hist_quantile(all, 0.99) / 1e3);
        snprintf(p999, sizeof p999, "%.1f", hist_quantile(all, 0.999) / 1e3);
        snprintf(max, sizeof max, "%.1f", hist_quantile(all, 1.0) / 1e3);
    }
    printf("{\"messages\": %llu, \"seconds\": %.3f, \"messages_per_sec\": %.1f, \"p50_us\": %s, \"p99_us\": %s, "
           "\"errors\": %llu, \"p90_us\": %s, \"p999_us\": %s, \"max_us\": %s, \"connections\": %d, \"open\": %d, "
           "\"size\": %zu, \"depth\": %d, \"threads\": %d, \"type\": \"%s\", \"connect_errors\": %llu, "
           "\"handshake_errors\": %llu, \"protocol_errors\": %llu, \"first_error\": \"%s\"}\n",
           (unsigned long long)messages, opt_duration, (double)messages / opt_duration, p50, p99,
           (unsigned long long)errors, p90, p999, max, opt_connections, open, opt_size, opt_depth, opt_threads,
           opt_binary ? "binary" : "text", (unsigned long long)ce, (unsigned long long)he, (unsigned long long)pe,
           first_error);
    return messages > 0 && errors == 0 ? 0 : 1;
}

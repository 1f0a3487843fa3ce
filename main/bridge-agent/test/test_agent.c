#define _POSIX_C_SOURCE 200809L
/*
 * Host-built unit tests of the agent core: the shared vectors in vectors.txt (COBS, CRC-32C,
 * golden frames, and request -> reply exchanges that test/unit/serialBridge checks too), garbage
 * input, the reply cache and watches. Usage: test_agent vectors.txt
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bridge.h"

static int failures, checks;

#define CHECK(cond, ...)                                                 \
    do {                                                                 \
        checks++;                                                        \
        if (!(cond)) {                                                   \
            failures++;                                                  \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);         \
            fprintf(stderr, __VA_ARGS__);                                \
            fputc('\n', stderr);                                         \
        }                                                                \
    } while (0)

/* ---- An agent over two arrays: the test board of vectors.txt ---- */

#define SRAM_BASE 0x10040000u
#define SRAM_SIZE 0x1000u
#define REGS_BASE 0x4c001000u
#define REGS_SIZE 0x400u

typedef struct test_ctx {
    /* A producer running during the agent's copy: the `inject_on`-th load of SRAM 0x800 from now
     * first publishes `inject` messages of tapped ring 1 (numbered from *inject_seq). */
    unsigned inject_on, inject;
    uint32_t *inject_seq;
    uint8_t sram[SRAM_SIZE];
    uint8_t regs[REGS_SIZE];
    uint8_t out[4 * BRIDGE_WIRE_MAX];
    size_t out_len;
    uint32_t now;
    unsigned stores;
} test_ctx;

static uint8_t *at(test_ctx *x, unsigned window, uint64_t offset) { return (window == 0 ? x->sram : x->regs) + offset; }

static void t_write(void *c, const uint8_t *d, size_t n)
{
    test_ctx *x = c;
    if (x->out_len + n <= sizeof x->out) memcpy(x->out + x->out_len, d, n);
    x->out_len += n;
}
static void tap_publish(test_ctx *x, unsigned r, uint32_t *seq, unsigned count);

static int t_load(void *c, unsigned w, uint64_t off, unsigned width, uint32_t *v)
{
    test_ctx *x = c;
    uint8_t *p = at(c, w, off);
    unsigned k;
    if (w == 0 && off == 0x800 && x->inject_on > 0 && --x->inject_on == 0) tap_publish(x, 1, x->inject_seq, x->inject);
    *v = 0;
    for (k = 0; k < width / 8; k++) *v |= (uint32_t)p[k] << (8 * k);
    return 0;
}
static int t_store(void *c, unsigned w, uint64_t off, unsigned width, uint32_t v)
{
    uint8_t *p = at(c, w, off);
    unsigned k;
    for (k = 0; k < width / 8; k++) p[k] = (uint8_t)(v >> (8 * k));
    ((test_ctx *)c)->stores++;
    return 0;
}
static void t_fence(void *c) { (void)c; }
static uint32_t t_now(void *c) { return ((test_ctx *)c)->now; }

static const bridge_hooks hooks = { NULL, t_write, t_load, t_store, t_fence, NULL, t_now };

static void setup(bridge_agent *a, test_ctx *x)
{
    unsigned i;
    memset(x, 0, sizeof *x);
    for (i = 0; i < SRAM_SIZE; i++) x->sram[i] = (uint8_t)i;
    bridge_agent_init(a, &hooks, x, "test-agent", "1.0");
    bridge_agent_add_window(a, SRAM_BASE, SRAM_SIZE, BRIDGE_WALL);
    bridge_agent_add_window(a, REGS_BASE, REGS_SIZE, BRIDGE_W32);
    bridge_agent_add_line(a, SRAM_BASE + 0xff0, 32, 1, 1);
}

/* ---- vectors.txt: tokens are hex bytes, ranges "01..fe", or "-" for nothing ---- */

static size_t parse_bytes(char **cursor, uint8_t *out, size_t cap)
{
    size_t n = 0;
    char *tok;
    while ((tok = strtok_r(NULL, " \t\r\n", cursor)) != NULL && strcmp(tok, "=") != 0) {
        unsigned lo, hi, b;
        if (strcmp(tok, "-") == 0) continue;
        if (sscanf(tok, "%x..%x", &lo, &hi) == 2 && strstr(tok, "..")) {
            for (b = lo; b <= hi && n < cap; b++) out[n++] = (uint8_t)b;
        } else if (n < cap) {
            out[n++] = (uint8_t)strtoul(tok, NULL, 16);
        }
    }
    return n;
}

static void vectors(const char *path)
{
    static uint8_t in[3 * BRIDGE_WIRE_MAX], want[3 * BRIDGE_WIRE_MAX], got[3 * BRIDGE_WIRE_MAX];
    static bridge_agent agent;
    static test_ctx ctx;
    char line[16384];
    int lineno = 0, exchanges = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    setup(&agent, &ctx);
    while (fgets(line, sizeof line, f)) {
        char *cursor, *kind = strtok_r(line, " \t\r\n", &cursor);
        size_t nin, nwant, n;
        lineno++;
        if (kind == NULL || kind[0] == '#') continue;
        if (strcmp(kind, "cobs") == 0) {
            nin = parse_bytes(&cursor, in, sizeof in);
            nwant = parse_bytes(&cursor, want, sizeof want);
            n = bridge_cobs_encode(in, nin, got);
            CHECK(n == nwant && memcmp(got, want, n) == 0, "line %d: COBS encode differs", lineno);
            n = bridge_cobs_decode(want, nwant, got);
            CHECK(n == nin && memcmp(got, in, n) == 0, "line %d: COBS decode differs", lineno);
        } else if (strcmp(kind, "crc") == 0) {
            nin = parse_bytes(&cursor, in, sizeof in);
            nwant = parse_bytes(&cursor, want, sizeof want);
            CHECK(nwant == 4 && bridge_crc32c(in, nin, 0) == ((uint32_t)want[0] << 24 | (uint32_t)want[1] << 16 | (uint32_t)want[2] << 8 | want[3]),
                  "line %d: CRC-32C differs (0x%08x)", lineno, (unsigned)bridge_crc32c(in, nin, 0));
        } else if (strcmp(kind, "frame") == 0) {
            /* frame TYPE SEQ payload = wire: decode the wire and compare the parts. */
            unsigned type = (unsigned)strtoul(strtok_r(NULL, " ", &cursor), NULL, 16);
            unsigned seq = (unsigned)strtoul(strtok_r(NULL, " ", &cursor), NULL, 16);
            nin = parse_bytes(&cursor, in, sizeof in);
            nwant = parse_bytes(&cursor, want, sizeof want);
            CHECK(nwant > 0 && want[nwant - 1] == 0, "line %d: wire frame must end in 0x00", lineno);
            n = bridge_cobs_decode(want, nwant - 1, got);
            CHECK(n == BRIDGE_HEADER + nin + BRIDGE_CRC && got[0] == BRIDGE_VERSION && got[1] == type && (got[2] | got[3] << 8) == (int)seq &&
                      (got[4] | got[5] << 8) == (int)nin && memcmp(got + BRIDGE_HEADER, in, nin) == 0,
                  "line %d: frame parts differ", lineno);
            CHECK(n >= 10 && bridge_crc32c(got, n - 4, 0) == ((uint32_t)got[n - 4] | (uint32_t)got[n - 3] << 8 | (uint32_t)got[n - 2] << 16 | (uint32_t)got[n - 1] << 24),
                  "line %d: frame CRC wrong", lineno);
        } else if (strcmp(kind, "exchange") == 0) {
            /* exchange request-wire = reply-wire, in order, on one agent set up as setup() does. */
            nin = parse_bytes(&cursor, in, sizeof in);
            nwant = parse_bytes(&cursor, want, sizeof want);
            ctx.out_len = 0;
            bridge_agent_feed(&agent, in, nin);
            CHECK(ctx.out_len == nwant && memcmp(ctx.out, want, nwant) == 0, "line %d: reply differs (%zu bytes, expected %zu)", lineno, ctx.out_len, nwant);
            if (getenv("PRINT_REPLIES")) {
                size_t k;
                printf("line %d reply:", lineno);
                for (k = 0; k < ctx.out_len; k++) printf(" %02x", ctx.out[k]);
                printf("\n");
            }
            exchanges++;
        } else {
            CHECK(0, "line %d: unknown vector kind %s", lineno, kind);
        }
    }
    fclose(f);
    CHECK(exchanges > 0, "no exchanges in %s", path);
}

/* ---- Behaviour ---- */

/* Builds a request frame on the wire; returns its length. */
static size_t request(uint8_t type, uint16_t seq, const uint8_t *payload, size_t plen, uint8_t *wire)
{
    uint8_t frame[BRIDGE_FRAME_MAX];
    uint32_t crc;
    size_t n;
    frame[0] = BRIDGE_VERSION;
    frame[1] = type;
    frame[2] = (uint8_t)seq;
    frame[3] = (uint8_t)(seq >> 8);
    frame[4] = (uint8_t)plen;
    frame[5] = (uint8_t)(plen >> 8);
    memcpy(frame + 6, payload, plen);
    crc = bridge_crc32c(frame, 6 + plen, 0);
    frame[6 + plen] = (uint8_t)crc;
    frame[7 + plen] = (uint8_t)(crc >> 8);
    frame[8 + plen] = (uint8_t)(crc >> 16);
    frame[9 + plen] = (uint8_t)(crc >> 24);
    n = bridge_cobs_encode(frame, 10 + plen, wire);
    wire[n++] = 0;
    return n;
}

/* Decodes the agent's single reply; returns its payload length, or -1. */
static int reply(test_ctx *x, uint8_t *type, uint16_t *seq, uint8_t *payload)
{
    uint8_t frame[BRIDGE_FRAME_MAX];
    size_t n;
    if (x->out_len < 2 || x->out[x->out_len - 1] != 0) return -1;
    n = bridge_cobs_decode(x->out, x->out_len - 1, frame);
    if (n == (size_t)-1 || n < 10) return -1;
    *type = frame[1];
    *seq = (uint16_t)(frame[2] | frame[3] << 8);
    memcpy(payload, frame + 6, n - 10);
    return (int)(n - 10);
}

static void test_crc_check_value(void)
{
    CHECK(bridge_crc32c((const uint8_t *)"123456789", 9, 0) == 0xE3069283u, "CRC-32C check value");
    CHECK(bridge_crc32c((const uint8_t *)"56789", 5, bridge_crc32c((const uint8_t *)"1234", 4, 0)) == 0xE3069283u, "CRC-32C continued");
}

static void test_garbage(void)
{
    static bridge_agent a;
    static test_ctx x;
    uint8_t buf[4096], wire[64], p[16];
    uint32_t seed = 12345;
    size_t i, n;
    int round;
    setup(&a, &x);
    for (round = 0; round < 200; round++) {
        for (i = 0; i < sizeof buf; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = (uint8_t)(seed >> 16);
            /* Some rounds without delimiters: overlong frames must be dropped, not overflow. */
            if (round % 4 == 0 && buf[i] == 0) buf[i] = 1;
        }
        bridge_agent_feed(&a, buf, sizeof buf);
    }
    CHECK(x.out_len == 0, "garbage produced %zu reply bytes", x.out_len);
    CHECK(x.stores == 0, "garbage wrote memory %u times", x.stores);
    CHECK(a.stats.bad_frames > 0 && a.stats.overruns > 0, "garbage counted (bad %u, overruns %u)", (unsigned)a.stats.bad_frames, (unsigned)a.stats.overruns);
    /* After garbage without a trailing delimiter, the next delimiter resynchronises. */
    memset(p, 0, sizeof p);
    n = request(BRIDGE_OP_FENCE, 9, p, 0, wire);
    bridge_agent_feed(&a, (const uint8_t *)"\x00", 1);
    bridge_agent_feed(&a, wire, n);
    CHECK(x.out_len > 0, "a valid frame after garbage is answered");
}

static void test_retry_cache(void)
{
    static bridge_agent a;
    static test_ctx x;
    uint8_t q[32], wire[64], first[64], p[BRIDGE_MAX_PAYLOAD], type;
    uint16_t seq;
    size_t n, first_len;
    setup(&a, &x);
    /* WRITE 0x10040100 width 32 = 11 22 33 44, seq 77 */
    memset(q, 0, sizeof q);
    q[0] = 0x00; q[1] = 0x01; q[2] = 0x04; q[3] = 0x10;
    q[8] = 32;
    q[9] = 0x11; q[10] = 0x22; q[11] = 0x33; q[12] = 0x44;
    n = request(BRIDGE_OP_WRITE, 77, q, 13, wire);
    bridge_agent_feed(&a, wire, n);
    CHECK(reply(&x, &type, &seq, p) == 1 && type == (BRIDGE_OP_WRITE | BRIDGE_REPLY) && seq == 77 && p[0] == BRIDGE_OK, "WRITE acknowledged");
    CHECK(memcmp(x.sram + 0x100, "\x11\x22\x33\x44", 4) == 0, "WRITE applied");
    memcpy(first, x.out, x.out_len);
    first_len = x.out_len;
    /* The peer changes the word; a retransmission must not write it again. */
    memcpy(x.sram + 0x100, "\xaa\xbb\xcc\xdd", 4);
    x.out_len = 0;
    bridge_agent_feed(&a, wire, n);
    CHECK(x.out_len == first_len && memcmp(x.out, first, first_len) == 0, "retransmission gets the cached reply byte for byte");
    CHECK(memcmp(x.sram + 0x100, "\xaa\xbb\xcc\xdd", 4) == 0, "retransmitted WRITE not applied twice");
    CHECK(a.stats.retries == 1, "retry counted");
    /* Same seq, different request (a new host): executed. */
    q[9] = 0x55;
    n = request(BRIDGE_OP_WRITE, 77, q, 13, wire);
    x.out_len = 0;
    bridge_agent_feed(&a, wire, n);
    CHECK(x.sram[0x100] == 0x55, "same seq with other content is a new request");
    /* NOTIFY on a counter line: retransmissions add once. */
    memset(q, 0, 5);
    n = request(BRIDGE_OP_NOTIFY, 78, q, 5, wire);
    x.sram[0xff0] = x.sram[0xff1] = x.sram[0xff2] = x.sram[0xff3] = 0;
    bridge_agent_feed(&a, wire, n);
    bridge_agent_feed(&a, wire, n);
    bridge_agent_feed(&a, wire, n);
    CHECK(x.sram[0xff0] == 1, "NOTIFY +1 applied exactly once over 3 transmissions (counter %u)", x.sram[0xff0]);
}

static void test_refused_write_changes_nothing(void)
{
    static bridge_agent a;
    static test_ctx x;
    uint8_t q[32], wire[64], p[64], type;
    uint16_t seq;
    size_t n;
    setup(&a, &x);
    /* 12 bytes with width 32 into the 32-bit-only register window at an unaligned length. */
    memset(q, 0, sizeof q);
    q[0] = 0x00; q[1] = 0x10; q[2] = 0x00; q[3] = 0x4c;
    q[8] = 0;
    q[9] = 1; q[10] = 2; q[11] = 3; q[12] = 4; q[13] = 5; q[14] = 6;
    n = request(BRIDGE_OP_WRITE, 1, q, 15, wire);
    bridge_agent_feed(&a, wire, n);
    CHECK(reply(&x, &type, &seq, p) == 12 && p[0] == BRIDGE_UNALIGNED, "6 bytes into a 32-bit-only window is UNALIGNED (status %u)", p[0]);
    CHECK(x.stores == 0, "nothing of a refused WRITE is stored");
}

static void test_watch(void)
{
    static bridge_agent a;
    static test_ctx x;
    uint8_t q[32], wire[64], p[64], type;
    uint16_t seq;
    size_t n;
    setup(&a, &x);
    CHECK(bridge_agent_poll(&a) == UINT32_MAX, "no watches: nothing due");
    /* WATCH slot 2, width 32, mask 0x10, addr 0x4c00101c, interval 500 us */
    memset(q, 0, sizeof q);
    q[0] = 2; q[1] = 32; q[4] = 0x10;
    q[8] = 0x1c; q[9] = 0x10; q[10] = 0x00; q[11] = 0x4c;
    q[16] = 0xf4; q[17] = 0x01;
    n = request(BRIDGE_OP_WATCH, 5, q, 20, wire);
    bridge_agent_feed(&a, wire, n);
    CHECK(reply(&x, &type, &seq, p) == 5 && p[0] == BRIDGE_OK, "WATCH accepted");
    x.out_len = 0;
    x.regs[0x1c] = 0x0f; /* masked-out bits: no event */
    x.now = 600;
    CHECK(bridge_agent_poll(&a) == 500, "next poll in the interval");
    CHECK(x.out_len == 0, "masked-out change raises no EVENT");
    x.regs[0x1c] = 0x1f;
    x.now = 1200;
    bridge_agent_poll(&a);
    CHECK(reply(&x, &type, &seq, p) == 12 && type == BRIDGE_EVENT && p[0] == 2 && p[4] == 0x10 && p[8] == 1, "EVENT slot 2 value 0x10 counter 1");
    x.out_len = 0;
    x.now = 1300;
    bridge_agent_poll(&a);
    CHECK(x.out_len == 0, "not due yet");
    /* HELLO clears watches. */
    n = request(BRIDGE_OP_HELLO, 6, q, 0, wire);
    bridge_agent_feed(&a, wire, n);
    CHECK(bridge_agent_poll(&a) == UINT32_MAX, "HELLO cleared the watches");
}

/* ---- Tapped rings: ring 1's producer index u32 at SRAM 0x800, N = 4 slots of 16 bytes at 0x900;
 * ring 0's at 0x804, N = 4 at 0x980 ---- */

#define TAP_N 4
#define TAP_SLOT 16
#define TAP_REC (BRIDGE_TAP_ENTRY + TAP_SLOT)

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    unsigned k;
    for (k = 0; k < n; k++) p[k] = (uint8_t)(v >> (8 * k));
}
static uint32_t get_le(const uint8_t *p, unsigned n)
{
    uint32_t v = 0;
    unsigned k;
    for (k = 0; k < n; k++) v |= (uint32_t)p[k] << (8 * k);
    return v;
}

/* The producer of ring `r` publishes `count` messages, message m filling its slot with byte m. */
static void tap_publish(test_ctx *x, unsigned r, uint32_t *seq, unsigned count)
{
    unsigned index_at = r == 1 ? 0x800 : 0x804, slots_at = r == 1 ? 0x900 : 0x980;
    while (count-- > 0) {
        uint32_t at = get_le(x->sram + index_at, 4);
        memset(x->sram + slots_at + at * TAP_SLOT, (int)(uint8_t)*seq, TAP_SLOT);
        (*seq)++;
        put_le(x->sram + index_at, (at + 1) % TAP_N, 4);
    }
}

/* Sends a request and returns the reply payload length (p[0] is the status). */
static int tap_call(bridge_agent *a, test_ctx *x, uint8_t op, uint16_t seq, const uint8_t *q, size_t qlen, uint8_t *p)
{
    static uint8_t wire[BRIDGE_WIRE_MAX];
    uint8_t type;
    uint16_t rseq;
    int n;
    size_t len = request(op, seq, q, qlen, wire);
    x->out_len = 0;
    bridge_agent_feed(a, wire, len);
    n = reply(x, &type, &rseq, p);
    CHECK(n > 0 && type == (op | BRIDGE_REPLY) && rseq == seq, "reply to opcode 0x%02x seq %u", op, seq);
    return n;
}

static int tap_ring(bridge_agent *a, test_ctx *x, uint16_t seq, unsigned r, uint8_t *p)
{
    uint8_t q[32];
    memset(q, 0, sizeof q);
    q[0] = (uint8_t)r;
    q[1] = 32;
    put_le(q + 2, TAP_N, 2);
    put_le(q + 4, TAP_SLOT, 2);
    put_le(q + 6, TAP_SLOT, 2);
    put_le(q + 8, 0xffffffffu, 4);
    put_le(q + 12, 100, 4);
    put_le(q + 16, SRAM_BASE + (r == 1 ? 0x800 : 0x804), 8);
    put_le(q + 24, SRAM_BASE + (r == 1 ? 0x900 : 0x980), 8);
    return tap_call(a, x, BRIDGE_OP_TAP, seq, q, 32, p);
}

static int tap_read(bridge_agent *a, test_ctx *x, uint16_t seq, uint32_t from, uint16_t max, uint8_t *p)
{
    uint8_t q[8] = { 0 };
    put_le(q + 2, max, 2);
    put_le(q + 4, from, 4);
    return tap_call(a, x, BRIDGE_OP_TAP_READ, seq, q, 8, p);
}

/* Entry i of a TAP_READ reply. */
static const uint8_t *tap_at(const uint8_t *p, uint32_t i) { return p + BRIDGE_TAP_READ_HEADER + i * TAP_REC; }

static void test_tap(void)
{
    static bridge_agent a;
    static test_ctx x;
    static uint8_t p[BRIDGE_MAX_PAYLOAD];
    uint8_t q[32];
    uint32_t s1 = 2, s0 = 100, from, end, i, total, entries, capacity = BRIDGE_TAP_BYTES / TAP_REC;
    int n;
    setup(&a, &x);
    memset(x.sram + 0x800, 0, 0x200);
    put_le(x.sram + 0x800, 2, 4); /* ring 1 is running: its tap starts from index 2 */
    n = tap_ring(&a, &x, 1, 1, p);
    CHECK(n == 9 && p[0] == BRIDGE_OK && get_le(p + 1, 4) == 2 && get_le(p + 5, 4) == capacity, "TAP ring 1 starts at index 2 with room for %u entries",
          (unsigned)capacity);
    n = tap_ring(&a, &x, 2, 0, p);
    CHECK(n == 9 && p[0] == BRIDGE_OK && get_le(p + 1, 4) == 0, "TAP ring 0 joins the stream at index 0");

    /* Both publish; one look copies, the next checks: readable in look order, ring 0 first. */
    tap_publish(&x, 1, &s1, 2);
    tap_publish(&x, 0, &s0, 1);
    x.now = 150;
    CHECK(bridge_agent_poll(&a) == 0, "rings that moved are looked at again at once");
    x.now = 160;
    CHECK(bridge_agent_poll(&a) == 0, "the checking look also counts as a move");
    x.now = 170;
    CHECK(bridge_agent_poll(&a) == 100, "idle: the next look after the interval");
    n = tap_read(&a, &x, 3, 0, 0, p);
    CHECK(n == BRIDGE_TAP_READ_HEADER + 3 * TAP_REC && p[0] == BRIDGE_OK && p[1] == BRIDGE_TAP_RINGS && get_le(p + 2, 2) == 3 && get_le(p + 4, 4) == 0 &&
              get_le(p + 8, 4) == 170 && get_le(p + 12, 4) == 0xffffffffu && get_le(p + 16, 4) == 0xffffffffu,
          "TAP_READ: 3 entries from 0 at agent time 170, no bad index");
    CHECK(tap_at(p, 0)[10] == 0 && tap_at(p, 0)[BRIDGE_TAP_ENTRY] == 100 && get_le(tap_at(p, 0) + 8, 2) == 0, "ring 0's message 100 at index 0 first");
    for (i = 0; i < 2; i++) {
        const uint8_t *e = tap_at(p, 1 + i);
        CHECK(get_le(e, 4) == 0 && get_le(e + 4, 4) == 150 && get_le(e + 8, 2) == (2 + i) % TAP_N && e[10] == 1 && e[BRIDGE_TAP_ENTRY] == 2 + i &&
                  e[BRIDGE_TAP_ENTRY + 15] == 2 + i,
              "ring 1 entry %u: lost 0, seen at 150, index %u, message %u", (unsigned)i, (unsigned)((2 + i) % TAP_N), (unsigned)(2 + i));
    }
    /* Reading from 3 frees them; nothing more yet. */
    n = tap_read(&a, &x, 4, 3, 0, p);
    CHECK(n == BRIDGE_TAP_READ_HEADER && get_le(p + 2, 2) == 0 && get_le(p + 4, 4) == 3, "after the host has them: empty");
    CHECK(tap_read(&a, &x, 5, 1, 0, p) == 12 && p[0] == BRIDGE_OUT_OF_RANGE, "entries already freed cannot be read again");

    /* Ring 1 outrun: 3 copied, then 2 more published before the checking look (N = 4): the
     * producer has reused the first of the 3 and may be writing the second, so 2 are lost.
     * Ring 0's entry copied in between keeps its place. */
    tap_publish(&x, 1, &s1, 3);
    tap_publish(&x, 0, &s0, 1);
    x.now = 300;
    bridge_agent_poll(&a);
    tap_publish(&x, 1, &s1, 2);
    x.now = 310;
    bridge_agent_poll(&a);
    x.now = 320;
    bridge_agent_poll(&a);
    n = tap_read(&a, &x, 6, 3, 0, p);
    CHECK(get_le(p + 2, 2) == 4, "ring 0's 1, ring 1's 1 kept of 3, then ring 1's 2 later ones (%u entries)", (unsigned)get_le(p + 2, 2));
    CHECK(tap_at(p, 0)[10] == 0 && tap_at(p, 0)[BRIDGE_TAP_ENTRY] == 101 && get_le(tap_at(p, 0), 4) == 0, "ring 0: message 101, nothing lost");
    CHECK(tap_at(p, 1)[10] == 1 && get_le(tap_at(p, 1), 4) == 2 && tap_at(p, 1)[BRIDGE_TAP_ENTRY] == 6 && get_le(tap_at(p, 1) + 8, 2) == 6 % TAP_N,
          "ring 1: message 6 after 2 lost");
    CHECK(tap_at(p, 2)[10] == 1 && get_le(tap_at(p, 2), 4) == 0 && tap_at(p, 2)[BRIDGE_TAP_ENTRY] == 7 && get_le(tap_at(p, 2) + 4, 4) == 310,
          "then message 7, seen at 310");

    /* The producer runs during the copy: 3 new, and 2 more published between the copy and the
     * index read right after it (the third load of ring 1's index in that look): the first 2
     * copied are lost at once, the third is kept with that count. */
    tap_publish(&x, 1, &s1, 3);
    x.inject_on = 3;
    x.inject = 2;
    x.inject_seq = &s1;
    x.now = 400;
    bridge_agent_poll(&a);
    x.now = 410;
    bridge_agent_poll(&a);
    x.now = 420;
    bridge_agent_poll(&a);
    n = tap_read(&a, &x, 60, 7, 0, p);
    CHECK(get_le(p + 2, 2) == 3 && get_le(tap_at(p, 0), 4) == 2 && tap_at(p, 0)[BRIDGE_TAP_ENTRY] == 11 && tap_at(p, 1)[BRIDGE_TAP_ENTRY] == 12 &&
              tap_at(p, 2)[BRIDGE_TAP_ENTRY] == 13 && get_le(tap_at(p, 1), 4) == 0,
          "reused during the copy: message 11 after 2 lost, then 12 and 13 (%u entries, first lost %u, message %u)", (unsigned)get_le(p + 2, 2),
          (unsigned)get_le(tap_at(p, 0), 4), tap_at(p, 0)[BRIDGE_TAP_ENTRY]);
    CHECK(tap_read(&a, &x, 61, 10, 0, p) == BRIDGE_TAP_READ_HEADER, "all read");

    /* A host that does not read: the buffer fills and the rest is counted, exactly. */
    from = 10;
    total = 0;
    for (i = 0; i < capacity; i++) {
        tap_publish(&x, 1, &s1, 3);
        total += 3;
        x.now += 10;
        bridge_agent_poll(&a);
        x.now += 10;
        bridge_agent_poll(&a);
    }
    /* A bad index is reported in every reply while it lasts; nothing is copied meanwhile. */
    put_le(x.sram + 0x800, 9, 4);
    x.now += 200;
    bridge_agent_poll(&a);
    n = tap_read(&a, &x, 8, from, 1, p);
    CHECK(get_le(p + 16, 4) == 9 && get_le(p + 12, 4) == 0xffffffffu && get_le(p + 2, 2) == 1, "bad index 9 of ring 1 reported; max 1 entry honoured");
    put_le(x.sram + 0x800, s1 % TAP_N, 4);
    /* UNTAP: a last look, then the entries stay readable; `end` and the trailing lost counts say what is left. */
    n = tap_call(&a, &x, BRIDGE_OP_UNTAP, 9, q, 0, p);
    end = get_le(p + 1, 4);
    CHECK(n == 5 + 4 * BRIDGE_TAP_RINGS && end == from + capacity && get_le(p + 5, 4) == 0 && get_le(p + 9, 4) == total - capacity,
          "UNTAP: end %u (expected %u), ring 1 lost %u (expected %u)", (unsigned)end, (unsigned)(from + capacity), (unsigned)get_le(p + 9, 4),
          (unsigned)(total - capacity));
    entries = 0;
    while (from != end) {
        uint32_t k;
        n = tap_read(&a, &x, (uint16_t)(10 + entries), from, 0, p);
        k = get_le(p + 2, 2);
        CHECK(k > 0 && n == (int)(BRIDGE_TAP_READ_HEADER + k * TAP_REC), "drain after UNTAP");
        if (k == 0) break;
        for (i = 0; i < k; i++)
            if (get_le(tap_at(p, i), 4) != 0 || tap_at(p, i)[BRIDGE_TAP_ENTRY] != (uint8_t)(14 + entries + i)) break;
        CHECK(i == k, "kept entries are the oldest, in order (entry %u)", (unsigned)(entries + i));
        entries += k;
        from += k;
    }
    CHECK(entries == capacity, "%u entries drained", (unsigned)entries);
    x.now += 1000;
    CHECK(bridge_agent_poll(&a) == UINT32_MAX, "UNTAPped rings are not looked at");
    CHECK(tap_call(&a, &x, BRIDGE_OP_TAP_READ, 900, q, 3, p) == 12 && p[0] == BRIDGE_BAD_LENGTH, "TAP_READ of 3 bytes: BAD_LENGTH");
    memset(q, 0, sizeof q);
    q[0] = BRIDGE_TAP_RINGS;
    CHECK(tap_call(&a, &x, BRIDGE_OP_TAP, 901, q, 32, p) == 12 && p[0] == BRIDGE_NO_SUCH_SLOT, "TAP of ring %u: NO_SUCH_SLOT", BRIDGE_TAP_RINGS);
    /* A new stream after UNTAP: entry numbers start again. */
    CHECK(tap_ring(&a, &x, 902, 1, p) == 9 && p[0] == BRIDGE_OK, "TAP again after UNTAP");
    CHECK(tap_read(&a, &x, 903, 0, 0, p) == BRIDGE_TAP_READ_HEADER && p[0] == BRIDGE_OK, "a new stream starts at entry 0");
    q[0] = 0; q[1] = 32;
    put_le(q + 2, TAP_N, 2);
    put_le(q + 4, 8, 2);
    put_le(q + 6, 8, 2);
    put_le(q + 16, SRAM_BASE + 0x804, 8);
    put_le(q + 24, SRAM_BASE + 0x980, 8);
    CHECK(tap_call(&a, &x, BRIDGE_OP_TAP, 904, q, 32, p) == 12 && p[0] == BRIDGE_OUT_OF_RANGE, "joining with another slot size: OUT_OF_RANGE");
    put_le(q + 4, TAP_SLOT, 2);
    put_le(q + 6, TAP_SLOT, 2);
    put_le(q + 24, SRAM_BASE + 0xfe0, 8);
    CHECK(tap_call(&a, &x, BRIDGE_OP_TAP, 905, q, 32, p) == 12 && p[0] == BRIDGE_OUT_OF_RANGE && get_le(p + 4, 4) == SRAM_BASE + 0xfe0,
          "slots running past the window: OUT_OF_RANGE at their address");
    put_le(q + 16, SRAM_BASE + 0x802, 8);
    CHECK(tap_call(&a, &x, BRIDGE_OP_TAP, 906, q, 32, p) == 12 && p[0] == BRIDGE_UNALIGNED, "unaligned producer index: UNALIGNED");
    /* Overlapping slots (16 bytes at a stride of 8, a new stream): two published in one look,
     * the second covering half of the first: only the newest is kept. */
    tap_call(&a, &x, BRIDGE_OP_HELLO, 911, q, 0, p);
    memset(q, 0, sizeof q);
    q[0] = 0; q[1] = 32;
    put_le(q + 2, TAP_N, 2);
    put_le(q + 4, 16, 2);
    put_le(q + 6, 8, 2);
    put_le(q + 8, 0xffffffffu, 4);
    put_le(q + 16, SRAM_BASE + 0x804, 8);
    put_le(q + 24, SRAM_BASE + 0x980, 8);
    put_le(x.sram + 0x804, 0, 4);
    CHECK(tap_call(&a, &x, BRIDGE_OP_TAP, 907, q, 32, p) == 9 && p[0] == BRIDGE_OK, "TAP of overlapping slots");
    memset(x.sram + 0x980, 1, 16);
    memset(x.sram + 0x988, 2, 16);
    put_le(x.sram + 0x804, 2, 4);
    x.now += 1000;
    bridge_agent_poll(&a);
    bridge_agent_poll(&a);
    n = tap_read(&a, &x, 908, 0, 0, p);
    CHECK(get_le(p + 2, 2) == 1 && get_le(tap_at(p, 0), 4) == 1 && get_le(tap_at(p, 0) + 8, 2) == 1 && tap_at(p, 0)[BRIDGE_TAP_ENTRY] == 2,
          "overlapping: message 2 at index 1 after 1 lost (%u entries)", (unsigned)get_le(p + 2, 2));
    /* HELLO clears taps. */
    tap_call(&a, &x, BRIDGE_OP_HELLO, 909, q, 0, p);
    CHECK(tap_read(&a, &x, 910, 0, 0, p) == 12 && p[0] == BRIDGE_NO_SUCH_SLOT, "HELLO cleared the taps");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s vectors.txt\n", argv[0]);
        return 2;
    }
    test_crc_check_value();
    vectors(argv[1]);
    test_garbage();
    test_retry_cache();
    test_refused_write_changes_nothing();
    test_watch();
    test_tap();
    printf("%d checks, %d failures\n", checks, failures);
    return failures == 0 ? 0 : 1;
}

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
static int t_load(void *c, unsigned w, uint64_t off, unsigned width, uint32_t *v)
{
    uint8_t *p = at(c, w, off);
    unsigned k;
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
    printf("%d checks, %d failures\n", checks, failures);
    return failures == 0 ? 0 : 1;
}

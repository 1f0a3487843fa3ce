/*
 * Serial bridge agent core, protocol version 1 (PROTOCOL.md; docs/amp-bus.md §9.2).
 * Portable C99, no allocation, no platform headers: the platform supplies bridge_hooks.
 * The numbers here are the same as src/bridge/protocol.ts in the workbench.
 */
#ifndef BRIDGE_H
#define BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#include "bridge_hooks.h"

#define BRIDGE_VERSION 1

/* Largest payload in either direction; 4112 lets one frame carry a 4 KiB READ or WRITE.
 * Protocol minimum 256 (docs/amp-bus.md §9.2). Override with -DBRIDGE_MAX_PAYLOAD=... */
#ifndef BRIDGE_MAX_PAYLOAD
#define BRIDGE_MAX_PAYLOAD 4112
#endif
#ifndef BRIDGE_MAX_WINDOWS
#define BRIDGE_MAX_WINDOWS 8
#endif
#ifndef BRIDGE_WATCH_SLOTS
#define BRIDGE_WATCH_SLOTS 8
#endif
#ifndef BRIDGE_MAX_LINES
#define BRIDGE_MAX_LINES 4
#endif

#define BRIDGE_HEADER 6
#define BRIDGE_CRC 4
#define BRIDGE_FRAME_MAX (BRIDGE_HEADER + BRIDGE_MAX_PAYLOAD + BRIDGE_CRC)
/* COBS adds one byte per 254 and a leading code byte; plus the 0x00 delimiter. */
#define BRIDGE_WIRE_MAX (BRIDGE_FRAME_MAX + BRIDGE_FRAME_MAX / 254 + 2)

enum bridge_op {
    BRIDGE_OP_HELLO = 0x01,
    BRIDGE_OP_PING = 0x02,
    BRIDGE_OP_READ = 0x03,
    BRIDGE_OP_WRITE = 0x04,
    BRIDGE_OP_LOAD = 0x05,
    BRIDGE_OP_STORE = 0x06,
    BRIDGE_OP_FENCE = 0x07,
    BRIDGE_OP_NOTIFY = 0x08,
    BRIDGE_OP_WATCH = 0x09,
    BRIDGE_OP_UNWATCH = 0x0a,
    BRIDGE_REPLY = 0x80,
    BRIDGE_EVENT = 0xc0
};

enum bridge_status {
    BRIDGE_OK = 0,
    BRIDGE_BAD_ADDRESS = 1,
    BRIDGE_OUT_OF_RANGE = 2,
    BRIDGE_UNALIGNED = 3,
    BRIDGE_UNSUPPORTED_WIDTH = 4,
    BRIDGE_UNSUPPORTED_OPCODE = 5,
    BRIDGE_BAD_LENGTH = 6,
    BRIDGE_BAD_VERSION = 7,
    BRIDGE_NO_SUCH_SLOT = 8,
    BRIDGE_NO_SUCH_LINE = 9,
    BRIDGE_BACKEND = 10
};

/* Window width capability bits. */
#define BRIDGE_W8 1u
#define BRIDGE_W16 2u
#define BRIDGE_W32 4u
#define BRIDGE_WALL (BRIDGE_W8 | BRIDGE_W16 | BRIDGE_W32)

/* ---- COBS and CRC-32C (also used by the tests) ---- */

/* Encodes len bytes into out (room for len + len/254 + 1); returns the encoded length. No delimiter. */
size_t bridge_cobs_encode(const uint8_t *in, size_t len, uint8_t *out);
/* Decodes into out (room for len); returns the decoded length, or (size_t)-1 if invalid. */
size_t bridge_cobs_decode(const uint8_t *in, size_t len, uint8_t *out);
/* CRC-32C (Castagnoli, reflected, init/xorout 0xFFFFFFFF); pass the previous result to continue. */
uint32_t bridge_crc32c(const uint8_t *data, size_t len, uint32_t crc);

/* ---- Agent ---- */

typedef struct bridge_window {
    uint64_t base;
    uint64_t size;
    uint8_t widths; /* BRIDGE_W* bits */
} bridge_window;

/* A NOTIFY line served by a register write: store `value` (or add it, for counter doorbells). */
typedef struct bridge_line {
    uint64_t addr;
    uint32_t value;
    uint8_t width;
    uint8_t add;
} bridge_line;

typedef struct bridge_watch {
    uint8_t active;
    uint8_t width;
    uint8_t window;
    uint64_t offset;
    uint32_t mask;
    uint32_t last;
    uint32_t counter;
    uint32_t interval_us;
    uint32_t due_us;
} bridge_watch;

typedef struct bridge_stats {
    uint32_t frames;       /* valid requests executed */
    uint32_t bad_frames;   /* dropped: COBS, length or CRC */
    uint32_t overruns;     /* frames longer than BRIDGE_WIRE_MAX, dropped */
    uint32_t retries;      /* retransmissions answered from the reply cache */
    uint32_t events;
} bridge_stats;

typedef struct bridge_agent {
    const bridge_hooks *hooks;
    void *ctx;
    const char *name;
    const char *version;
    uint32_t poll_us; /* default watch period */

    bridge_window windows[BRIDGE_MAX_WINDOWS];
    unsigned nwindows;
    bridge_line lines[BRIDGE_MAX_LINES];
    unsigned nlines;
    bridge_watch watches[BRIDGE_WATCH_SLOTS];
    uint16_t event_seq;
    bridge_stats stats;

    /* Receive: encoded bytes up to the next 0x00. */
    uint8_t rx[BRIDGE_WIRE_MAX];
    size_t rx_len;
    int rx_overrun;
    uint8_t frame[BRIDGE_FRAME_MAX];
    uint8_t reply[BRIDGE_FRAME_MAX];
    /* The last reply as sent, for retransmitted requests (same seq and same request CRC). */
    uint8_t cache[BRIDGE_WIRE_MAX];
    size_t cache_len;
    int cache_valid;
    uint16_t cache_seq;
    uint32_t cache_crc;
    uint8_t tx[BRIDGE_WIRE_MAX];
} bridge_agent;

void bridge_agent_init(bridge_agent *a, const bridge_hooks *hooks, void *ctx, const char *name, const char *version);
/* Returns the window index, or -1 when BRIDGE_MAX_WINDOWS are in use or size is 0. */
int bridge_agent_add_window(bridge_agent *a, uint64_t base, uint64_t size, uint8_t widths);
/* Line numbers are assigned in order from 0; returns the line, or -1 when full. The register
 * must lie in a window that allows `width`. */
int bridge_agent_add_line(bridge_agent *a, uint64_t addr, uint8_t width, uint32_t value, int add);

/* Received bytes, any chunking; answers complete frames through hooks->write. */
void bridge_agent_feed(bridge_agent *a, const uint8_t *data, size_t len);
/* Polls due watches and sends EVENTs; returns microseconds until the next one is due
 * (UINT32_MAX when no watch is active). */
uint32_t bridge_agent_poll(bridge_agent *a);
/* One main-loop step for platforms with a read_byte hook: drain received bytes, poll watches. */
uint32_t bridge_agent_service(bridge_agent *a);

#endif

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
/* Rings the agent can tap at once (a monitor taps both directions of a bus), and the buffer of
 * copied slots they share until the host has read them (PROTOCOL.md 3.3). */
#ifndef BRIDGE_TAP_RINGS
#define BRIDGE_TAP_RINGS 2
#endif
#ifndef BRIDGE_TAP_BYTES
#define BRIDGE_TAP_BYTES 65536
#endif

#define BRIDGE_HEADER 6
#define BRIDGE_CRC 4
#define BRIDGE_FRAME_MAX (BRIDGE_HEADER + BRIDGE_MAX_PAYLOAD + BRIDGE_CRC)
/* COBS adds one byte per 254 and a leading code byte; plus the 0x00 delimiter. */
#define BRIDGE_WIRE_MAX (BRIDGE_FRAME_MAX + BRIDGE_FRAME_MAX / 254 + 2)
/* TAP_READ reply: header (status included, then a bad index per ring), then per entry a header
 * and the slot's bytes. */
#define BRIDGE_TAP_READ_HEADER (12 + 4 * BRIDGE_TAP_RINGS)
#define BRIDGE_TAP_ENTRY 12

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
    BRIDGE_OP_TAP = 0x0b,
    BRIDGE_OP_TAP_READ = 0x0c,
    BRIDGE_OP_UNTAP = 0x0d,
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

/*
 * A tapped ring (PROTOCOL.md 3.3): the agent follows its producer index and copies each newly
 * published slot into the agent's tap buffer, shared by all tapped rings in the order of the
 * looks, where the host reads the entries at the line's pace.
 */
typedef struct bridge_tap {
    uint8_t state; /* 0 off, 1 following, 2 stopped by UNTAP (its entries stay readable) */
    uint8_t width;
    uint8_t index_window;
    uint8_t slots_window;
    uint64_t index_offset;
    uint64_t slots_offset;
    uint64_t slots_addr;
    uint32_t n, stride, mask;
    uint32_t next;      /* producer index copied up to */
    uint32_t bad_index; /* last out-of-range producer index seen, 0xffffffff while in range */
    uint32_t staged;    /* its entries copied at the last look, checked at the next */
    uint32_t unstored;  /* slots of the last look after the staged ones that found no room */
    uint32_t lost;      /* slots lost since its last readable entry */
} bridge_tap;

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
    bridge_tap taps[BRIDGE_TAP_RINGS];
    /* The tap buffer: a circular array of tap_capacity entries of BRIDGE_TAP_ENTRY + tap_slot_size
     * bytes; entry numbers count entries since the first TAP of the stream (mod 2^32). */
    uint32_t tap_slot_size, tap_capacity, tap_interval_us, tap_due_us;
    uint32_t tap_start;  /* position of entry tap_head */
    uint32_t tap_head;   /* entry number of the oldest entry kept */
    uint32_t tap_count;  /* entries checked and readable */
    uint32_t tap_staged; /* entries copied at the last look, after those */
    uint8_t tap_buf[BRIDGE_TAP_BYTES];
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
/* Polls due watches (sending EVENTs) and tapped rings (copying new slots); returns microseconds
 * until the next one is due (UINT32_MAX when none is active). */
uint32_t bridge_agent_poll(bridge_agent *a);
/* Looks at due tapped rings only and sends nothing: a platform whose write hook waits for the
 * line calls it while it waits, so a slow line does not make the agent miss slots (the copies
 * wait in the tap's buffer). Returns microseconds until the next look is due. */
uint32_t bridge_agent_poll_taps(bridge_agent *a);
/* One main-loop step for platforms with a read_byte hook: drain received bytes, poll watches. */
uint32_t bridge_agent_service(bridge_agent *a);

#endif

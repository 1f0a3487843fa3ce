/*
 * Bridge agent core: framing, dispatch, reply cache and watch polling (PROTOCOL.md).
 * Platform-independent; memory, line, doorbell and time go through bridge_hooks.
 */
#include <string.h>

#include "bridge.h"

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24); }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | ((uint64_t)get32(p + 4) << 32); }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

static uint8_t width_bit(unsigned width)
{
    return width == 8 ? BRIDGE_W8 : width == 16 ? BRIDGE_W16 : width == 32 ? BRIDGE_W32 : 0;
}

void bridge_agent_init(bridge_agent *a, const bridge_hooks *hooks, void *ctx, const char *name, const char *version)
{
    memset(a, 0, sizeof *a);
    a->hooks = hooks;
    a->ctx = ctx;
    a->name = name;
    a->version = version;
    a->poll_us = 1000;
}

int bridge_agent_add_window(bridge_agent *a, uint64_t base, uint64_t size, uint8_t widths)
{
    if (a->nwindows == BRIDGE_MAX_WINDOWS || size == 0) return -1;
    a->windows[a->nwindows].base = base;
    a->windows[a->nwindows].size = size;
    a->windows[a->nwindows].widths = widths;
    return (int)a->nwindows++;
}

int bridge_agent_add_line(bridge_agent *a, uint64_t addr, uint8_t width, uint32_t value, int add)
{
    bridge_line *l;
    if (a->nlines == BRIDGE_MAX_LINES) return -1;
    l = &a->lines[a->nlines];
    l->addr = addr;
    l->width = width;
    l->value = value;
    l->add = (uint8_t)(add != 0);
    return (int)a->nlines++;
}

/* ---- Address checks ---- */

typedef struct target {
    unsigned window;
    uint64_t offset;
} target;

/* The window holding [addr, addr + len): BAD_ADDRESS when no window holds addr, OUT_OF_RANGE
 * when the range runs past the end of the one that does. */
static int locate(const bridge_agent *a, uint64_t addr, uint64_t len, target *t)
{
    unsigned i;
    for (i = 0; i < a->nwindows; i++) {
        const bridge_window *w = &a->windows[i];
        if (addr >= w->base && addr - w->base < w->size) {
            if (len > w->size - (addr - w->base)) return BRIDGE_OUT_OF_RANGE;
            t->window = i;
            t->offset = addr - w->base;
            return BRIDGE_OK;
        }
    }
    return BRIDGE_BAD_ADDRESS;
}

/* A single access: a width the window allows, naturally aligned. */
static int check_word(const bridge_agent *a, uint64_t addr, unsigned width, target *t)
{
    int s;
    if (width_bit(width) == 0) return BRIDGE_UNSUPPORTED_WIDTH;
    s = locate(a, addr, width / 8, t);
    if (s != BRIDGE_OK) return s;
    if (!(a->windows[t->window].widths & width_bit(width))) return BRIDGE_UNSUPPORTED_WIDTH;
    if (addr % (width / 8) != 0) return BRIDGE_UNALIGNED;
    return BRIDGE_OK;
}

/*
 * Copies [addr, addr + len) out of (to_mem = 0) or into (to_mem = 1) the window, in accesses of
 * `width` bits, or for width 0 the widest each position's alignment and the window allow. With
 * buf = NULL it only checks, so that a refused WRITE changes nothing.
 */
static int copy(bridge_agent *a, const target *t, uint64_t addr, size_t len, unsigned width, int to_mem, uint8_t *buf)
{
    uint8_t allowed = a->windows[t->window].widths;
    size_t at = 0;
    if (width != 0) {
        if (width_bit(width) == 0 || !(allowed & width_bit(width))) return BRIDGE_UNSUPPORTED_WIDTH;
        if (addr % (width / 8) != 0 || len % (width / 8) != 0) return BRIDGE_UNALIGNED;
    }
    while (at < len) {
        uint64_t pos = addr + at;
        size_t left = len - at;
        unsigned w = width, n, k;
        uint32_t v = 0;
        if (w == 0) {
            if ((allowed & BRIDGE_W32) && pos % 4 == 0 && left >= 4) w = 32;
            else if ((allowed & BRIDGE_W16) && pos % 2 == 0 && left >= 2) w = 16;
            else if (allowed & BRIDGE_W8) w = 8;
            else return BRIDGE_UNALIGNED;
        }
        n = w / 8;
        if (buf != NULL) {
            if (to_mem) {
                for (k = 0; k < n; k++) v |= (uint32_t)buf[at + k] << (8 * k);
                if (a->hooks->store(a->ctx, t->window, t->offset + at, w, v) != 0) return BRIDGE_BACKEND;
            } else {
                if (a->hooks->load(a->ctx, t->window, t->offset + at, w, &v) != 0) return BRIDGE_BACKEND;
                for (k = 0; k < n; k++) buf[at + k] = (uint8_t)(v >> (8 * k));
            }
        }
        at += n;
    }
    return BRIDGE_OK;
}

/* ---- Tapped rings (PROTOCOL.md 3.3) ---- */

/* TAP before the first look at an index in range: nothing to follow from yet. */
#define TAP_NOT_STARTED 0xffffffffu
#define TAP_NO_BAD_INDEX 0xffffffffu

/* Entry `i` after the oldest one kept (readable, then staged). */
static uint8_t *tap_entry(bridge_agent *a, uint32_t i)
{
    return a->tap_buf + (size_t)((a->tap_start + i) % a->tap_capacity) * (BRIDGE_TAP_ENTRY + a->tap_slot_size);
}

/*
 * The last look's copies, checked against this look's producer indices (the rule of
 * main/native/src/ringwatch.cc): d slots of a ring copied from index s, then e more published:
 * the producer has reused the first e - (N - d) of them and may be writing the next one, so
 * the first e + 1 - (N - d) are lost instead of delivered torn (with overlapping slots, the
 * OpenAMP stride quirk, only the newest can be whole, while nothing came after it). Slots that
 * found no room are lost. The staged
 * entries that remain become readable, in order.
 */
/* Of d slots copied up to the producer index the copy started from, how many the producer has
 * reached again after publishing e more (and perhaps writing the next one). */
static uint32_t tap_reused(const bridge_agent *a, const bridge_tap *t, uint32_t d, uint32_t e)
{
    /* Overlapping slots: every write covers the slot before it, so only the newest copied can be
     * whole, and only if nothing came after it. */
    if (t->stride < a->tap_slot_size) return e > 0 ? d : d > 0 ? d - 1 : 0;
    return e + 1 > t->n - d ? (e + 1 - (t->n - d) < d ? e + 1 - (t->n - d) : d) : 0;
}

static void tap_settle(bridge_agent *a, const uint32_t *raw)
{
    uint32_t drop[BRIDGE_TAP_RINGS], seen[BRIDGE_TAP_RINGS], kept = 0, k;
    uint8_t first[BRIDGE_TAP_RINGS];
    size_t rec = BRIDGE_TAP_ENTRY + a->tap_slot_size;
    unsigned i;
    for (i = 0; i < BRIDGE_TAP_RINGS; i++) {
        bridge_tap *t = &a->taps[i];
        uint32_t d = t->staged + t->unstored, over;
        seen[i] = 0;
        drop[i] = 0;
        first[i] = 1;
        if (d == 0) continue;
        over = tap_reused(a, t, d, (raw[i] + t->n - t->next) % t->n);
        drop[i] = over < t->staged ? over : t->staged;
    }
    for (k = 0; k < a->tap_staged; k++) {
        uint8_t *from = tap_entry(a, a->tap_count + k), *to;
        bridge_tap *t = &a->taps[from[10]];
        uint32_t r = from[10];
        if (seen[r]++ < drop[r]) continue;
        to = tap_entry(a, a->tap_count + kept++);
        if (to != from) memcpy(to, from, rec);
        if (first[r]) {
            /* The ring's first kept entry carries what was lost before it. */
            put32(to, t->lost + drop[r]);
            t->lost = 0;
            drop[r] = 0;
            first[r] = 0;
        }
    }
    for (i = 0; i < BRIDGE_TAP_RINGS; i++) {
        bridge_tap *t = &a->taps[i];
        t->lost += drop[i] + t->unstored;
        t->staged = t->unstored = 0;
    }
    a->tap_count += kept;
    a->tap_staged = 0;
}

/* One look at every ring followed (their indices first, device->driver first by the host's
 * choice of ring numbers): checks the last copies, then (copy_new) copies what was published
 * since. 1 when something moved. */
static int tap_look(bridge_agent *a, int copy_new)
{
    uint32_t raw[BRIDGE_TAP_RINGS], now = a->hooks->now_us(a->ctx);
    int moved = a->tap_staged > 0;
    unsigned i;
    for (i = 0; i < BRIDGE_TAP_RINGS; i++) {
        bridge_tap *t = &a->taps[i];
        uint32_t v;
        raw[i] = t->next;
        if (t->state != 1) continue;
        moved |= t->unstored > 0;
        if (a->hooks->load(a->ctx, t->index_window, t->index_offset, t->width, &v) != 0) continue;
        v &= t->mask;
        if (v >= t->n) {
            /* Reported in TAP_READ replies; nothing is copied until it is back in range. */
            t->bad_index = v;
            continue;
        }
        t->bad_index = TAP_NO_BAD_INDEX;
        if (t->next == TAP_NOT_STARTED) t->next = v;
        raw[i] = v;
    }
    a->hooks->fence(a->ctx); /* acquire: the slots are read after the indices */
    tap_settle(a, raw);
    if (!copy_new) return moved;
    for (i = 0; i < BRIDGE_TAP_RINGS; i++) {
        bridge_tap *t = &a->taps[i];
        uint32_t d, j, v, after, early, room = a->tap_capacity - a->tap_count - a->tap_staged;
        size_t rec = BRIDGE_TAP_ENTRY + a->tap_slot_size;
        /* The index again, right before the copy (the fewer µs between them, the fewer slots the
         * producer can reuse meanwhile); ring 0's still before ring 1's. */
        if (t->state != 1 || t->next == TAP_NOT_STARTED || raw[i] == t->next) continue;
        if (a->hooks->load(a->ctx, t->index_window, t->index_offset, t->width, &v) == 0 && (v & t->mask) < t->n) raw[i] = v & t->mask;
        a->hooks->fence(a->ctx);
        d = (raw[i] + t->n - t->next) % t->n;
        for (j = 0; j < d && j < room; j++) {
            uint8_t *e = tap_entry(a, a->tap_count + a->tap_staged);
            uint32_t at = (t->next + j) % t->n;
            target src;
            src.window = t->slots_window;
            src.offset = t->slots_offset + (uint64_t)at * t->stride;
            put32(e, 0);
            put32(e + 4, now);
            put16(e + 8, (uint16_t)at);
            e[10] = (uint8_t)i;
            e[11] = 0;
            if (copy(a, &src, t->slots_addr + (uint64_t)at * t->stride, a->tap_slot_size, 0, 0, e + BRIDGE_TAP_ENTRY) != BRIDGE_OK) break;
            a->tap_staged++;
        }
        /* Checked at once against the index as it is after the copy (the next look checks it
         * again for writes in progress now): slots reused meanwhile are lost, not staged. */
        early = 0;
        if (a->hooks->load(a->ctx, t->index_window, t->index_offset, t->width, &after) == 0 && (after & t->mask) < t->n)
            early = tap_reused(a, t, d, ((after & t->mask) + t->n - raw[i]) % t->n);
        if (early > j) early = j;
        for (v = early; v < j; v++) memcpy(tap_entry(a, a->tap_count + a->tap_staged - j + v - early), tap_entry(a, a->tap_count + a->tap_staged - j + v), rec);
        a->tap_staged -= early;
        t->lost += early;
        t->staged = j - early;
        t->unstored = d - j;
        t->next = raw[i];
        moved = 1;
    }
    return moved;
}

static int tap_following(const bridge_agent *a)
{
    unsigned i;
    for (i = 0; i < BRIDGE_TAP_RINGS; i++)
        if (a->taps[i].state == 1) return 1;
    return 0;
}

/* ---- Frames out ---- */

/* Frames reply[0 .. BRIDGE_HEADER + plen) with a CRC, COBS-encodes it into out with a delimiter. */
static size_t seal(uint8_t *frame, uint8_t type, uint16_t seq, size_t plen, uint8_t *out)
{
    size_t n;
    frame[0] = BRIDGE_VERSION;
    frame[1] = type;
    put16(frame + 2, seq);
    put16(frame + 4, (uint16_t)plen);
    put32(frame + BRIDGE_HEADER + plen, bridge_crc32c(frame, BRIDGE_HEADER + plen, 0));
    n = bridge_cobs_encode(frame, BRIDGE_HEADER + plen + BRIDGE_CRC, out);
    out[n++] = 0;
    return n;
}

static void send_event(bridge_agent *a, unsigned slot, const bridge_watch *w)
{
    uint8_t *p = a->reply + BRIDGE_HEADER;
    size_t n;
    p[0] = (uint8_t)slot;
    p[1] = w->width;
    p[2] = p[3] = 0;
    put32(p + 4, w->last);
    put32(p + 8, w->counter);
    n = seal(a->reply, BRIDGE_EVENT, a->event_seq++, 12, a->tx);
    a->stats.events++;
    a->hooks->write(a->ctx, a->tx, n);
}

/* ---- Requests ---- */

/* Error reply: status, 3 reserved bytes, the offending address (PROTOCOL.md "Errors"). */
static size_t refuse(uint8_t *p, int status, uint64_t addr)
{
    p[0] = (uint8_t)status;
    p[1] = p[2] = p[3] = 0;
    put64(p + 4, addr);
    return 12;
}

static size_t caps(bridge_agent *a, uint8_t *p)
{
    size_t nl = strlen(a->name), vl = strlen(a->version), at;
    unsigned i;
    uint8_t widths = 0;
    if (nl > 32) nl = 32;
    if (vl > 32) vl = 32;
    for (i = 0; i < a->nwindows; i++) widths |= a->windows[i].widths;
    p[0] = BRIDGE_OK;
    p[1] = BRIDGE_VERSION;
    p[2] = widths;
    p[3] = BRIDGE_WATCH_SLOTS;
    p[4] = (uint8_t)(a->nlines + (a->hooks->notify ? BRIDGE_MAX_LINES - a->nlines : 0));
    p[5] = (uint8_t)a->nwindows;
    p[6] = 0;
    put16(p + 7, BRIDGE_MAX_PAYLOAD);
    put16(p + 9, BRIDGE_FRAME_MAX);
    put32(p + 11, a->poll_us);
    p[15] = (uint8_t)nl;
    memcpy(p + 16, a->name, nl);
    p[16 + nl] = (uint8_t)vl;
    memcpy(p + 17 + nl, a->version, vl);
    at = 17 + nl + vl;
    for (i = 0; i < a->nwindows; i++, at += 17) {
        put64(p + at, a->windows[i].base);
        put64(p + at + 8, a->windows[i].size);
        p[at + 16] = a->windows[i].widths;
    }
    return at;
}

/* Executes one request; writes the reply payload to p and returns its length. */
static size_t execute(bridge_agent *a, uint8_t type, uint8_t *q, size_t qlen, uint8_t *p)
{
    const bridge_hooks *h = a->hooks;
    target t;
    int s;
    switch (type) {
    case BRIDGE_OP_HELLO: {
        unsigned i;
        if (qlen != 0) return refuse(p, BRIDGE_BAD_LENGTH, 0);
        for (i = 0; i < BRIDGE_WATCH_SLOTS; i++) a->watches[i].active = 0;
        for (i = 0; i < BRIDGE_TAP_RINGS; i++) a->taps[i].state = 0;
        a->tap_count = a->tap_staged = 0;
        return caps(a, p);
    }
    case BRIDGE_OP_PING:
        if (qlen + 1 > BRIDGE_MAX_PAYLOAD) return refuse(p, BRIDGE_OUT_OF_RANGE, 0);
        p[0] = BRIDGE_OK;
        memcpy(p + 1, q, qlen);
        return qlen + 1;
    case BRIDGE_OP_READ: {
        uint64_t addr;
        uint16_t len;
        if (qlen != 11) return refuse(p, BRIDGE_BAD_LENGTH, 0);
        addr = get64(q);
        len = get16(q + 8);
        if ((size_t)len + 1 > BRIDGE_MAX_PAYLOAD) return refuse(p, BRIDGE_OUT_OF_RANGE, addr);
        s = locate(a, addr, len, &t);
        if (s == BRIDGE_OK) s = copy(a, &t, addr, len, q[10], 0, NULL);
        if (s == BRIDGE_OK) s = copy(a, &t, addr, len, q[10], 0, p + 1);
        if (s != BRIDGE_OK) return refuse(p, s, addr);
        p[0] = BRIDGE_OK;
        return (size_t)len + 1;
    }
    case BRIDGE_OP_WRITE: {
        uint64_t addr;
        size_t len;
        if (qlen < 9) return refuse(p, BRIDGE_BAD_LENGTH, 0);
        addr = get64(q);
        len = qlen - 9;
        s = locate(a, addr, len, &t);
        if (s == BRIDGE_OK) s = copy(a, &t, addr, len, q[8], 1, NULL);
        if (s == BRIDGE_OK) s = copy(a, &t, addr, len, q[8], 1, q + 9);
        if (s != BRIDGE_OK) return refuse(p, s, addr);
        p[0] = BRIDGE_OK;
        return 1;
    }
    case BRIDGE_OP_LOAD: {
        uint32_t v;
        if (qlen != 9) return refuse(p, BRIDGE_BAD_LENGTH, 0);
        s = check_word(a, get64(q), q[8], &t);
        if (s == BRIDGE_OK && h->load(a->ctx, t.window, t.offset, q[8], &v) != 0) s = BRIDGE_BACKEND;
        if (s != BRIDGE_OK) return refuse(p, s, get64(q));
        h->fence(a->ctx); /* acquire: later reads see at least what this load saw */
        p[0] = BRIDGE_OK;
        put32(p + 1, v);
        return 5;
    }
    case BRIDGE_OP_STORE:
        if (qlen != 13) return refuse(p, BRIDGE_BAD_LENGTH, 0);
        s = check_word(a, get64(q), q[8], &t);
        if (s == BRIDGE_OK) {
            h->fence(a->ctx); /* release: earlier writes are visible first */
            if (h->store(a->ctx, t.window, t.offset, q[8], get32(q + 9)) != 0) s = BRIDGE_BACKEND;
            h->fence(a->ctx);
        }
        if (s != BRIDGE_OK) return refuse(p, s, get64(q));
        p[0] = BRIDGE_OK;
        return 1;
    case BRIDGE_OP_FENCE:
        if (qlen != 0) return refuse(p, BRIDGE_BAD_LENGTH, 0);
        h->fence(a->ctx);
        p[0] = BRIDGE_OK;
        return 1;
    case BRIDGE_OP_NOTIFY: {
        unsigned line;
        uint32_t value;
        if (qlen != 5) return refuse(p, BRIDGE_BAD_LENGTH, 0);
        line = q[0];
        value = get32(q + 1);
        h->fence(a->ctx); /* docs/amp-bus.md §9.2: a barrier before NOTIFY */
        if (line < a->nlines) {
            const bridge_line *l = &a->lines[line];
            uint32_t v = value != 0 ? value : l->value;
            s = check_word(a, l->addr, l->width, &t);
            if (s == BRIDGE_OK && l->add) {
                uint32_t old;
                if (h->load(a->ctx, t.window, t.offset, l->width, &old) != 0) s = BRIDGE_BACKEND;
                v += old;
            }
            if (s == BRIDGE_OK && h->store(a->ctx, t.window, t.offset, l->width, v) != 0) s = BRIDGE_BACKEND;
            h->fence(a->ctx);
        } else {
            s = h->notify && h->notify(a->ctx, line, value) == 0 ? BRIDGE_OK : BRIDGE_NO_SUCH_LINE;
        }
        if (s != BRIDGE_OK) return refuse(p, s, line < a->nlines ? a->lines[line].addr : 0);
        p[0] = BRIDGE_OK;
        return 1;
    }
    case BRIDGE_OP_WATCH: {
        bridge_watch *w;
        uint32_t v;
        if (qlen != 20) return refuse(p, BRIDGE_BAD_LENGTH, 0);
        if (q[0] >= BRIDGE_WATCH_SLOTS) return refuse(p, BRIDGE_NO_SUCH_SLOT, 0);
        s = check_word(a, get64(q + 8), q[1], &t);
        if (s == BRIDGE_OK && h->load(a->ctx, t.window, t.offset, q[1], &v) != 0) s = BRIDGE_BACKEND;
        if (s != BRIDGE_OK) return refuse(p, s, get64(q + 8));
        w = &a->watches[q[0]];
        w->active = 1;
        w->width = q[1];
        w->window = (uint8_t)t.window;
        w->offset = t.offset;
        w->mask = get32(q + 4);
        w->last = v & w->mask;
        w->counter = 0;
        w->interval_us = get32(q + 16) != 0 ? get32(q + 16) : a->poll_us;
        w->due_us = h->now_us(a->ctx) + w->interval_us;
        p[0] = BRIDGE_OK;
        put32(p + 1, w->last);
        return 5;
    }
    case BRIDGE_OP_UNWATCH:
        if (qlen != 1) return refuse(p, BRIDGE_BAD_LENGTH, 0);
        if (q[0] >= BRIDGE_WATCH_SLOTS) return refuse(p, BRIDGE_NO_SUCH_SLOT, 0);
        a->watches[q[0]].active = 0;
        p[0] = BRIDGE_OK;
        return 1;
    case BRIDGE_OP_TAP: {
        bridge_tap *tp;
        target ti, ts;
        uint32_t n, size, stride, v, rec;
        unsigned i;
        if (qlen != 32) return refuse(p, BRIDGE_BAD_LENGTH, 0);
        if (q[0] >= BRIDGE_TAP_RINGS) return refuse(p, BRIDGE_NO_SUCH_SLOT, 0);
        n = get16(q + 2);
        size = get16(q + 4);
        stride = get16(q + 6);
        rec = BRIDGE_TAP_ENTRY + size;
        tp = &a->taps[q[0]];
        /* A new stream unless it joins rings being followed, whose entries share its size. */
        if (n < 2 || size == 0 || stride == 0 || BRIDGE_TAP_READ_HEADER + rec > BRIDGE_MAX_PAYLOAD || rec > BRIDGE_TAP_BYTES ||
            (tap_following(a) && tp->state != 1 && size != a->tap_slot_size))
            return refuse(p, BRIDGE_OUT_OF_RANGE, get64(q + 24));
        s = check_word(a, get64(q + 16), q[1], &ti);
        if (s == BRIDGE_OK && h->load(a->ctx, ti.window, ti.offset, q[1], &v) != 0) s = BRIDGE_BACKEND;
        if (s != BRIDGE_OK) return refuse(p, s, get64(q + 16));
        s = locate(a, get64(q + 24), (uint64_t)(n - 1) * stride + size, &ts);
        if (s != BRIDGE_OK) return refuse(p, s, get64(q + 24));
        if (!tap_following(a) || tp->state == 1) {
            for (i = 0; i < BRIDGE_TAP_RINGS; i++) a->taps[i].state = 0;
            a->tap_slot_size = size;
            a->tap_capacity = BRIDGE_TAP_BYTES / rec;
            a->tap_start = a->tap_head = a->tap_count = a->tap_staged = 0;
        }
        memset(tp, 0, sizeof *tp);
        tp->state = 1;
        tp->width = q[1];
        tp->index_window = (uint8_t)ti.window;
        tp->index_offset = ti.offset;
        tp->slots_window = (uint8_t)ts.window;
        tp->slots_offset = ts.offset;
        tp->slots_addr = get64(q + 24);
        tp->n = n;
        tp->stride = stride;
        tp->mask = get32(q + 8);
        a->tap_interval_us = get32(q + 12) != 0 ? get32(q + 12) : a->poll_us;
        a->tap_due_us = h->now_us(a->ctx);
        v &= tp->mask;
        tp->next = v < n ? v : TAP_NOT_STARTED;
        tp->bad_index = v < n ? TAP_NO_BAD_INDEX : v;
        p[0] = BRIDGE_OK;
        put32(p + 1, v);
        put32(p + 5, a->tap_capacity);
        return 9;
    }
    case BRIDGE_OP_TAP_READ: {
        uint32_t from, skip, max, k, i;
        size_t rec = BRIDGE_TAP_ENTRY + a->tap_slot_size;
        uint8_t *e;
        if (qlen != 8) return refuse(p, BRIDGE_BAD_LENGTH, 0);
        for (i = 0; i < BRIDGE_TAP_RINGS && a->taps[i].state == 0; i++) continue;
        if (i == BRIDGE_TAP_RINGS) return refuse(p, BRIDGE_NO_SUCH_SLOT, 0);
        from = get32(q + 4);
        skip = from - a->tap_head;
        if (skip > a->tap_count) return refuse(p, BRIDGE_OUT_OF_RANGE, 0);
        /* Entries before `from` reached the host: their room is free again. */
        a->tap_head = from;
        a->tap_start = (a->tap_start + skip) % a->tap_capacity;
        a->tap_count -= skip;
        max = (uint32_t)((BRIDGE_MAX_PAYLOAD - BRIDGE_TAP_READ_HEADER) / rec);
        if (get16(q + 2) != 0 && get16(q + 2) < max) max = get16(q + 2);
        k = a->tap_count < max ? a->tap_count : max;
        p[0] = BRIDGE_OK;
        p[1] = BRIDGE_TAP_RINGS;
        put16(p + 2, (uint16_t)k);
        put32(p + 4, from);
        put32(p + 8, h->now_us(a->ctx));
        for (i = 0; i < BRIDGE_TAP_RINGS; i++) put32(p + 12 + 4 * i, a->taps[i].state == 1 ? a->taps[i].bad_index : TAP_NO_BAD_INDEX);
        for (e = p + BRIDGE_TAP_READ_HEADER, i = 0; i < k; i++, e += rec) memcpy(e, tap_entry(a, i), rec);
        return BRIDGE_TAP_READ_HEADER + k * rec;
    }
    case BRIDGE_OP_UNTAP: {
        unsigned i;
        if (qlen != 0) return refuse(p, BRIDGE_BAD_LENGTH, 0);
        for (i = 0; i < BRIDGE_TAP_RINGS && a->taps[i].state == 0; i++) continue;
        if (i == BRIDGE_TAP_RINGS) return refuse(p, BRIDGE_NO_SUCH_SLOT, 0);
        if (tap_following(a)) {
            /* A last copy of what was published up to now, then a look that checks it. */
            tap_look(a, 1);
            tap_look(a, 0);
            for (i = 0; i < BRIDGE_TAP_RINGS; i++)
                if (a->taps[i].state == 1) a->taps[i].state = 2;
        }
        p[0] = BRIDGE_OK;
        put32(p + 1, a->tap_head + a->tap_count);
        for (i = 0; i < BRIDGE_TAP_RINGS; i++) put32(p + 5 + 4 * i, a->taps[i].lost);
        return 5 + 4 * BRIDGE_TAP_RINGS;
    }
    default:
        return refuse(p, BRIDGE_UNSUPPORTED_OPCODE, 0);
    }
}

/* One encoded frame (delimiter stripped). Corrupt frames are dropped without a reply: their
 * sequence number cannot be trusted, and the host retransmits after its timeout. */
static void on_frame(bridge_agent *a, const uint8_t *enc, size_t len)
{
    size_t n = bridge_cobs_decode(enc, len, a->frame), plen, rlen;
    uint8_t type;
    uint16_t seq;
    uint32_t crc;
    if (n == (size_t)-1 || n < BRIDGE_HEADER + BRIDGE_CRC) goto bad;
    plen = get16(a->frame + 4);
    if (BRIDGE_HEADER + plen + BRIDGE_CRC != n) goto bad;
    crc = get32(a->frame + BRIDGE_HEADER + plen);
    if (bridge_crc32c(a->frame, BRIDGE_HEADER + plen, 0) != crc) goto bad;
    type = a->frame[1];
    seq = get16(a->frame + 2);
    if (type & BRIDGE_REPLY) return; /* not a request: our own echo or a confused peer */
    if (a->cache_valid && seq == a->cache_seq && crc == a->cache_crc) {
        a->stats.retries++;
        a->hooks->write(a->ctx, a->cache, a->cache_len);
        return;
    }
    a->stats.frames++;
    if (a->frame[0] != BRIDGE_VERSION) rlen = refuse(a->reply + BRIDGE_HEADER, BRIDGE_BAD_VERSION, 0);
    else rlen = execute(a, type, a->frame + BRIDGE_HEADER, plen, a->reply + BRIDGE_HEADER);
    a->cache_len = seal(a->reply, (uint8_t)(type | BRIDGE_REPLY), seq, rlen, a->cache);
    a->cache_valid = 1;
    a->cache_seq = seq;
    a->cache_crc = crc;
    a->hooks->write(a->ctx, a->cache, a->cache_len);
    return;
bad:
    a->stats.bad_frames++;
}

void bridge_agent_feed(bridge_agent *a, const uint8_t *data, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++) {
        uint8_t b = data[i];
        if (b == 0) {
            if (!a->rx_overrun && a->rx_len > 0) on_frame(a, a->rx, a->rx_len);
            a->rx_len = 0;
            a->rx_overrun = 0;
        } else if (a->rx_overrun) {
            continue;
        } else if (a->rx_len == sizeof a->rx) {
            a->rx_overrun = 1;
            a->stats.overruns++;
        } else {
            a->rx[a->rx_len++] = b;
        }
    }
}

uint32_t bridge_agent_poll_taps(bridge_agent *a)
{
    uint32_t now = a->hooks->now_us(a->ctx);
    int32_t wait;
    if (!tap_following(a)) return UINT32_MAX;
    wait = (int32_t)(a->tap_due_us - now);
    if (wait <= 0) {
        /* Rings that moved are looked at again at once: that look checks the copies just made. */
        wait = tap_look(a, 1) ? 0 : (int32_t)a->tap_interval_us;
        a->tap_due_us = now + (uint32_t)wait;
    }
    return (uint32_t)wait;
}

uint32_t bridge_agent_poll(bridge_agent *a)
{
    uint32_t now = a->hooks->now_us(a->ctx), next = UINT32_MAX, wait_taps;
    unsigned i;
    for (i = 0; i < BRIDGE_WATCH_SLOTS; i++) {
        bridge_watch *w = &a->watches[i];
        int32_t wait;
        if (!w->active) continue;
        wait = (int32_t)(w->due_us - now);
        if (wait <= 0) {
            uint32_t v;
            if (a->hooks->load(a->ctx, w->window, w->offset, w->width, &v) == 0 && (v & w->mask) != w->last) {
                w->last = v & w->mask;
                w->counter++;
                send_event(a, i, w);
            }
            w->due_us = now + w->interval_us;
            wait = (int32_t)w->interval_us;
        }
        if ((uint32_t)wait < next) next = (uint32_t)wait;
    }
    wait_taps = bridge_agent_poll_taps(a);
    return wait_taps < next ? wait_taps : next;
}

uint32_t bridge_agent_service(bridge_agent *a)
{
    int c;
    uint8_t b;
    while ((c = a->hooks->read_byte(a->ctx)) >= 0) {
        b = (uint8_t)c;
        bridge_agent_feed(a, &b, 1);
    }
    return bridge_agent_poll(a);
}

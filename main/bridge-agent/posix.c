/*
 * Linux/POSIX port of the bridge agent: windows are mmap()ed from /dev/mem (physical
 * addresses, e.g. the STM32MP157's MCU SRAM and IPCC seen from the Cortex-A7) or from a
 * regular file (e.g. under /dev/shm, for tests and simulated boards), and the line is a tty.
 *
 *   bridge-agent --tty PATH [--baud N] --mem PATH --window BASE:SIZE[@OFFSET][/WIDTHS]...
 *                [--notify ADDR:WIDTH:VALUE | ADDR:WIDTH:+N]... [--poll-us N] [--realtime] [--verbose]
 *
 * See README.md. Exits 0 on SIGINT/SIGTERM, 1 on a usage or set-up error, 2 when the tty hangs up.
 */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "bridge.h"

#define AGENT_VERSION "1.0.0"

typedef struct posix_ctx {
    bridge_agent *agent;
    int tty;
    volatile uint8_t *mem[BRIDGE_MAX_WINDOWS];
    int verbose;
} posix_ctx;

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void fail(const char *what)
{
    fprintf(stderr, "bridge-agent: %s\n", what);
    exit(1);
}

static void px_write(void *c, const uint8_t *data, size_t len)
{
    posix_ctx *x = c;
    while (len > 0) {
        ssize_t n = write(x->tty, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {
            /* The line is full: keep following tapped rings while it drains. */
            struct pollfd p = { x->tty, POLLOUT, 0 };
            uint32_t wait_us = bridge_agent_poll_taps(x->agent);
            struct timespec timeout = { 0, 100000000 };
            if (wait_us < 100000u) timeout.tv_nsec = (long)wait_us * 1000;
            ppoll(&p, 1, &timeout, NULL);
            continue;
        }
        if (n <= 0) {
            fprintf(stderr, "bridge-agent: write to tty failed: %s\n", strerror(errno));
            exit(2);
        }
        data += n;
        len -= (size_t)n;
    }
}

static int px_load(void *c, unsigned window, uint64_t offset, unsigned width, uint32_t *value)
{
    volatile uint8_t *p = ((posix_ctx *)c)->mem[window] + offset;
    if (width == 8) *value = *p;
    else if (width == 16) *value = *(volatile uint16_t *)(volatile void *)p;
    else *value = *(volatile uint32_t *)(volatile void *)p;
    return 0;
}

static int px_store(void *c, unsigned window, uint64_t offset, unsigned width, uint32_t value)
{
    volatile uint8_t *p = ((posix_ctx *)c)->mem[window] + offset;
    if (width == 8) *p = (uint8_t)value;
    else if (width == 16) *(volatile uint16_t *)(volatile void *)p = (uint16_t)value;
    else *(volatile uint32_t *)(volatile void *)p = value;
    return 0;
}

static void px_fence(void *c)
{
    (void)c;
#if defined(__arm__) || defined(__aarch64__)
    /* DSB, not just DMB: device registers (IPCC) and the M4's view of SRAM. */
    __asm__ volatile("dsb sy" ::: "memory");
#else
    __sync_synchronize();
#endif
}

static uint32_t px_now_us(void *c)
{
    struct timespec ts;
    (void)c;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
}

static speed_t baud_constant(long baud)
{
    static const struct { long baud; speed_t c; } table[] = {
        { 9600, B9600 }, { 19200, B19200 }, { 38400, B38400 }, { 57600, B57600 }, { 115200, B115200 },
        { 230400, B230400 }, { 460800, B460800 }, { 921600, B921600 }, { 1000000, B1000000 },
        { 1500000, B1500000 }, { 2000000, B2000000 }, { 3000000, B3000000 }, { 4000000, B4000000 },
    };
    size_t i;
    for (i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].baud == baud) return table[i].c;
    fail("--baud: expected one of 9600 19200 38400 57600 115200 230400 460800 921600 1000000 1500000 2000000 3000000 4000000");
    return B0;
}

static int open_tty(const char *path, long baud)
{
    struct termios t;
    int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        fprintf(stderr, "bridge-agent: cannot open tty %s: %s\n", path, strerror(errno));
        exit(1);
    }
    if (tcgetattr(fd, &t) != 0) {
        fprintf(stderr, "bridge-agent: %s is not a tty: %s\n", path, strerror(errno));
        exit(1);
    }
    cfmakeraw(&t);
    t.c_cflag |= CLOCAL | CREAD;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    cfsetispeed(&t, baud_constant(baud));
    cfsetospeed(&t, baud_constant(baud));
    if (tcsetattr(fd, TCSANOW, &t) != 0) {
        fprintf(stderr, "bridge-agent: cannot set raw mode on %s: %s\n", path, strerror(errno));
        exit(1);
    }
    return fd;
}

static uint64_t parse_num(const char *s, char **end, const char *what)
{
    uint64_t v;
    errno = 0;
    v = strtoull(s, end, 0);
    if (errno != 0 || *end == s) {
        fprintf(stderr, "bridge-agent: %s: expected a number (decimal or 0x...), saw \"%s\"\n", what, s);
        exit(1);
    }
    return v;
}

static uint8_t parse_widths(const char *s)
{
    uint8_t w = 0;
    char *end;
    while (*s) {
        uint64_t n = parse_num(s, &end, "--window /WIDTHS");
        if (n == 8) w |= BRIDGE_W8;
        else if (n == 16) w |= BRIDGE_W16;
        else if (n == 32) w |= BRIDGE_W32;
        else fail("--window /WIDTHS: expected a comma-separated list of 8, 16, 32");
        s = *end == ',' ? end + 1 : end;
        if (*end != ',' && *end != 0) fail("--window /WIDTHS: expected a comma-separated list of 8, 16, 32");
    }
    return w;
}

/* Maps [offset, offset + size) of fd, from the page boundary below offset. */
static volatile uint8_t *map_window(int fd, const char *path, uint64_t offset, uint64_t size, int is_file)
{
    long page = sysconf(_SC_PAGESIZE);
    uint64_t start = offset & ~(uint64_t)(page - 1);
    void *m;
    if (is_file) {
        struct stat st;
        if (fstat(fd, &st) == 0 && (uint64_t)st.st_size < offset + size) {
            fprintf(stderr, "bridge-agent: %s is %lld bytes, a window needs bytes up to 0x%llx; make the file larger (truncate -s)\n", path,
                    (long long)st.st_size, (unsigned long long)(offset + size));
            exit(1);
        }
    }
    m = mmap(NULL, (size_t)(offset - start + size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)start);
    if (m == MAP_FAILED) {
        fprintf(stderr, "bridge-agent: cannot map 0x%llx bytes of %s at 0x%llx: %s\n", (unsigned long long)size, path, (unsigned long long)offset,
                strerror(errno));
        exit(1);
    }
    return (volatile uint8_t *)m + (offset - start);
}

static void usage(void)
{
    fputs("usage: bridge-agent --tty PATH [--baud N] --mem PATH --window BASE:SIZE[@OFFSET][/WIDTHS]...\n"
          "                    [--notify ADDR:WIDTH:VALUE|ADDR:WIDTH:+N]... [--poll-us N] [--realtime] [--verbose]\n"
          "  --mem /dev/mem maps physical addresses (OFFSET defaults to BASE); a regular file maps\n"
          "  from OFFSET (default 0). WIDTHS: e.g. /32 for a register block (default 8,16,32).\n"
          "  --notify lines are numbered from 0 in the order given; +N adds N (a counter doorbell).\n"
          "  --realtime: run at the lowest SCHED_FIFO priority, so tapped rings are followed on a busy system.\n",
          stderr);
    exit(1);
}

int main(int argc, char **argv)
{
    static bridge_agent agent;
    static const bridge_hooks hooks = { NULL, px_write, px_load, px_store, px_fence, NULL, px_now_us };
    posix_ctx ctx;
    const char *tty = NULL, *mem = NULL;
    long baud = 115200;
    int memfd = -1, is_file = 0, i, realtime = 0;
    struct sigaction sa;

    memset(&ctx, 0, sizeof ctx);
    ctx.agent = &agent;
    bridge_agent_init(&agent, &hooks, &ctx, "bridge-agent-posix", AGENT_VERSION);
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;
        if (strcmp(arg, "--verbose") == 0 || strcmp(arg, "-v") == 0) {
            ctx.verbose = 1;
            continue;
        }
        if (strcmp(arg, "--realtime") == 0) {
            realtime = 1;
            continue;
        }
        if (val == NULL) usage();
        i++;
        if (strcmp(arg, "--tty") == 0) tty = val;
        else if (strcmp(arg, "--baud") == 0) baud = (long)parse_num(val, &end, "--baud");
        else if (strcmp(arg, "--poll-us") == 0) agent.poll_us = (uint32_t)parse_num(val, &end, "--poll-us");
        else if (strcmp(arg, "--mem") == 0) {
            struct stat st;
            mem = val;
            memfd = open(mem, O_RDWR | O_SYNC);
            if (memfd < 0 || fstat(memfd, &st) != 0) {
                fprintf(stderr, "bridge-agent: cannot open %s: %s%s\n", mem, strerror(errno), errno == EACCES ? " (run as root for /dev/mem)" : "");
                exit(1);
            }
            is_file = S_ISREG(st.st_mode);
        } else if (strcmp(arg, "--window") == 0) {
            uint64_t base, size, offset;
            uint8_t widths = BRIDGE_WALL;
            int w;
            if (memfd < 0) fail("--window needs --mem first");
            base = parse_num(val, &end, "--window BASE");
            if (*end != ':') fail("--window: expected BASE:SIZE[@OFFSET][/WIDTHS]");
            size = parse_num(end + 1, &end, "--window SIZE");
            offset = is_file ? 0 : base;
            if (*end == '@') offset = parse_num(end + 1, &end, "--window OFFSET");
            if (*end == '/') widths = parse_widths(end + 1);
            else if (*end != 0) fail("--window: expected BASE:SIZE[@OFFSET][/WIDTHS]");
            w = bridge_agent_add_window(&agent, base, size, widths);
            if (w < 0) fail("--window: too many windows or size 0");
            ctx.mem[w] = map_window(memfd, mem, offset, size, is_file);
        } else if (strcmp(arg, "--notify") == 0) {
            uint64_t addr, width, value;
            int add;
            addr = parse_num(val, &end, "--notify ADDR");
            if (*end != ':') fail("--notify: expected ADDR:WIDTH:VALUE or ADDR:WIDTH:+N");
            width = parse_num(end + 1, &end, "--notify WIDTH");
            if (*end != ':' || (width != 8 && width != 16 && width != 32)) fail("--notify: WIDTH must be 8, 16 or 32");
            add = end[1] == '+';
            value = parse_num(end + 1 + add, &end, "--notify VALUE");
            if (bridge_agent_add_line(&agent, addr, (uint8_t)width, (uint32_t)value, add) < 0) fail("--notify: too many lines");
        } else usage();
    }
    if (tty == NULL || agent.nwindows == 0) usage();
    ctx.tty = open_tty(tty, baud);

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (realtime) {
        /* Tapped rings (PROTOCOL.md 3.3): an agent kept off the CPU for a lap of a ring loses
         * messages it cannot count. The lowest real-time priority puts it ahead of ordinary work. */
        struct sched_param sp;
        memset(&sp, 0, sizeof sp);
        sp.sched_priority = sched_get_priority_min(SCHED_FIFO);
        if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0) {
            fprintf(stderr, "bridge-agent: --realtime: cannot use SCHED_FIFO: %s (run as root or with CAP_SYS_NICE)\n", strerror(errno));
            exit(1);
        }
    }
    if (ctx.verbose) fprintf(stderr, "bridge-agent %s: serving %u window(s) on %s%s\n", AGENT_VERSION, agent.nwindows, tty, realtime ? " at a real-time priority" : "");

    while (!stop) {
        uint8_t buf[4096];
        uint32_t wait_us = bridge_agent_poll(&agent);
        struct pollfd p = { ctx.tty, POLLIN, 0 };
        /* Microseconds, not poll()'s milliseconds: tapped rings are looked at every few µs. */
        struct timespec timeout = { 1, 0 };
        int r;
        if (wait_us != UINT32_MAX) {
            timeout.tv_sec = (time_t)(wait_us / 1000000u);
            timeout.tv_nsec = (long)(wait_us % 1000000u) * 1000;
        }
        r = ppoll(&p, 1, &timeout, NULL);
        if (r < 0 && errno != EINTR) fail("poll failed");
        if (r > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)) && !(p.revents & POLLIN)) {
            fprintf(stderr, "bridge-agent: %s hung up\n", tty);
            return 2;
        }
        if (r > 0) {
            ssize_t n = read(ctx.tty, buf, sizeof buf);
            if (n > 0) bridge_agent_feed(&agent, buf, (size_t)n);
            else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                fprintf(stderr, "bridge-agent: %s closed: %s\n", tty, n == 0 ? "end of file" : strerror(errno));
                return 2;
            }
        }
    }
    if (ctx.verbose)
        fprintf(stderr, "bridge-agent: %lu requests, %lu retransmissions answered from cache, %lu corrupt frames, %lu events\n",
                (unsigned long)agent.stats.frames, (unsigned long)agent.stats.retries, (unsigned long)agent.stats.bad_frames, (unsigned long)agent.stats.events);
    return 0;
}

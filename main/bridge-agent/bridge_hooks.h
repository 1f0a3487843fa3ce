/*
 * Platform hooks of the bridge agent core. A port to bare metal or Zephyr fills in one
 * bridge_hooks and calls bridge_agent_service() from its main loop (or a thread); the Linux
 * port is posix.c. The core has already checked every address against the agent's windows,
 * the window's allowed widths and alignment before it calls a memory hook, so hooks do no checks.
 */
#ifndef BRIDGE_HOOKS_H
#define BRIDGE_HOOKS_H

#include <stddef.h>
#include <stdint.h>

typedef struct bridge_hooks {
    /* Next received byte (0..255), or -1 when none is waiting. Must not block. */
    int (*read_byte)(void *ctx);
    /* Sends len bytes; may block until they are queued. */
    void (*write)(void *ctx, const uint8_t *data, size_t len);

    /* One volatile access of `width` bits (8, 16, 32) at byte `offset` of window `window`
     * (the index given to bridge_agent_add_window). Return 0, or nonzero for a bus fault
     * (reported to the host as status BACKEND). */
    int (*load)(void *ctx, unsigned window, uint64_t offset, unsigned width, uint32_t *value);
    int (*store)(void *ctx, unsigned window, uint64_t offset, unsigned width, uint32_t value);
    /* Full barrier for shared memory and device registers (e.g. DSB SY on Arm). */
    void (*fence)(void *ctx);

    /* Doorbell for NOTIFY lines that are not register writes configured with
     * bridge_agent_add_line (e.g. Zephyr ipm_send). Return 0, or nonzero when the line does
     * not exist. May be NULL. Called after a fence. */
    int (*notify)(void *ctx, unsigned line, uint32_t value);

    /* Free-running microsecond clock (wraps at 2^32). */
    uint32_t (*now_us)(void *ctx);
} bridge_hooks;

#endif

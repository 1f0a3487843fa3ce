/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bytewise table: small enough for any
 * microcontroller. Check value: "123456789" -> 0xE3069283. Same as src/util/crc32c.ts. */
#include "bridge.h"

static uint32_t table[256];
static int table_ready;

static void make_table(void)
{
    uint32_t n, k, c;
    for (n = 0; n < 256; n++) {
        c = n;
        for (k = 0; k < 8; k++) c = (c & 1) ? 0x82f63b78u ^ (c >> 1) : c >> 1;
        table[n] = c;
    }
    table_ready = 1;
}

uint32_t bridge_crc32c(const uint8_t *data, size_t len, uint32_t crc)
{
    size_t i;
    if (!table_ready) make_table();
    crc = ~crc;
    for (i = 0; i < len; i++) crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

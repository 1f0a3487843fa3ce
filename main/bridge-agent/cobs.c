/* COBS with 0x00 as the frame delimiter (Cheshire & Baker 1999); same as src/serialBridge/cobs.ts. */
#include "bridge.h"

size_t bridge_cobs_encode(const uint8_t *in, size_t len, uint8_t *out)
{
    size_t code_at = 0, o = 1, i;
    uint8_t code = 1;
    for (i = 0; i < len; i++) {
        if (in[i] != 0) {
            out[o++] = in[i];
            code++;
        }
        if (in[i] == 0 || code == 0xff) {
            out[code_at] = code;
            code_at = o++;
            code = 1;
            /* A full 254-byte block at the very end needs no empty trailing block. */
            if (in[i] != 0 && i == len - 1) return code_at;
        }
    }
    out[code_at] = code;
    return o;
}

size_t bridge_cobs_decode(const uint8_t *in, size_t len, uint8_t *out)
{
    size_t i = 0, o = 0;
    while (i < len) {
        uint8_t code = in[i++];
        uint8_t k;
        if (code == 0 || i + code - 1 > len) return (size_t)-1;
        for (k = 1; k < code; k++) {
            if (in[i] == 0) return (size_t)-1;
            out[o++] = in[i++];
        }
        if (code != 0xff && i < len) out[o++] = 0;
    }
    return o;
}

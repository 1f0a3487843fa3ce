/**
 * The journal's unit of writing: a chunk of records, written with one write() call, checked by
 * CRC-32C so a reader can tell a complete chunk from a torn one. Little-endian:
 *
 * ```
 *  +0 u32 magic        "AMPC"
 *  +4 u16 version      CHUNK_VERSION
 *  +6 u16 header size  CHUNK_HEADER_SIZE
 *  +8 u32 payload bytes
 * +12 u32 record count
 * +16 u64 first seq
 * +24 u32 crc32c(payload)
 * +28 u32 crc32c(header bytes 0..27)
 * +32 payload: records back to back (record.ts)
 * ```
 */
import { crc32c } from '../util/crc32c';
import type { Result } from '../util/result';

export const CHUNK_MAGIC = 0x43504d41; // "AMPC" read little-endian
export const CHUNK_VERSION = 1;
export const CHUNK_HEADER_SIZE = 32;

export interface ChunkHeader {
  payloadBytes: number;
  count: number;
  firstSeq: number;
  payloadCrc: number;
}

/** Builds the header for `payload` (the records of one chunk). */
export function chunkHeader(payload: Uint8Array, count: number, firstSeq: number): Uint8Array<ArrayBuffer> {
  const h = new Uint8Array(CHUNK_HEADER_SIZE);
  const dv = new DataView(h.buffer);
  dv.setUint32(0, CHUNK_MAGIC, true);
  dv.setUint16(4, CHUNK_VERSION, true);
  dv.setUint16(6, CHUNK_HEADER_SIZE, true);
  dv.setUint32(8, payload.length, true);
  dv.setUint32(12, count, true);
  dv.setBigUint64(16, BigInt(firstSeq), true);
  dv.setUint32(24, crc32c(payload), true);
  dv.setUint32(28, crc32c(h.subarray(0, 28)), true);
  return h;
}

export type ChunkHeaderParse = Result<ChunkHeader>;

/** Checks a chunk header (32 bytes); the failure says what was expected and seen. */
export function parseChunkHeader(bytes: Uint8Array): ChunkHeaderParse {
  if (bytes.length < CHUNK_HEADER_SIZE) return { ok: false, error: `chunk header needs ${CHUNK_HEADER_SIZE} bytes, ${bytes.length} present` };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, CHUNK_HEADER_SIZE);
  const magic = dv.getUint32(0, true);
  if (magic !== CHUNK_MAGIC) return { ok: false, error: `chunk magic 0x${CHUNK_MAGIC.toString(16)} ("AMPC") expected, saw 0x${magic.toString(16).padStart(8, '0')}` };
  const crc = crc32c(bytes.subarray(0, 28));
  if (dv.getUint32(28, true) !== crc) return { ok: false, error: `chunk header CRC 0x${crc.toString(16)} computed, 0x${dv.getUint32(28, true).toString(16)} stored` };
  const version = dv.getUint16(4, true);
  if (version !== CHUNK_VERSION) return { ok: false, error: `chunk version ${CHUNK_VERSION} expected, saw ${version}` };
  return {
    ok: true,
    value: { payloadBytes: dv.getUint32(8, true), count: dv.getUint32(12, true), firstSeq: Number(dv.getBigUint64(16, true)), payloadCrc: dv.getUint32(24, true) },
  };
}

export function payloadIntact(header: ChunkHeader, payload: Uint8Array): boolean {
  return payload.length === header.payloadBytes && crc32c(payload) === header.payloadCrc;
}

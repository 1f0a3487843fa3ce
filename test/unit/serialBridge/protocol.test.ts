/** Framing and codec properties: round trips, and garbage that never crashes nor passes as a frame. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { CobsSplitter, cobsDecode, cobsEncode, cobsMaxEncoded } from '../../../src/serialBridge/cobs';
import {
  FRAME_HEADER,
  buildFrame,
  decodeCapabilities,
  decodeEvent,
  decodeFrame,
  encodeCapabilities,
  encodeFrame,
  maxWireBytes,
  type Capabilities,
} from '../../../src/serialBridge/protocol';
import { crc32c } from '../../../src/util/crc32c';

const bytes = (max: number) => fc.uint8Array({ maxLength: max });

describe('COBS', () => {
  it('round-trips any bytes, never emits 0x00 and stays within the worst-case size', () => {
    fc.assert(
      fc.property(fc.oneof(bytes(600), fc.uint8Array({ min: 0, max: 1, maxLength: 600 })), (data) => {
        const enc = cobsEncode(data);
        expect(enc.includes(0)).toBe(false);
        expect(enc.length).toBeLessThanOrEqual(cobsMaxEncoded(data.length));
        expect(cobsDecode(enc)).toEqual(data);
      }),
    );
  });

  it('rejects a 0x00 inside a frame and a code that runs past the end', () => {
    expect(cobsDecode(Uint8Array.of(0x03, 0x11, 0x00))).toBeNull();
    expect(cobsDecode(Uint8Array.of(0x05, 0x11, 0x22))).toBeNull();
    expect(cobsDecode(Uint8Array.of(0x00))).toBeNull();
  });

  it('splits a stream at delimiters across any chunking, and drops overlong frames', () => {
    fc.assert(
      fc.property(fc.array(bytes(40), { maxLength: 8 }), fc.array(fc.nat(30), { maxLength: 10 }), (frames, cuts) => {
        const wire = frames.flatMap((f) => [...cobsEncode(f), 0]);
        const got: Uint8Array[] = [];
        const s = new CobsSplitter(cobsMaxEncoded(40));
        let at = 0;
        for (const c of [...cuts, wire.length]) {
          s.push(Uint8Array.from(wire.slice(at, at + c)), (enc) => got.push(cobsDecode(enc)!));
          at += c;
        }
        s.push(Uint8Array.from(wire.slice(at)), (enc) => got.push(cobsDecode(enc)!));
        expect(got).toEqual(frames);
      }),
    );
    const s = new CobsSplitter(4);
    const got: number[] = [];
    s.push(Uint8Array.of(1, 2, 3, 4, 5, 6, 0, 2, 9, 0), (enc) => got.push(enc.length));
    expect({ got, overruns: s.overruns }).toEqual({ got: [2], overruns: 1 });
  });
});

describe('frames', () => {
  it('round-trip type, seq and payload', () => {
    fc.assert(
      fc.property(fc.nat(255), fc.nat(0xffff), bytes(300), (type, seq, payload) => {
        const wire = encodeFrame(type, seq, payload);
        expect(wire[wire.length - 1]).toBe(0);
        const r = decodeFrame(wire.subarray(0, -1));
        expect(r.ok && r.value).toMatchObject({ version: 1, type, seq, payload });
      }),
    );
  });

  it('random bytes never crash the parser, and nothing passes without a valid CRC', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (garbage) => {
        const s = new CobsSplitter(maxWireBytes(256));
        s.push(garbage, (enc) => {
          const r = decodeFrame(enc);
          if (!r.ok) return;
          const f = buildFrame(r.value.type, r.value.seq, r.value.payload, r.value.version);
          expect(crc32c(f.subarray(0, FRAME_HEADER + r.value.payload.length))).toBe(r.value.crc);
        });
      }),
    );
  });

  it('a frame with any one to three bits flipped on the wire is refused', () => {
    fc.assert(
      fc.property(fc.nat(255), fc.nat(0xffff), bytes(200), fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), (type, seq, payload, flips) => {
        const wire = encodeFrame(type, seq, payload).slice(0, -1);
        const bits = new Set(flips.map((f) => f % (wire.length * 8)));
        for (const b of bits) wire[b >> 3]! ^= 1 << (b & 7);
        // A flip that makes a 0x00 splits the frame: every piece must be refused too.
        const pieces: Uint8Array[] = [];
        new CobsSplitter(wire.length).push(Uint8Array.of(...wire, 0), (p) => pieces.push(p.slice()));
        for (const p of pieces) expect(decodeFrame(p).ok).toBe(false);
      }),
    );
  });

  it('says why a frame is refused', () => {
    const wire = encodeFrame(1, 2, Uint8Array.of(9)).subarray(0, -1);
    const bad = wire.slice();
    bad[bad.length - 1]! ^= 0x40;
    expect(decodeFrame(bad)).toEqual({ ok: false, error: expect.stringMatching(/^CRC-32C 0x[0-9a-f]{8} over the frame, trailer says 0x[0-9a-f]{8}$/) });
    expect(decodeFrame(cobsEncode(Uint8Array.of(1, 2, 3)))).toEqual({ ok: false, error: 'frame of 3 bytes is shorter than the 10-byte minimum' });
  });
});

describe('payloads', () => {
  const caps = fc.record({
    protocolVersion: fc.nat(255),
    widths: fc.nat(7),
    watchSlots: fc.nat(255),
    notifyLines: fc.nat(255),
    maxPayload: fc.nat(0xffff),
    maxFrame: fc.nat(0xffff),
    pollUs: fc.nat(),
    agentName: fc.string({ maxLength: 32, unit: fc.constantFrom(...'abcdefgh-_.0123456789') }),
    agentVersion: fc.string({ maxLength: 32, unit: fc.constantFrom(...'0123456789.') }),
    windows: fc.array(fc.record({ base: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), size: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), widths: fc.nat(7) }), { maxLength: 8 }),
  });

  it('capabilities round-trip', () => {
    fc.assert(
      fc.property(caps, (c: Capabilities) => {
        expect(decodeCapabilities(encodeCapabilities(c))).toEqual({ ok: true, value: c });
      }),
    );
  });

  it('truncated or random capabilities and events are refused with a reason, never thrown', () => {
    fc.assert(
      fc.property(caps, fc.nat(), (c, cut) => {
        const enc = encodeCapabilities(c);
        const r = decodeCapabilities(enc.subarray(0, cut % enc.length));
        expect(r.ok).toBe(false);
      }),
    );
    fc.assert(
      fc.property(bytes(64), (b) => {
        decodeCapabilities(b);
        expect(decodeEvent(b).ok).toBe(b.length === 12);
      }),
    );
  });
});

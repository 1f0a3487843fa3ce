/**
 * The serial bridge's ring tap without a line: the TAP/TAP_READ/UNTAP payloads byte for byte
 * (the layouts of main/bridge-agent/PROTOCOL.md 3.3, which the C agent's tests build by hand),
 * and BridgeRingTap against a scripted agent: ring numbering, batches cut from entries, one
 * host time per agent look across replies, bad indices, retries after a timeout, the last
 * entries and lost counts at stop, and the words for an agent without taps.
 */
import { describe, expect, it } from 'vitest';

import type { QueueProblem } from '../../../src/bus/queue';
import type { TapBatch, TapRing } from '../../../src/bus/tap';
import { BridgeError, type BridgeClient } from '../../../src/serialBridge/client';
import { decodeTapRead, encodeRequestPayload, encodeTapRead, NO_BAD_INDEX, STATUS, type TapEntries, type TapSpec } from '../../../src/serialBridge/protocol';
import { BridgeRingTap } from '../../../src/serialBridge/tap';
import { VirtualRuntime } from '../bus/helpers';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const SLOT = 4;

describe('tap payloads', () => {
  it('TAP, TAP_READ and UNTAP requests as PROTOCOL.md 3.3 lays them out', () => {
    const tap = encodeRequestPayload({ op: 'TAP', ring: 1, width: 32, slots: 16, slotSize: 64, stride: 64, indexMask: 0xff, intervalUs: 20, producer: 0x10040800n, slotsAddr: 0x10040900n });
    expect(hex(tap)).toBe('0120' + '1000' + '4000' + '4000' + 'ff000000' + '14000000' + '0008041000000000' + '0009041000000000');
    expect(hex(encodeRequestPayload({ op: 'TAP_READ', max: 3, from: 0x01020304 }))).toBe('0000' + '0300' + '04030201');
    expect(encodeRequestPayload({ op: 'UNTAP' }).length).toBe(0);
  });

  it('TAP_READ replies decode to entries, and a reply whose size disagrees is refused in words', () => {
    const e: TapEntries = {
      from: 7,
      nowUs: 1000,
      badIndex: [NO_BAD_INDEX, 9],
      lost: [0, 2],
      seenUs: [900, 950],
      index: [3, 1],
      ring: [1, 0],
      slots: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8),
    };
    const p = encodeTapRead(e, SLOT);
    // rings 2, count 2, from 7, now 1000, bad indices, then entries of 12 + 4 bytes.
    expect(hex(p.subarray(0, 19))).toBe('02' + '0200' + '07000000' + 'e8030000' + 'ffffffff' + '09000000');
    expect(hex(p.subarray(19, 35))).toBe('00000000' + '84030000' + '0300' + '01' + '00' + '01020304');
    expect(decodeTapRead(p, SLOT)).toEqual({ ok: true, value: e });
    expect(decodeTapRead(p.subarray(0, 30), SLOT)).toEqual({
      ok: false,
      error: 'TAP_READ reply lists 2 rings and 2 entries of 16 bytes (52 bytes), but carries 31',
    });
  });
});

/** The client's tap calls, answered from a script; anything not scripted is an empty reply. */
class ScriptedAgent {
  closed = false;
  readonly taps: TapSpec[] = [];
  readonly reads: number[] = [];
  replies: (Partial<TapEntries> | BridgeError)[] = [];
  tapError: BridgeError | null = null;
  untapped: { end: number; lost: number[] } = { end: 0, lost: [0, 0] };

  tap(spec: TapSpec): Promise<{ index: number; capacity: number }> {
    this.taps.push(spec);
    return this.tapError ? Promise.reject(this.tapError) : Promise.resolve({ index: 1, capacity: 100 });
  }
  tapRead(from: number): Promise<TapEntries> {
    this.reads.push(from);
    const r = this.replies.shift();
    if (r instanceof BridgeError) return Promise.reject(r);
    const count = r?.lost?.length ?? 0;
    return Promise.resolve({ from, nowUs: 1000, badIndex: [NO_BAD_INDEX, NO_BAD_INDEX], lost: [], seenUs: [], index: [], ring: [], slots: new Uint8Array(count * SLOT), ...r });
  }
  untap(): Promise<{ end: number; lost: number[] }> {
    return Promise.resolve(this.untapped);
  }
}

const down: TapRing = {
  direction: 'driver-to-device',
  producer: { offset: 0x10, width: 32 },
  consumer: { offset: 0x14, width: 32 },
  slots: { offset: 0x100, slots: 4, slotSize: SLOT, stride: SLOT },
  indexMask: 0xffffffff,
};
const up: TapRing = { ...down, direction: 'device-to-driver', producer: { offset: 0x18, width: 16 }, slots: { offset: 0x200, slots: 4, slotSize: SLOT, stride: 8 } };

function tapWith(agent: ScriptedAgent) {
  const runtime = new VirtualRuntime();
  const tap = new BridgeRingTap(agent as unknown as BridgeClient, { runtime, base: 0x10040000n, intervalUs: 30 });
  const batches: TapBatch[] = [];
  const problems: QueueProblem[] = [];
  tap.start([down, up], (b) => batches.push(b), (p) => problems.push(p));
  return { tap, batches, problems, runtime };
}

const settle = async (agent: ScriptedAgent) => {
  while (agent.replies.length > 0) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
};

describe('BridgeRingTap', () => {
  it('taps device-to-driver as ring 0, cuts batches at ring, look, loss and index, and keeps one time per look', async () => {
    const agent = new ScriptedAgent();
    const slots = (n: number) => Uint8Array.from({ length: n * SLOT }, (_, i) => i);
    agent.replies = [
      // Look at agent time 900: up's 0,1 then down's 3,0 (wrapping); look at 950: down's 2 after 1 lost.
      { lost: [0, 0, 0, 0, 1], seenUs: [900, 900, 900, 900, 950], index: [0, 1, 3, 0, 2], ring: [0, 0, 1, 1, 1], slots: slots(5), nowUs: 1000, badIndex: [NO_BAD_INDEX, 6] },
      // The next reply: more of the look at 950 keeps its time; an older agent time never goes back.
      { lost: [0], seenUs: [950], index: [2], ring: [0], slots: slots(1), nowUs: 5000, badIndex: [NO_BAD_INDEX, 6] },
    ];
    const { tap, batches, problems, runtime } = tapWith(agent);
    await settle(agent);
    agent.untapped = { end: 6, lost: [0, 3] };
    await tap.stop();

    expect(agent.taps.map((t) => [t.ring, t.width, t.producer, t.slotsAddr, t.stride, t.intervalUs])).toEqual([
      [0, 16, 0x10040018n, 0x10040200n, 8, 30],
      [1, 32, 0x10040010n, 0x10040100n, SLOT, 30],
    ]);
    expect(agent.reads.slice(0, 3)).toEqual([0, 5, 6]);
    const t900 = batches[0]!.seenNs;
    expect(batches.map((b) => [b.ring, b.first, b.count, b.lost, b.seenNs - t900, hex(b.slots)])).toEqual([
      [1, 0, 2, 0, 0n, '0001020304050607'],
      [0, 3, 2, 0, 0n, '08090a0b0c0d0e0f'],
      [0, 2, 1, 1, 50_000n, '10111213'],
      [1, 2, 1, 0, 50_000n, '00010203'],
      // At stop: 3 lost after down's last entry, after index 3.
      [0, 3, 0, 3, batches[4]!.seenNs - t900, ''],
    ]);
    expect(t900).toBeLessThan(runtime.nowNs);
    expect(problems).toEqual([
      { code: 'peer-index', offset: 0x10, reason: 'driver-to-device producer index 6 at 0x0010 is outside 0..3 (N = 4); its slots are not read until it is back in range' },
    ]);
  });

  it('asks again from the same entry after a timeout, and says why it cannot go on', async () => {
    const agent = new ScriptedAgent();
    agent.replies = [
      new BridgeError('timeout', 'serial port /dev/ttyX: no valid reply to TAP_READ from entry 0 (seq 9) after 6 attempts of 250 ms'),
      { lost: [0], seenUs: [10], index: [1], ring: [1], slots: new Uint8Array(SLOT) },
      new BridgeError('status', 'serial port /dev/ttyX: agent refused TAP_READ from entry 1: NO_SUCH_SLOT: watch slot beyond the agent\'s watch_slots', STATUS.NO_SUCH_SLOT),
    ];
    const { tap, batches, problems } = tapWith(agent);
    await settle(agent);
    await tap.stop();
    expect(agent.reads).toEqual([0, 0, 1]);
    expect(batches.map((b) => [b.ring, b.first, b.count])).toEqual([[0, 1, 1]]);
    expect(problems.map((p) => [p.code, p.offset, p.reason])).toEqual([
      [
        'layout',
        0x18,
        'the bridge agent stopped reading the tapped rings: serial port /dev/ttyX: agent refused TAP_READ from entry 1: NO_SUCH_SLOT: watch slot beyond the agent\'s watch_slots',
      ],
    ]);
  });

  it('an agent without taps is told apart from other refusals', async () => {
    const agent = new ScriptedAgent();
    agent.tapError = new BridgeError('status', 'serial port /dev/ttyX: agent refused TAP ring 0: UNSUPPORTED_OPCODE: opcode unknown to this agent', STATUS.UNSUPPORTED_OPCODE);
    const { tap, batches, problems } = tapWith(agent);
    await settle(agent);
    await tap.stop();
    expect(batches).toEqual([]);
    expect(agent.reads).toEqual([]);
    expect(problems).toEqual([
      { code: 'layout', offset: 0x18, reason: 'the bridge agent cannot tap: this agent has no ring taps (PROTOCOL.md 3.3); update it from main/bridge-agent' },
    ]);
  });
});

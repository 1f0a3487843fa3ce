/**
 * The bridge client state machine against the in-process fake agent, over an in-memory line
 * that can drop, corrupt and duplicate frames (seeded), on virtual time: every operation
 * succeeds exactly once or fails with a clear error, and a write is never applied twice.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { BridgeClient, BridgeError } from '../../../src/serialBridge/client';
import { STATUS } from '../../../src/serialBridge/protocol';
import { SeededPrng } from '../../../src/devices/rng';
import { BridgeDoorbellIn, BridgeDoorbellOut, BridgeWindow } from '../../../src/serialBridge/window';
import { VirtualRuntime } from '../bus/helpers';
import { FakeAgent } from './fakeAgent';

/** A seeded source of numbers in [0, 1), so a failing case replays. */
function random(seed: number): () => number {
  const prng = new SeededPrng(seed);
  return () => prng.nextUnit();
}

interface LineFaults {
  drop?: number;
  flip?: number;
  duplicate?: number;
  /** Drops exactly these frames (1-based count per direction). */
  dropNth?: number[];
}

/** One direction of the line: faults, then delivery on a microtask (before any virtual timer). */
function line(deliver: (b: Uint8Array) => void, faults: LineFaults, rand: () => number): (b: Uint8Array) => void {
  let n = 0;
  return (bytes) => {
    n++;
    if (faults.dropNth?.includes(n) || rand() < (faults.drop ?? 0)) return;
    const copy = bytes.slice();
    if (rand() < (faults.flip ?? 0)) {
      const bit = Math.floor(rand() * copy.length * 8);
      copy[bit >> 3]! ^= 1 << (bit & 7);
    }
    const times = rand() < (faults.duplicate ?? 0) ? 2 : 1;
    for (let i = 0; i < times; i++) queueMicrotask(() => deliver(copy));
  };
}

function rig(opts: { toAgent?: LineFaults; toHost?: LineFaults; seed?: number; retries?: number; silent?: boolean } = {}) {
  const rt = new VirtualRuntime();
  const rand = random(opts.seed ?? 1);
  let agent: FakeAgent | null = null;
  const client = new BridgeClient({
    send: line((b) => (opts.silent ? undefined : agent!.receive(b)), opts.toAgent ?? {}, rand),
    runtime: rt,
    timeoutMs: 50,
    retries: opts.retries ?? 5,
    where: 'test line',
  });
  agent = FakeAgent.testBoard(line((b) => client.receive(b), opts.toHost ?? {}, rand));
  const sram = agent.windows[0]!.bytes;
  const counter = () => new DataView(sram.buffer).getUint32(0xff0, true);
  return { rt, client, agent, sram, counter };
}

const SRAM = 0x10040000n;

describe('BridgeClient', () => {
  it('reads, writes, loads, stores, fences, pings and learns the capabilities', async () => {
    const { client, sram } = rig();
    const caps = await client.hello();
    expect(caps).toMatchObject({ protocolVersion: 1, maxPayload: 4112, watchSlots: 8, agentName: 'test-agent', agentVersion: '1.0' });
    expect(caps.windows).toEqual([
      { base: SRAM, size: 0x1000n, widths: 7 },
      { base: 0x4c001000n, size: 0x400n, widths: 4 },
    ]);
    expect(await client.read(SRAM + 0x10n, 4)).toEqual(Uint8Array.of(0x10, 0x11, 0x12, 0x13));
    await client.write(SRAM + 0x20n, Uint8Array.of(0xaa, 0xbb, 0xcc));
    expect(sram.subarray(0x20, 0x23)).toEqual(Uint8Array.of(0xaa, 0xbb, 0xcc));
    await client.store(SRAM + 0x40n, 16, 0xbeef);
    expect(await client.load(SRAM + 0x40n, 16)).toBe(0xbeef);
    await client.fence();
    expect(await client.ping(Uint8Array.of(1, 2, 3))).toEqual(Uint8Array.of(1, 2, 3));
  });

  it('turns refusals into errors that name the request, the status and the address', async () => {
    const { client } = rig();
    await client.hello();
    const err = (p: Promise<unknown>) => p.then(() => null, (e: BridgeError) => ({ kind: e.kind, status: e.status, message: e.message }));
    expect(await err(client.load(SRAM + 2n, 32))).toEqual({
      kind: 'status',
      status: STATUS.UNALIGNED,
      message: 'test line: agent refused LOAD32 at 0x10040002: UNALIGNED: address or length is not a multiple of the access width (at 0x10040002)',
    });
    expect(await err(client.read(0x20000000n, 4))).toMatchObject({ status: STATUS.BAD_ADDRESS, message: expect.stringContaining("READ 4 bytes at 0x20000000: BAD_ADDRESS: address is in none of the agent's windows") });
    expect(await err(client.read(SRAM + 0xff8n, 16))).toMatchObject({ status: STATUS.OUT_OF_RANGE });
    expect(await err(client.load(0x4c001000n, 8))).toMatchObject({ status: STATUS.UNSUPPORTED_WIDTH });
    expect(await err(client.notify(3))).toMatchObject({ status: STATUS.NO_SUCH_LINE, message: expect.stringContaining('NOTIFY line 3') });
    // The line is still in step after refusals.
    expect(await client.load(SRAM, 8)).toBe(0);
  });

  it('a lost reply is answered from the agent\'s cache: the write is applied once', async () => {
    const { client, agent, counter } = rig({ toHost: { dropNth: [2] } });
    await client.hello();
    await client.notify(0);
    expect({ counter: counter(), executed: agent.stats.executed, cached: agent.stats.cached, retransmits: client.stats.retransmits }).toEqual({
      counter: 0xf3f2f1f1,
      executed: 2,
      cached: 1,
      retransmits: 1,
    });
  });

  it('duplicated frames in both directions change nothing', async () => {
    const { client, agent, counter } = rig({ toAgent: { duplicate: 1 }, toHost: { duplicate: 1 } });
    await client.hello();
    for (let i = 0; i < 5; i++) await client.notify(0);
    expect(counter()).toBe(0xf3f2f1f0 + 5);
    expect(agent.stats.cached).toBe(6);
    expect(client.stats.staleReplies).toBeGreaterThan(0);
  });

  it('every operation succeeds exactly once over a line that drops, corrupts and duplicates frames', async () => {
    type Op = { kind: 'write'; offset: number; data: number[] } | { kind: 'notify' } | { kind: 'load'; offset: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('write' as const), offset: fc.nat(0xf00), data: fc.array(fc.nat(255), { minLength: 1, maxLength: 64 }) }),
      fc.record({ kind: fc.constant('notify' as const) }),
      fc.record({ kind: fc.constant('load' as const), offset: fc.nat(0x3fb).map((n) => n * 4) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.integer(), fc.array(op, { minLength: 1, maxLength: 25 }), async (seed, ops) => {
        const faults = { drop: 0.15, flip: 0.1, duplicate: 0.05 };
        const { client, sram, counter } = rig({ seed, toAgent: faults, toHost: faults, retries: 40 });
        const model = sram.slice();
        const view = new DataView(model.buffer);
        await client.hello();
        // Issued all at once: the client queues them and the agent executes them in order.
        const results = ops.map((o) => {
          if (o.kind === 'write') {
            model.set(o.data, o.offset);
            return client.write(SRAM + BigInt(o.offset), Uint8Array.from(o.data));
          }
          if (o.kind === 'notify') {
            view.setUint32(0xff0, view.getUint32(0xff0, true) + 1, true);
            return client.notify(0);
          }
          const want = view.getUint32(o.offset, true);
          return client.load(SRAM + BigInt(o.offset), 32).then((v) => expect(v).toBe(want));
        });
        await Promise.all(results);
        expect(counter()).toBe(view.getUint32(0xff0, true));
        expect(sram).toEqual(model);
      }),
      { numRuns: 40 },
    );
  });

  it('gives up after the retries with an error that says what and where', async () => {
    const { client, rt } = rig({ silent: true, retries: 2 });
    const started = rt.elapsedMs;
    const e = await client.read(SRAM, 4).catch((x: BridgeError) => x);
    expect(e).toBeInstanceOf(BridgeError);
    expect((e as BridgeError).kind).toBe('timeout');
    expect((e as BridgeError).message).toMatch(/^test line: no valid reply to READ 4 bytes at 0x10040000 \(seq \d+\) after 3 attempts of 50 ms; check that the agent runs/);
    expect(client.stats.retransmits).toBe(2);
    expect(rt.elapsedMs - started).toBeGreaterThanOrEqual(150);
  });

  it('a failed line fails every pending and later request with the reason', async () => {
    const { client } = rig({ silent: true });
    const pending = [client.load(SRAM, 32), client.read(SRAM, 8), client.fence()].map((p) => p.catch((e: BridgeError) => e.message));
    client.fail('port disappeared');
    client.fail('again'); // idempotent: the first reason stays
    expect(await Promise.all(pending)).toEqual([
      'LOAD32 at 0x10040000 not done: test line: port disappeared',
      'READ 8 bytes at 0x10040000 not done: test line: port disappeared',
      'FENCE not done: test line: port disappeared',
    ]);
    await expect(client.store(SRAM, 32, 1)).rejects.toThrow('STORE32 at 0x10040000 not done: test line: port disappeared');
  });

  it('refuses an agent of another protocol version or with too small a payload', async () => {
    const a = rig();
    a.agent.caps = { protocolVersion: 2 };
    await expect(a.client.hello()).rejects.toThrow('test line: agent test-agent speaks bridge protocol 2, this host speaks 1; update the agent or the workbench');
    const b = rig();
    b.agent.caps = { maxPayload: 128 };
    await expect(b.client.hello()).rejects.toThrow('takes payloads of 128 bytes, the protocol needs at least 256');
  });
});

describe('BridgeWindow', () => {
  it('reads and writes a range in as few requests as the payload limit allows', async () => {
    const { client, agent, sram } = rig();
    await client.hello();
    const w = new BridgeWindow(client, SRAM, 0x1000);
    const before = agent.stats.executed;
    expect(await w.read(0, 0x1000)).toEqual(sram.slice(0, 0x1000));
    expect(agent.stats.executed - before).toBe(1);
    const data = Uint8Array.from({ length: 0x1000 }, (_, i) => (i * 7) & 0xff);
    await w.write(0, data);
    expect(agent.stats.executed - before).toBe(2); // 4096 bytes fit in one WRITE (4103 max)
    expect(sram).toEqual(data);
    const big = new BridgeWindow(client, SRAM, 0x1000);
    expect(await big.read(1, 0xfff)).toEqual(data.subarray(1));
  });

  it('splits a range larger than the payload limit, in order', async () => {
    const rt = new VirtualRuntime();
    const client = new BridgeClient({ send: (b) => queueMicrotask(() => agent.receive(b)), runtime: rt });
    const mem = Uint8Array.from({ length: 10000 }, (_, i) => i % 251);
    const agent = new FakeAgent([{ base: 0n, size: 10000n, widths: 7, bytes: mem }], (b) => queueMicrotask(() => client.receive(b)));
    await client.hello();
    const w = new BridgeWindow(client, 0n, 10000);
    expect(await w.read(0, 10000)).toEqual(mem);
    expect(agent.stats.executed).toBe(1 + 3); // 4108-byte chunks (4111 rounded down to words)
    await w.write(0, new Uint8Array(10000).fill(9));
    expect(mem.every((b) => b === 9)).toBe(true);
  });

  it('refuses out-of-range and unaligned accesses before they reach the line', async () => {
    const { client } = rig();
    await client.hello();
    const w = new BridgeWindow(client, SRAM, 0x100);
    await expect(w.read(0xf0, 0x20)).rejects.toThrow(RangeError);
    expect(() => w.load(2, 32)).toThrow('32-bit access at unaligned offset 2');
    expect(() => w.store(0x100, 8, 0)).toThrow(RangeError);
    expect(client.stats.requests).toBe(1);
  });
});

describe('bridge doorbells', () => {
  it('out: NOTIFY a line, or STORE to a register', async () => {
    const { client, counter, agent } = rig();
    await client.hello();
    await new BridgeDoorbellOut(client, { kind: 'notify', line: 0, value: 0 }).ring();
    expect(counter()).toBe(0xf3f2f1f1);
    await new BridgeDoorbellOut(client, { kind: 'store', addr: 0x4c001008n, width: 32, value: 0x00100000 }).ring();
    expect(new DataView(agent.windows[1]!.bytes.buffer).getUint32(8, true)).toBe(0x00100000);
  });

  it('in: a watched word raises the listeners, acknowledges, and a lost EVENT is caught by the re-read', async () => {
    // Frames to the host: HELLO, WATCH replies, EVENT, ack STORE, FENCE, EVENT, FENCE, then the EVENT that is lost.
    const { client, agent, rt } = rig({ toHost: { dropNth: [8] } });
    const regs = new DataView(agent.windows[1]!.bytes.buffer);
    await client.hello();
    const bell = await BridgeDoorbellIn.start(
      client,
      { slot: 0, addr: 0x4c00101cn, width: 32, mask: 0x10, ack: [{ addr: 0x4c001008n, width: 32, value: 0x10 }], resyncMs: 20 },
      rt,
    );
    let rings = 0;
    bell.subscribe(() => rings++);
    // The peer (M4) sets its channel-4 flag: the agent's poll sees it and sends an EVENT.
    regs.setUint32(0x1c, 0x10, true);
    agent.poll();
    await client.fence(); // the EVENT and the acknowledge STORE are through once this returns
    expect(rings).toBe(1);
    expect(regs.getUint32(0x08, true)).toBe(0x10);
    // The peer clears it (as IPCC does after the acknowledge), then sets it again; that EVENT is lost.
    regs.setUint32(0x1c, 0, true);
    agent.poll();
    await client.fence();
    expect(rings).toBe(2);
    regs.setUint32(0x08, 0, true);
    regs.setUint32(0x1c, 0x10, true);
    agent.poll();
    await client.fence();
    expect(rings).toBe(2);
    await rt.sleep(25); // the re-read finds it
    await client.fence();
    expect({ rings, acked: regs.getUint32(0x08, true) }).toEqual({ rings: 3, acked: 0x10 });
    // A flag still set at the next re-read (here the acknowledge had no effect) is acknowledged again and rings.
    regs.setUint32(0x08, 0, true);
    await rt.sleep(20);
    await client.fence();
    expect({ rings, acked: regs.getUint32(0x08, true) }).toEqual({ rings: 4, acked: 0x10 });
    bell.close();
  });
});

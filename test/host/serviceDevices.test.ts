/**
 * The Devices and Queues requests of the service on the default simulated board: loads (a
 * repeat count and continuous until stopped, with live latency), the console terminal (open,
 * write, the device's echo as console.output, close), a descriptor's buffer bytes and the chains
 * the device returned last.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LOAD_RECENT } from '../../main/host/service/load';
import { WorkbenchService } from '../../main/host/service/workbench';
import { serviceCalls } from './serviceCalls';
import { WORKBENCH_EVENTS, type LoadProgress, type WorkbenchEvent } from '../../src/api/workbench';
import { parseHex, toHex } from '../../src/util/hex';

let root = '';
let service: WorkbenchService;
const events: WorkbenchEvent[] = [];
let devNums: Record<'rng' | 'i2c' | 'console', number>;

const { call, fail } = serviceCalls(() => service);

const loadEvents = (devNum: number): LoadProgress[] => events.flatMap((e) => (e.event === 'device.load' && e.data.devNum === devNum ? [e.data] : []));

async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'amp-service-devices-'));
  service = new WorkbenchService({ capturesDir: join(root, 'captures') });
  service.onEvent((e) => {
    WORKBENCH_EVENTS[e.event].parse(e.data);
    events.push(e);
  });
  const c = await call('session.connect', {});
  const of = (t: string) => c.devices.find((d) => d.deviceType === t)!.devNum;
  devNums = { rng: of('rng'), i2c: of('i2c'), console: of('console') };
}, 30_000);

afterAll(async () => {
  await service.close();
  rmSync(root, { recursive: true, force: true });
});

describe('loads', () => {
  it('runs a workload a given number of times and ends with every operation counted and its latency', async () => {
    const dev = devNums.i2c;
    const started = await call('device.load', { devNum: dev, kind: 'i2c-transfer', params: { address: 0x54, segments: [{ write: '00' }, { read: 4 }] }, count: 50 });
    expect(started).toMatchObject({ devNum: dev, kind: 'i2c-transfer', count: 50, running: true, stopped: null });
    await until(() => loadEvents(dev).some((p) => !p.running), 'the load to end');
    const end = loadEvents(dev).at(-1)!;
    expect(end).toMatchObject({ done: 50, failed: 0, running: false, stopped: null, errors: [] });
    expect(end.latencyUs!.samples).toBe(50);
    expect(end.recentUs).toHaveLength(Math.min(50, LOAD_RECENT));
    expect(end.latencyUs!.last).toBe(end.recentUs.at(-1));
    const { p50, p99, max, mean } = end.latencyUs!;
    expect(0 < p50 && p50 <= p99 && p99 <= max && mean <= max).toBe(true);
    // Over: stopping it is an error, and a single run works again.
    expect((await fail('device.stopLoad', { devNum: dev })).code).toBe('not-found');
    expect((await call('device.workload', { devNum: dev, kind: 'i2c-transfer', params: { address: 0x54, segments: [{ read: 1 }] } })).succeeded).toBe(true);
  });

  it('runs until stopped, reports while it runs, and refuses a second workload on the device meanwhile', async () => {
    const dev = devNums.rng;
    const before = loadEvents(dev).length;
    await call('device.load', { devNum: dev, kind: 'rng-read', params: { bytes: 8 }, count: null });
    // Progress arrives while it runs (every 250 ms).
    await until(() => loadEvents(dev).slice(before).some((p) => p.running && p.done > 0), 'live progress');
    expect((await fail('device.workload', { devNum: dev, kind: 'rng-read', params: { bytes: 1 } })).message).toBe(`a load is running on dev_num ${dev}; stop it first`);
    expect((await fail('device.load', { devNum: dev, kind: 'rng-read', params: { bytes: 1 }, count: 1 })).code).toBe('busy');
    const end = await call('device.stopLoad', { devNum: dev });
    expect(end).toMatchObject({ running: false, count: null, failed: 0, stopped: 'stopped by the user' });
    expect(end.done).toBeGreaterThan(0);
    expect(loadEvents(dev).at(-1)).toEqual(end);
  });

  it('counts failures and says the first of them once, in the trace too', async () => {
    const dev = devNums.i2c;
    const before = loadEvents(dev).length;
    await call('device.load', { devNum: dev, kind: 'i2c-transfer', params: { address: 0x50, segments: [{ read: 1 }] }, count: 5 });
    await until(() => loadEvents(dev).slice(before).some((p) => !p.running), 'the failing load to end');
    const end = loadEvents(dev).at(-1)!;
    expect(end).toMatchObject({ done: 5, failed: 5, latencyUs: null });
    expect(end.errors).toHaveLength(1);
    expect(end.errors[0]).toMatch(/^operation 0: .*0x50/);
    // One error marker for the five failures (the recorder flushes within 20 ms).
    const markers = async () => (await call('trace.rows', { from: 0, count: 5000, filter: 'kind == marker' })).rows.filter((r) => r.summary.includes(`i2c-transfer load on device ${dev}: operation`));
    let found: Awaited<ReturnType<typeof markers>> = [];
    for (let i = 0; i < 50 && found.length === 0; i++) {
      found = await markers();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(found.map((r) => r.summary)).toEqual([expect.stringMatching(/operation 0: .*0x50/)]);
  });
});

describe('console terminal', () => {
  const output = (dev: number) =>
    events.flatMap((e) => (e.event === 'console.output' && e.data.devNum === dev ? [e.data] : []));
  const text = (dev: number) => new TextDecoder().decode(parseHex(output(dev).map((o) => o.data).join('')) ?? new Uint8Array());

  it('reads what the device writes while open: the simulated console echoes what was written', async () => {
    const dev = devNums.console;
    await call('console.open', { devNum: dev });
    // Opening twice is harmless; the echo workload cannot share receiveq with the terminal.
    await call('console.open', { devNum: dev });
    const echo = await fail('device.workload', { devNum: dev, kind: 'console-send', params: { text: 'x', echo: true } });
    expect(echo).toMatchObject({ code: 'busy', field: 'params.params.echo' });
    expect(await call('console.write', { devNum: dev, text: 'ls -l\n' })).toEqual({ devNum: dev, bytes: 6 });
    expect(await call('console.write', { devNum: dev, text: 'é' })).toEqual({ devNum: dev, bytes: 2 });
    await until(() => text(dev) === 'ls -l\né', 'the echo');
    // A send without echo goes out through the same transmitq and comes back on the terminal too.
    expect((await call('device.workload', { devNum: dev, kind: 'console-send', params: { text: '!' } })).succeeded).toBe(true);
    await until(() => text(dev) === 'ls -l\né!', 'the workload’s bytes');
    await call('console.close', { devNum: dev });
    expect(output(dev).at(-1)).toEqual({ devNum: dev, data: '', ended: 'closed by the user' });
    expect((await fail('console.close', { devNum: dev })).code).toBe('not-found');
    // Closed, the echo workload reads receiveq itself again.
    const back = await call('device.workload', { devNum: dev, kind: 'console-send', params: { text: 'hi', echo: true } });
    expect(back).toMatchObject({ succeeded: true, reads: [toHex(new TextEncoder().encode('hi'), '')] });
  });

  it('shows a send load as it goes out, and is refused while an echo load reads receiveq', async () => {
    const dev = devNums.console;
    const before = output(dev).length;
    await call('console.open', { devNum: dev });
    await call('device.load', { devNum: dev, kind: 'console-send', params: { text: 'ab' }, count: 3 });
    await until(() => loadEvents(dev).some((p) => !p.running && p.done === 3), 'the send load');
    await until(() => text(dev).endsWith('ababab'), 'the sent bytes on the terminal');
    await call('console.close', { devNum: dev });
    expect(output(dev).length).toBeGreaterThan(before);

    await call('device.load', { devNum: dev, kind: 'console-send', params: { text: 'x', echo: true }, count: null });
    expect((await fail('console.open', { devNum: dev })).message).toBe(`the echo load on dev_num ${dev} reads receiveq itself; stop it before opening the terminal`);
    expect((await call('device.stopLoad', { devNum: dev })).failed).toBe(0);
    await call('console.open', { devNum: dev });
    await call('console.close', { devNum: dev });
  });

  it('adds nothing to the trace while it waits for output', async () => {
    const dev = devNums.console;
    await call('console.open', { devNum: dev });
    // Past the first read: the receive buffers are posted (and announced) by now.
    await new Promise((r) => setTimeout(r, 400));
    const before = (await call('trace.info')).count;
    await new Promise((r) => setTimeout(r, 800));
    expect((await call('trace.info')).count).toBe(before);
    await call('console.close', { devNum: dev });
  });

  it('is for console devices only', async () => {
    expect((await fail('console.open', { devNum: devNums.rng })).message).toMatch(/^dev_num \d+ is rng \(4\), not a virtio-console \(3\)$/);
  });
});

describe('queues', () => {
  it('gives a descriptor’s buffer bytes and the chains the device returned last', async () => {
    const dev = devNums.i2c;
    // Write a known pattern to the RAM target: the request's header buffer carries it.
    await call('device.workload', { devNum: dev, kind: 'i2c-transfer', params: { address: 0x56, segments: [{ write: '02 de ad be ef' }] } });
    const ring = (await call('queue.inspect', { devNum: dev, queue: 0 })).ring;
    expect(ring.inFlight).toBe(0);
    expect(ring.recent.length).toBeGreaterThan(0);
    const last = ring.recent[0]!;
    expect(last.slot).toBe((ring.used!.idx - 1) % ring.size);
    expect(last.descriptors[0]).toBe(last.id);
    expect(last.readableBytes).toBeGreaterThan(0);
    // The readable descriptors of the last request hold the bytes written.
    const bufs = await Promise.all(last.descriptors.map((desc) => call('queue.buffer', { devNum: dev, queue: 0, desc })));
    const readable = bufs.filter((b) => !b.flags.includes('WRITE')).map((b) => b.bytes).join('');
    expect(readable).toContain('02deadbeef');
    for (const b of bufs) {
      expect(b.bytes.length / 2).toBe(Math.min(b.len, 4096));
      expect(b.truncated).toBe(false);
    }
    expect(bufs[0]!.addr).toBe(ring.descriptors[last.id]!.addr);
    expect((await fail('queue.buffer', { devNum: dev, queue: 0, desc: ring.size })).message).toBe(`descriptor ${ring.size} is outside the table (size ${ring.size}, indices 0..${ring.size - 1})`);
    expect((await fail('queue.buffer', { devNum: dev, queue: 9, desc: 0 })).code).toBe('not-found');
  });

  it('stops a running load when the device is reset', async () => {
    const dev = devNums.rng;
    const before = loadEvents(dev).length;
    await call('device.load', { devNum: dev, kind: 'rng-read', params: { bytes: 4 }, count: null });
    const reset = await call('device.reset', { devNum: dev });
    expect(reset.device.phase).toBe('ready');
    const end = loadEvents(dev).slice(before).at(-1)!;
    expect(end).toMatchObject({ running: false, stopped: 'the device was reset' });
  });
});

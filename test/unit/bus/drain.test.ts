/**
 * Nothing the peer published is lost when a queue stops: whatever stops it (the peer's head
 * state, our own shutdown), receives still copy out every message published up to the producer
 * index, once each and in order, and only then report why the queue stopped. A peer that stops
 * keeps its producer index, which is read once more; one that restarts or wipes its head zeroes
 * it (docs/amp-bus.md §4.2), so the index last read is the last trusted. An index that is out of
 * range or moved backwards is still refused: no slot nobody wrote is ever read.
 */
import { describe, expect, it } from 'vitest';
import { VMAMP_STATUS } from '../../../src/bus/formats/vmamp';
import { QUEUE_FORMATS, type MessageQueue, type QueueFormat } from '../../../src/bus/queue';
import type { BytesWindow } from '../../../src/bus/window';
import { attachPair, hex, payload } from './helpers';

const message = (i: number): Uint8Array => payload(i, 8);

/** Everything `q` yields until it has nothing more, as the endpoint sees it: each result's problem, then its messages. */
async function drainLog(q: MessageQueue): Promise<string[]> {
  const log: string[] = [];
  for (let i = 0; i < 100; i++) {
    const r = await q.recv();
    if (r.problem) log.push(`${r.problem.code} @${r.problem.offset.toString(16)}`);
    for (const m of r.messages) log.push(hex(m.subarray(0, 8)));
    if (!r.problem && r.messages.length === 0) return log;
  }
  throw new Error('the queue never ran dry');
}

const sent = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => hex(message(from + i)));

/** Runs `hook` once, just before the next load of `offset` (the driver reading the peer's state). */
function beforeLoad(window: BytesWindow, offset: number, hook: () => Promise<void>): void {
  const load = window.load.bind(window);
  let pending: (() => Promise<void>) | null = hook;
  window.load = async (at, width) => {
    const run = at === offset ? pending : null;
    if (run) {
      pending = null;
      await run();
    }
    return load(at, width);
  };
}

async function publish(device: MessageQueue, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) expect(await device.send(message(i))).toBe('ok');
}

describe.each(QUEUE_FORMATS.map((f) => [f]))('%s: our own shutdown', (format: QueueFormat) => {
  it('still yields, once each and in order, the messages published up to the index last read', async () => {
    const { driver, device } = await attachPair(format);
    const n = Math.min(driver.capacity, 5);
    await publish(device, 0, n);
    expect((await driver.recv(1)).messages.map((m) => hex(m.subarray(0, 8)))).toEqual(sent(0, 1));
    await driver.shutdown?.();
    expect(await drainLog(driver)).toEqual(sent(1, n));
    expect(await driver.recv()).toEqual({ messages: [] });
  });
});

/**
 * Where each format's peer head says it stopped, as the driver sees the device: the load that
 * reads the state, the fault, the producer index and whether the stop keeps it.
 */
const PEER_STOPS: [string, QueueFormat, (w: BytesWindow) => void, { load: number; fault: string; tail: number; kept: boolean }][] = [
  ['vmamp SHUTDOWN', 'vmamp-shmem-v1', (w) => w.storeSync(0x42, 16, VMAMP_STATUS.SHUTDOWN), { load: 0x40, fault: 'peer-state @42', tail: 0x44, kept: true }],
  ['vmamp PEER_DEAD', 'vmamp-shmem-v1', (w) => w.storeSync(0x42, 16, VMAMP_STATUS.PEER_DEAD), { load: 0x40, fault: 'peer-state @42', tail: 0x44, kept: true }],
  ['vmamp INIT (restart)', 'vmamp-shmem-v1', (w) => w.storeSync(0x42, 16, VMAMP_STATUS.INIT), { load: 0x40, fault: 'peer-state @42', tail: 0x44, kept: false }],
  ['vmamp head wiped', 'vmamp-shmem-v1', (w) => w.writeSync(0x40, new Uint8Array(8)), { load: 0x40, fault: 'peer-state @40', tail: 0x44, kept: false }],
  ['openamp READY cleared', 'openamp-static-v1', (w) => w.storeSync(0x38, 16, 0), { load: 0x38, fault: 'peer-state @38', tail: 0x3c, kept: true }],
];

describe.each(PEER_STOPS)('%s', (_name, format, stop, at) => {
  it('published, then stopped: all come out once, in order, then the fault', async () => {
    const { driver, device, window } = await attachPair(format);
    const n = driver.capacity;
    await publish(device, 0, n);
    expect((await driver.recv(1)).messages).toHaveLength(1); // the index is read with n published
    stop(window);
    expect(await drainLog(driver)).toEqual([...sent(1, n), at.fault]);
    expect(driver.fault?.code).toBe('peer-state');
    expect(await driver.recv()).toEqual({ messages: [] });
  });

  it(`published and stopped between the index read and the state read: the index is ${at.kept ? 'read again' : 'not trusted any more'}`, async () => {
    const { driver, device, window } = await attachPair(format);
    const n = driver.capacity;
    await publish(device, 0, 1);
    expect(await drainLog(driver)).toEqual(sent(0, 1));
    beforeLoad(window, at.load, async () => {
      await publish(device, 1, n + 1);
      stop(window);
    });
    expect(await drainLog(driver)).toEqual(at.kept ? [...sent(1, n + 1), at.fault] : [at.fault]);
    expect(await driver.recv()).toEqual({ messages: [] });
  });

  it('stopped as seen by a send that found the ring full: the receive side still drains', async () => {
    const { driver, device, window } = await attachPair(format);
    const n = driver.capacity;
    await publish(device, 0, n);
    stop(window);
    let sends = 0;
    while ((await driver.send(message(100 + sends))) === 'ok') sends++;
    expect(sends).toBe(driver.capacity);
    expect(driver.fault?.code).toBe('peer-state');
    // The receive side had not read the index yet: a peer that reset it leaves nothing to trust.
    expect(await drainLog(driver)).toEqual(at.kept ? [...sent(0, n), at.fault] : [at.fault]);
  });

  it('a producer index out of range at the stop is refused: nothing unpublished is read', async () => {
    const { driver, window } = await attachPair(format);
    beforeLoad(window, at.load, async () => {
      window.storeSync(at.tail, 16, 0xfe);
      stop(window);
    });
    expect(await drainLog(driver)).toEqual(at.kept ? [`peer-index @${at.tail.toString(16)}`, at.fault] : [at.fault]);
    expect(await driver.recv()).toEqual({ messages: [] });
  });

  it('a producer index that moved backwards is refused: only what was published before is read', async () => {
    const { driver, device, window } = await attachPair(format);
    const n = driver.capacity;
    await publish(device, 0, n);
    expect((await driver.recv(1)).messages).toHaveLength(1);
    stop(window);
    window.storeSync(at.tail, 16, 1 + Math.floor(n / 2)); // the peer claims fewer messages than it published
    expect(await drainLog(driver)).toEqual([`peer-index @${at.tail.toString(16)}`, ...sent(1, n), at.fault]);
    expect(await driver.recv()).toEqual({ messages: [] });
  });
});

it('vmamp: a head wiped (re-created layout) between the index read and the state read: its zeroed index is not read', async () => {
  const { driver, device, window } = await attachPair('vmamp-shmem-v1');
  await publish(device, 0, 3);
  expect(await drainLog(driver)).toEqual(sent(0, 3));
  beforeLoad(window, 0x40, async () => {
    await publish(device, 3, 5);
    window.writeSync(0x40, new Uint8Array(8)); // magic, status and both indices 0, as createVmampLayout does
  });
  // Read again, tail 0 would mean 60 waiting slots, zeroed or stale.
  expect(await drainLog(driver)).toEqual(['peer-state @40']);
  expect(await driver.recv()).toEqual({ messages: [] });
});

it('vmamp: a peer that restarts (INIT) and zeroes its producer index: the zeroed index is not read', async () => {
  const { driver, device, window } = await attachPair('vmamp-shmem-v1');
  await publish(device, 0, 3);
  expect(await drainLog(driver)).toEqual(sent(0, 3));
  // docs/amp-bus.md §4.2, Linux handshake steps 3 and 5: INIT first, then head and tail 0.
  window.storeSync(0x42, 16, VMAMP_STATUS.INIT);
  window.storeSync(0x44, 32, 0);
  // Taken as it stands, tail 0 would mean 60 waiting slots.
  expect(await drainLog(driver)).toEqual(['peer-state @42']);
  expect(await driver.recv()).toEqual({ messages: [] });
});

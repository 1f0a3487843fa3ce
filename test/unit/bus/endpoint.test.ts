import { describe, expect, it } from 'vitest';
import { BusEndpoint, type EndpointOptions, type EndpointProblem, type WireMessage } from '../../../src/bus/endpoint';
import type { MessageQueue, QueueFormat } from '../../../src/bus/queue';
import type { BytesWindow } from '../../../src/bus/window';
import type { Revision } from '../../../src/protocol/types';
import { attachPair, Bell, hex, r0, r3, VirtualRuntime } from './helpers';

/** The device end of the rings, answering as told: a tiny fake peer. */
class FakePeer {
  readonly received: Uint8Array[] = [];
  /** 'one' = QEMU's drain loop: at most one message per doorbell. */
  perDoorbell: 'one' | 'all' = 'all';
  answer: (m: Uint8Array) => Uint8Array[] = () => [];
  ringBack = true;

  constructor(
    readonly q: MessageQueue,
    bellIn: Bell,
    readonly bellOut: Bell,
  ) {
    bellIn.subscribe(() => void this.onRing());
  }

  private async onRing(): Promise<void> {
    const r = await this.q.recv(this.perDoorbell === 'one' ? 1 : undefined);
    for (const m of r.messages) {
      this.received.push(m);
      for (const a of this.answer(m)) await this.put(a);
    }
  }

  async put(m: Uint8Array, ring = this.ringBack): Promise<void> {
    expect(await this.q.send(m)).toBe('ok');
    if (ring) await this.bellOut.ring();
  }
}

/** R3 response: the request's first msg_size bytes with the response bit, token echoed or replaced. */
function respond(m: Uint8Array, token?: number): Uint8Array {
  const size = m[6]! | (m[7]! << 8);
  const out = m.slice(0, size);
  out[0] = out[0]! | 1;
  if (token !== undefined) {
    out[4] = token & 0xff;
    out[5] = token >>> 8;
  }
  return out;
}

const tokenOf = (m: Uint8Array): number => m[4]! | (m[5]! << 8);

async function setup(
  opts: Partial<EndpointOptions> = {},
  format: QueueFormat = 'vmamp-shmem-v1',
  revision: Revision = 'r3',
): Promise<{ ep: BusEndpoint; peer: FakePeer; rt: VirtualRuntime; toDevice: Bell; toDriver: Bell; seen: WireMessage[]; problems: EndpointProblem[]; window: BytesWindow }> {
  const rt = new VirtualRuntime();
  const geometry = format === 'openamp-static-v1' ? { strideQuirk: 'num_elts' as const } : undefined;
  const { driver, device, window } = await attachPair(format, undefined, geometry, rt);
  const toDevice = new Bell();
  const toDriver = opts.doorbellIn instanceof Bell ? opts.doorbellIn : new Bell();
  const seen: WireMessage[] = [];
  const problems: EndpointProblem[] = [];
  const ep = new BusEndpoint({
    queue: driver,
    doorbellOut: toDevice,
    doorbellIn: toDriver,
    revision,
    runtime: rt,
    observer: { onMessage: (m) => seen.push(m), onProblem: (p) => problems.push(p) },
    ...opts,
  });
  return { ep, peer: new FakePeer(device, toDevice, toDriver), rt, toDevice, toDriver, seen, problems, window };
}

const codes = (ps: EndpointProblem[]): string[] => ps.map((p) => (p.kind === 'handler' ? 'handler' : p.problem.code));

describe('BusEndpoint requests', () => {
  it('matches a response that echoes the token, and records both messages trimmed to msg_size', async () => {
    const { ep, peer, seen, problems } = await setup();
    peer.answer = (m) => [respond(m)];
    const req = r3(0x00, 0x02, 1, 0); // GET_DEVICE_INFO dev 1
    const r = await ep.request(req, { timeoutMs: 1000 });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(hex(r.value)).toBe('0102010001000800');
    expect(r.latencyNs).toBeGreaterThan(0);
    expect(seen.map((m) => [m.direction, hex(m.bytes)])).toEqual([
      ['driver-to-device', '0002010001000800'],
      ['device-to-driver', '0102010001000800'],
    ]);
    expect(seen[0]!.monoNs < seen[1]!.monoNs).toBe(true);
    expect(problems).toEqual([]);
    expect(hex(req)).toBe('0002010000000800'); // the caller's bytes are left alone
  });

  it('assigns non-zero, increasing tokens that wrap 0xffff → 1', async () => {
    const { ep, peer } = await setup({ firstToken: 0xfffe });
    peer.answer = (m) => [respond(m)];
    for (let i = 0; i < 3; i++) expect((await ep.request(r3(0x00, 0x07, 1, 0), { timeoutMs: 100 })).ok).toBe(true);
    expect(peer.received.map(tokenOf)).toEqual([0xfffe, 0xffff, 1]);
  });

  it('accepts a response with another token by (dev_num, msg_id) and flags token-mismatch once', async () => {
    const { ep, peer, problems } = await setup();
    peer.answer = (m) => [respond(m, 0)]; // QEMU's GET_DEVICES answers token 0
    const getDevices = r3(0x02, 0x02, 0, 0, 12);
    for (let i = 0; i < 2; i++) expect((await ep.request(getDevices, { timeoutMs: 100 })).ok).toBe(true);
    expect(codes(problems)).toEqual(['token-mismatch']);
    const p = problems[0]!;
    expect(p.kind === 'message' && p.problem.reason).toMatch(/GET_DEVICES \(bus message, token 0x0001\) carries token 0x0000/);
  });

  it('times out with a clear error, then flags the late answer late and ignores it', async () => {
    const { ep, peer, problems, rt } = await setup();
    const held: Uint8Array[] = [];
    peer.answer = (m) => (held.push(m), []);
    const first = await ep.request(r3(0x00, 0x09, 1, 0, 12), { timeoutMs: 1000 });
    expect(first).toEqual({ ok: false, error: { code: 'no-response', message: 'no response to GET_VQUEUE (dev_num 1, token 0x0001) within 1000 ms' } });
    expect(rt.elapsedMs).toBeGreaterThanOrEqual(1000);
    const second = ep.request(r3(0x00, 0x09, 1, 0, 12), { timeoutMs: 1000 });
    await new Promise((r) => setImmediate(r));
    await peer.put(respond(held[0]!)); // late answer to token 1
    await peer.put(respond(held[1]!)); // the real answer to token 2
    const r = await second;
    expect(r.ok && tokenOf(r.value)).toBe(2);
    expect(codes(problems)).toEqual(['no-response', 'late']);
    const late = problems[1]!;
    expect(late.kind === 'message' && late.problem.reason).toBe(
      'response GET_VQUEUE (dev_num 1, token 0x0001) is a late answer to GET_VQUEUE (dev_num 1, token 0x0001), which timed out; ignored',
    );
  });

  it('reports a response that answers nothing and keeps running', async () => {
    const { ep, peer, problems } = await setup();
    await peer.put(r3(0x01, 0x05, 3, 9));
    await ep.drain();
    expect(codes(problems)).toEqual(['unmatched-response']);
    peer.answer = (m) => [respond(m)];
    expect((await ep.request(r3(0x00, 0x05, 3, 0, 16), { timeoutMs: 100 })).ok).toBe(true);
  });

  it('keeps one request outstanding per dev_num (queued in order), independent across dev_nums and the bus', async () => {
    const { ep, peer, rt } = await setup();
    rt.auto = false;
    const held: Uint8Array[] = [];
    peer.answer = (m) => (held.push(m), []);
    const results = [
      ep.request(r3(0x00, 0x07, 1, 0), { timeoutMs: 5000 }),
      ep.request(r3(0x00, 0x08, 1, 0, 12), { timeoutMs: 5000 }),
      ep.request(r3(0x00, 0x07, 2, 0), { timeoutMs: 5000 }),
      ep.request(r3(0x02, 0x03, 0, 0, 12), { timeoutMs: 5000 }),
    ];
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(held.map((m) => `${m[1]}/${m[2]}`)).toEqual(['7/1', '7/2', '3/0']);
    await peer.put(respond(held[0]!));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(held.map((m) => `${m[1]}/${m[2]}`)).toEqual(['7/1', '7/2', '3/0', '8/1']);
    for (const m of held.slice(1)) await peer.put(respond(m));
    expect((await Promise.all(results)).every((r) => r.ok)).toBe(true);
  });

  it('R0: the device echoes the request without the response bit; that answers the pending request', async () => {
    const { ep, peer, problems } = await setup({}, 'openamp-static-v1', 'r0');
    peer.answer = (m) => [m.slice(0, 40)];
    const req = r0(0x00, 0x03, 0); // DEVICE_INFO
    const r = await ep.request(req, { timeoutMs: 100 });
    expect(r.ok && hex(r.value)).toBe(hex(req));
    expect(problems).toEqual([]);
    const events: number[] = [];
    ep.onEvent(0, (e) => events.push(e.header.msgId));
    await peer.put(r0(0x00, 0x12, 0)); // EVENT_USED
    await ep.drain();
    expect(events).toEqual([0x12]);
  });

  it('busy-polls after a request: an answer without doorbell is found within spinUs', async () => {
    const quiet = await setup();
    quiet.peer.ringBack = false;
    quiet.peer.answer = (m) => [respond(m)];
    expect((await quiet.ep.request(r3(0x00, 0x02, 1, 0), { timeoutMs: 100 })).ok).toBe(true);

    const noSpin = await setup({ spinUs: 0 });
    noSpin.peer.ringBack = false;
    noSpin.peer.answer = (m) => [respond(m)];
    const r = await noSpin.ep.request(r3(0x00, 0x02, 1, 0), { timeoutMs: 100 });
    expect(r.ok ? null : r.error.code).toBe('no-response');
  });

  it('polls periodically when the doorbell-in link can only poll', async () => {
    const { ep, peer, rt } = await setup({ doorbellIn: new Bell('poll'), spinUs: 0 });
    peer.ringBack = false;
    peer.answer = (m) => {
      rt.setTimer(5, () => void peer.put(respond(m)));
      return [];
    };
    const r = await ep.request(r3(0x00, 0x02, 1, 0), { timeoutMs: 1000 });
    expect(r.ok).toBe(true);
    ep.close();
  });

  it('close() fails pending and later requests with a clear error', async () => {
    const { ep, rt } = await setup();
    rt.auto = false;
    const pending = ep.request(r3(0x00, 0x02, 4, 0), { timeoutMs: 10_000 });
    await new Promise((r) => setImmediate(r));
    ep.close();
    const r = await pending;
    expect(r.ok ? null : r.error).toEqual({ code: 'closed', message: 'bus endpoint closed while GET_DEVICE_INFO (dev_num 4, token 0x0001) waited for its response' });
    expect((await ep.send(r3(0x00, 0x41, 4, 0, 16))).ok).toBe(false);
    expect(() => ep.request(r3(0x00, 0x42, 4, 0, 12), { timeoutMs: 1 })).toThrow(RangeError); // an event is not a request
  });
});

describe('BusEndpoint: what a misbehaving board did', () => {
  it('a stale copy of an earlier answer, or an answer sent twice, is a duplicate and never answers a later request', async () => {
    const { ep, peer, problems } = await setup();
    let previous: Uint8Array | null = null;
    peer.answer = (m) => {
      const real = respond(m);
      const out = previous ? [previous, real, real] : [real];
      previous = real;
      return out;
    };
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await ep.request(r3(0x00, 0x08, 1, 0, 12), { timeoutMs: 1000 })); // SET_DEVICE_STATUS
    expect(results.map((r) => r.ok && tokenOf(r.value))).toEqual([1, 2, 3]);
    await ep.drain();
    expect(codes(problems)).toEqual(['duplicate', 'duplicate', 'duplicate', 'duplicate']);
    const first = problems[0]!;
    expect(first.kind === 'message' && first.problem.reason).toBe(
      'response SET_DEVICE_STATUS (dev_num 1, token 0x0001) repeats the answer to SET_DEVICE_STATUS (dev_num 1, token 0x0001), already answered; ignored',
    );
  });

  it('a malformed answer to the pending request fails it at once, naming the message, byte and sizes', async () => {
    const { ep, peer, rt, problems } = await setup({ firstToken: 4 });
    peer.answer = (m) => {
      const r = respond(m);
      const big = new Uint8Array(64);
      big.set(r);
      big[6] = 300 & 0xff; // msg_size 300 in a 64-byte slot
      big[7] = 300 >> 8;
      return [big];
    };
    const r = await ep.request(r3(0x00, 0x03, 1, 0, 16), { timeoutMs: 1000 }); // GET_DEVICE_FEATURES
    expect(r.ok ? null : r.error).toEqual({
      code: 'malformed-response',
      message: 'malformed GET_DEVICE_FEATURES response (dev_num 1, token 0x0004): msg_size 300 at byte 6 exceeds the 64-byte slot (expected ≤ 64, saw 300)',
    });
    expect(rt.elapsedMs).toBeLessThan(1000);
    expect(codes(problems)).toEqual(['oversize']);

    peer.answer = (m) => {
      const tiny = respond(m);
      tiny[6] = 3; // msg_size smaller than the 8-byte header
      return [tiny];
    };
    const small = await ep.request(r3(0x00, 0x07, 1, 0), { timeoutMs: 1000 });
    expect(small.ok ? '' : small.error.message).toBe(
      'malformed GET_DEVICE_STATUS response (dev_num 1, token 0x0005): msg_size 3 at byte 6 is smaller than the 8-byte header (expected ≥ 8, saw 3)',
    );
  });

  it('the right token with the wrong dev_num fails the request as a wrong dev_num', async () => {
    const { ep, peer, rt, problems } = await setup();
    peer.answer = (m) => {
      const r = respond(m);
      r[2] = 7;
      return [r];
    };
    const r = await ep.request(r3(0x00, 0x02, 1, 0), { timeoutMs: 1000 });
    expect(r.ok ? null : r.error).toEqual({
      code: 'wrong-dev-num',
      message: 'wrong dev_num in the GET_DEVICE_INFO response (dev_num 1, token 0x0001): byte 2 names dev_num 7 (expected 1, saw 7)',
    });
    expect(rt.elapsedMs).toBeLessThan(1000);
    expect(codes(problems)).toEqual(['wrong-dev-num']);
  });

  it('the right token and dev_num with another msg_id fails the request as a wrong msg_id', async () => {
    const { ep, peer, problems } = await setup();
    peer.answer = (m) => {
      const r = respond(m);
      r[1] = 0x05; // GET_CONFIG
      return [r];
    };
    const r = await ep.request(r3(0x00, 0x02, 1, 0), { timeoutMs: 1000 });
    expect(r.ok ? null : r.error).toEqual({
      code: 'wrong-msg-id',
      message: 'wrong msg_id in the GET_DEVICE_INFO response (dev_num 1, token 0x0001): byte 1 names GET_CONFIG (expected 0x02, saw 0x05)',
    });
    expect(codes(problems)).toEqual(['wrong-msg-id']);
  });

  it('another non-zero token on the pending request’s (dev_num, msg_id) fails it at once as a wrong token; the echoing copy after it is a duplicate', async () => {
    const { ep, peer, rt, problems } = await setup();
    peer.answer = (m) => {
      const stray = respond(m);
      stray[5] = stray[5]! ^ 0x80; // token 0x8001 for 0x0001 (the simulator's wrong-token fault)
      return [stray, respond(m)];
    };
    const r = await ep.request(r3(0x00, 0x02, 1, 0), { timeoutMs: 1000 });
    expect(r.ok ? null : r.error).toEqual({
      code: 'wrong-token',
      message: 'GET_DEVICE_INFO response (dev_num 1) carries token 0x8001, the request has token 0x0001: the board did not echo the token (byte 4: expected 0x0001, saw 0x8001)',
    });
    expect(rt.elapsedMs).toBeLessThan(1000);
    peer.answer = (m) => [respond(m)];
    expect((await ep.request(r3(0x00, 0x07, 1, 0), { timeoutMs: 1000 })).ok).toBe(true);
    expect(codes(problems)).toEqual(['wrong-token', 'duplicate']);
  });

  it('abort() fails every outstanding and queued request at once with the reason, and everything after', async () => {
    const { ep, rt } = await setup();
    rt.auto = false;
    const pending = [
      ep.request(r3(0x00, 0x02, 1, 0), { timeoutMs: 10_000 }),
      ep.request(r3(0x00, 0x07, 1, 0), { timeoutMs: 10_000 }), // queued behind the first
      ep.request(r3(0x02, 0x03, 0, 0, 12), { timeoutMs: 10_000 }),
    ];
    await new Promise((r) => setImmediate(r));
    ep.abort('the board closed its doorbell socket');
    const lost = { ok: false, error: { code: 'link-lost', message: 'the board closed its doorbell socket' } };
    // Time stands still (rt.auto false): only abort() can end these requests.
    expect(await Promise.all(pending)).toEqual([lost, lost, lost]);
    expect(await ep.request(r3(0x00, 0x02, 2, 0), { timeoutMs: 10 })).toEqual(lost);
    expect(await ep.send(r3(0x00, 0x41, 1, 0, 16))).toEqual(lost);
    expect(await ep.sendBatch([r3(0x00, 0x41, 1, 0, 16)])).toEqual({ ...lost, sent: 0 });
  });

  it('the driver role refuses to send a response-typed message (QEMU asserts on one)', async () => {
    const { ep, peer } = await setup();
    const r = await ep.send(r3(0x01, 0x07, 1, 3, 12));
    expect(r).toEqual({ ok: false, error: { code: 'not-allowed', message: 'the driver never sends a response-typed message; refused GET_DEVICE_STATUS response (dev_num 1, token 0x0003)' } });
    expect((await ep.sendBatch([r3(0x00, 0x41, 1, 0, 16), r3(0x01, 0x07, 1, 3, 12)])).ok).toBe(false);
    await new Promise((r) => setImmediate(r));
    expect(peer.received).toEqual([]);
  });
});

describe('BusEndpoint sending', () => {
  it('rings once per message (a QEMU-like peer takes one message per doorbell) and never when nothing was sent', async () => {
    const { ep, peer, toDevice } = await setup();
    peer.perDoorbell = 'one';
    const events = Array.from({ length: 5 }, (_, i) => r3(0x00, 0x41, 1, 0, 16).fill(i, 8));
    expect(await ep.sendBatch(events)).toEqual({ ok: true, sent: 5 });
    await new Promise((r) => setImmediate(r));
    expect(toDevice.rings).toBe(5);
    expect(peer.received).toHaveLength(5);
  });

  it('tells observers of each doorbell where it rings: after the messages it announces, before the drain of what the peer announced', async () => {
    const { ep, peer } = await setup({ spinUs: 0 });
    peer.perDoorbell = 'one';
    peer.answer = (m) => (m[1] === 0x02 ? [respond(m)] : []);
    const order: string[] = [];
    ep.observe({ onMessage: (m) => order.push(`${m.direction} msg ${m.bytes[1]}`), onDoorbell: (d) => order.push(`${d} bell`) });
    expect(await ep.sendBatch([r3(0x00, 0x41, 1, 0, 16), r3(0x00, 0x42, 1, 0, 16)])).toEqual({ ok: true, sent: 2 });
    const answer = await ep.request(r3(0x00, 0x02, 1, 0), { timeoutMs: 100 });
    expect(answer.ok).toBe(true);
    expect(order).toEqual([
      'driver-to-device msg 65',
      'driver-to-device msg 66',
      'driver-to-device bell',
      'driver-to-device bell',
      'driver-to-device msg 2',
      'driver-to-device bell',
      'device-to-driver bell',
      'device-to-driver msg 2',
    ]);
  });

  it('doorbellPerMessage false rings once per batch (for peers that drain fully)', async () => {
    const { ep, peer, toDevice } = await setup({ doorbellPerMessage: false });
    const events = Array.from({ length: 5 }, () => r3(0x00, 0x41, 1, 0, 16));
    expect(await ep.sendBatch(events)).toEqual({ ok: true, sent: 5 });
    await new Promise((r) => setImmediate(r));
    expect(toDevice.rings).toBe(1);
    expect(peer.received).toHaveLength(5); // this peer drains everything per doorbell
  });

  it('backpressure: bounded retries, then an error naming the stuck consumer index', async () => {
    const { ep, peer, rt, toDevice } = await setup();
    peer.perDoorbell = 'one';
    // the device consumes 17 messages (one per doorbell) and then stops
    for (let i = 0; i < 17; i++) expect((await ep.send(r3(0x00, 0x41, 1, 0, 16))).ok).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(peer.received).toHaveLength(17);
    peer.perDoorbell = 'all';
    (peer as unknown as { onRing: () => Promise<void> }).onRing = async () => {};
    let sent = 0;
    for (;;) {
      const r = await ep.send(r3(0x00, 0x41, 1, 0, 16));
      if (!r.ok) {
        expect(r.error).toEqual({ code: 'queue-full', message: 'driver→device queue full for 10 s: the device is not consuming (device-side consumer index stuck at 17)' });
        break;
      }
      sent++;
    }
    expect(sent).toBe(62);
    expect(toDevice.rings).toBe(17 + 62);
    expect(rt.elapsedMs).toBeGreaterThanOrEqual(10_000);
  });

  it('a doorbell, a send or a receive that fails is told in its own words, never as "Error: …"', async () => {
    // What the links reject with: a socket the peer closed, memory gone under the mapping.
    const closed = 'the peer closed the doorbell socket /dev/shm/amp0.sock';
    const gone = 'the shared file /dev/shm/amp0 shrank to 4096 bytes under the session (expected at least 1069056): the board side truncated it';
    const bell = await setup({ doorbellOut: { ring: () => Promise.reject(new Error(closed)) } });
    expect(await bell.ep.send(r3(0x00, 0x41, 1, 0, 16))).toEqual({ ok: false, error: { code: 'doorbell', message: `ringing the driver-to-device doorbell failed: ${closed}` } });

    const rt = new VirtualRuntime();
    const { driver } = await attachPair('vmamp-shmem-v1', undefined, undefined, rt);
    driver.send = () => Promise.reject(new Error(gone));
    driver.recv = () => Promise.reject(new Error(gone));
    const problems: EndpointProblem[] = [];
    const ep = new BusEndpoint({ queue: driver, doorbellOut: new Bell(), doorbellIn: new Bell(), revision: 'r3', runtime: rt, observer: { onProblem: (p) => problems.push(p) } });
    const r = await ep.request(r3(0x00, 0x02, 1, 0), { timeoutMs: 100 });
    expect(r.ok ? null : r.error).toEqual({ code: 'queue-fault', message: `sending GET_DEVICE_INFO (dev_num 1, token 0x0001) failed: ${gone}` });
    await ep.drain();
    // Every drain that ran (the request's spin, this one) says the same.
    expect(new Set(problems.map((p) => (p.kind === 'handler' ? p.reason : p.problem.code)))).toEqual(new Set([`receiving from the vmamp-shmem-v1 queue threw: ${gone}`]));
  });

  it('refuses a message larger than the slot with an error value', async () => {
    const { ep } = await setup();
    const r = await ep.send(new Uint8Array(65));
    expect(r.ok ? null : r.error.code).toBe('too-large');
  });
});

describe('BusEndpoint receiving', () => {
  it('routes events per dev_num, bus and any', async () => {
    const { ep, peer } = await setup();
    const got: string[] = [];
    ep.onEvent(1, (e) => got.push(`dev1:${e.header.msgId.toString(16)}`));
    ep.onEvent('bus', (e) => got.push(`bus:${e.header.msgId.toString(16)}`));
    ep.onEvent('any', (e) => got.push(`any:${e.header.devNum}`));
    await peer.put(r3(0x00, 0x42, 1, 0, 12)); // EVENT_USED dev 1
    await peer.put(r3(0x02, 0x40, 0, 0, 12)); // EVENT_DEVICE
    await peer.put(r3(0x00, 0x40, 2, 0, 24)); // EVENT_CONFIG dev 2
    await ep.drain();
    expect(got).toEqual(['dev1:42', 'any:1', 'bus:40', 'any:0', 'any:2']);
  });

  it('records garbage before interpreting it and never throws out of the drain loop', async () => {
    const { ep, peer, seen, problems } = await setup();
    ep.onEvent('any', () => {
      throw new Error('handler bug');
    });
    const big = r3(0x00, 0x42, 1, 0, 64);
    big[6] = 200; // msg_size 200 in a 64-byte slot
    await peer.put(big);
    const tiny = r3(0x00, 0x42, 1, 0, 12);
    tiny[6] = 3; // msg_size smaller than the header
    await peer.put(tiny);
    await peer.put(r3(0x00, 0x42, 1, 0, 12)); // fine, but its handler throws
    await ep.drain();
    expect(seen.map((m) => m.bytes.length)).toEqual([64, 64, 12]);
    expect(codes(problems)).toEqual(['oversize', 'size-mismatch', 'handler']);
    const first = problems[0]!;
    expect(first.kind === 'message' && first.problem).toMatchObject({ offset: 6, reason: 'msg_size 200 exceeds the 64-byte slot (expected ≤ 64, saw 200); recorded the whole slot' });
  });

  it('passes queue problems on as protocol errors and keeps running', async () => {
    const { ep, peer, problems, window: w } = await setup();
    w.storeSync(0x44, 16, 500); // device tail out of range
    await ep.drain();
    expect(problems.map((p) => (p.kind === 'queue' ? p.problem.code : '?'))).toEqual(['peer-index']);
    w.storeSync(0x44, 16, 0);
    peer.answer = (m) => [respond(m)];
    expect((await ep.request(r3(0x00, 0x02, 1, 0), { timeoutMs: 100 })).ok).toBe(true);
  });

  it('a send on a queue whose peer stopped fails at once with the reason', async () => {
    const { ep, peer } = await setup();
    await peer.q.shutdown?.();
    await ep.drain();
    const r = await ep.send(r3(0x00, 0x41, 1, 0, 16));
    expect(r.ok ? null : r.error.code).toBe('queue-fault');
    expect(r.ok ? '' : r.error.message).toMatch(/SHUTDOWN/);
  });
});

describe('BusEndpoint start-up', () => {
  it('drains what the peer queued before the endpoint subscribed', async () => {
    const rt = new VirtualRuntime();
    const { driver, device } = await attachPair('vmamp-shmem-v1', undefined, undefined, rt);
    await device.send(r3(0x00, 0x42, 1, 0, 12)); // EVENT_USED, its doorbell rang before anyone listened
    const ep = new BusEndpoint({ queue: driver, doorbellOut: new Bell(), doorbellIn: new Bell(), revision: 'r3', runtime: rt });
    const events: number[] = [];
    ep.onEvent(1, (e) => events.push(e.header.msgId));
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual([0x42]);
    ep.close();
  });
});

describe('two endpoints: driver and device', () => {
  it('serves requests through onRequest handlers and answers in order', async () => {
    const rt = new VirtualRuntime();
    const { driver, device } = await attachPair('spsc-v1', undefined, undefined, rt);
    const toDevice = new Bell();
    const toDriver = new Bell();
    const drv = new BusEndpoint({ queue: driver, doorbellOut: toDevice, doorbellIn: toDriver, revision: 'r4', runtime: rt });
    const dev = new BusEndpoint({ queue: device, doorbellOut: toDriver, doorbellIn: toDevice, revision: 'r4', runtime: rt });
    const served: number[] = [];
    dev.onRequest(1, async (req) => {
      served.push(req.header.msgId);
      await rt.sleep(1);
      return respond(req.bytes);
    });
    dev.onRequest('bus', (req) => respond(req.bytes));
    const answers = await Promise.all([
      drv.request(r3(0x00, 0x02, 1, 0), { timeoutMs: 100 }),
      drv.request(r3(0x00, 0x03, 1, 0, 16), { timeoutMs: 100 }),
      drv.request(r3(0x02, 0x03, 0, 0, 12), { timeoutMs: 100 }),
    ]);
    expect(answers.map((a) => a.ok && a.value[1])).toEqual([2, 3, 3]);
    expect(served).toEqual([2, 3]);
    drv.close();
    dev.close();
  });
});

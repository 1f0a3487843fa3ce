/**
 * The engine and the capture cannot disagree: a driver endpoint against a peer that answers at
 * random — promptly, with token 0, twice, after a stale copy of an earlier answer, after the
 * timeout, naming another dev_num or msg_id, or with a token it never got — recorded twice: once with the endpoint's verdicts, once
 * by a recorder that sees only the bytes and matches on its own. Both captures must be the same
 * record for record, must say what the peer did, and must agree with what each request returned.
 */
import { describe, expect, it } from 'vitest';

import { BusEndpoint, type RequestResult, type WireMessage } from '../../../src/bus/endpoint';
import { encode } from '../../../src/protocol/index';
import { indexedBlock, indexRecords, toRecords } from '../../../src/trace/block';
import { MARKER_KINDS, problemCodes, RECORD_FLAGS, type TraceRecord } from '../../../src/trace/record';
import { Recorder, type RecordChunkSink } from '../../../src/trace/recorder';
import { attachPair, Bell, VirtualRuntime } from '../bus/helpers';
import { FakeClock } from './fakeClock';

const TIMEOUT_MS = 50;
type Rev = 'r3' | 'r4';
type Intent = 'answer' | 'duplicate' | 'late' | 'wrong-dev-num' | 'wrong-msg-id' | 'wrong-token';

class Sink implements RecordChunkSink {
  private chunks: Uint8Array[] = [];
  writeChunk(payload: Uint8Array): void {
    this.chunks.push(payload.slice());
  }
  records(): TraceRecord[] {
    return toRecords(this.chunks.map((c) => indexedBlock(indexRecords(c))));
  }
}

/** mulberry32: a small seeded generator, so a failing seed can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const tokenOf = (m: Uint8Array): number => m[4]! | (m[5]! << 8);
const devOf = (m: Uint8Array): number => m[2]! | (m[3]! << 8);
const isBus = (m: Uint8Array): boolean => (m[0]! & 2) !== 0;

/** The device side: answers each request as the dice say and notes what each response is meant to be. */
class RandomPeer {
  readonly intents: Intent[] = [];
  /** Requests held back, answered once the driver gave up on them. */
  private held: Uint8Array[] = [];
  /** Proper answers sent so far (echoed token, right dev_num): material for stale copies. */
  private answers: Uint8Array[] = [];

  constructor(
    private readonly rev: Rev,
    private readonly device: Awaited<ReturnType<typeof attachPair>>['device'],
    bellIn: Bell,
    private readonly bellOut: Bell,
    private readonly dice: () => number,
    /** Tokens of requests whose result came back 'no-response'. */
    private readonly expired: Set<number>,
  ) {
    bellIn.subscribe(() => void this.onRing());
  }

  private response(req: Uint8Array, token: number, devNum = devOf(req)): Uint8Array {
    return isBus(req)
      ? encode(this.rev, { name: 'PING', kind: 'response', bus: true, token, fields: { data: token } })
      : encode(this.rev, { name: 'GET_DEVICE_STATUS', kind: 'response', devNum, token, fields: { status: token & 0xff } });
  }

  private async put(m: Uint8Array, intent: Intent): Promise<void> {
    expect(await this.device.send(m)).toBe('ok');
    this.intents.push(intent);
    await this.bellOut.ring();
  }

  private async onRing(): Promise<void> {
    const { messages } = await this.device.recv();
    for (const req of messages) {
      const due = this.held.filter((m) => this.expired.has(tokenOf(m)));
      this.held = this.held.filter((m) => !due.includes(m));
      for (const h of due) await this.put(this.response(h, tokenOf(h)), 'late');
      const token = tokenOf(req);
      const proper = this.response(req, token);
      const roll = this.dice();
      if (roll < 0.3) {
        await this.put(proper, 'answer');
        this.answers.push(proper);
      } else if (roll < 0.45) {
        await this.put(this.response(req, 0), 'answer'); // a peer that does not echo tokens
      } else if (roll < 0.6) {
        await this.put(proper, 'answer');
        await this.put(proper, 'duplicate');
        this.answers.push(proper);
      } else if (roll < 0.75 && this.answers.length > 0) {
        await this.put(this.answers[Math.floor(this.dice() * this.answers.length)]!, 'duplicate'); // a stale copy first
        await this.put(proper, 'answer');
        this.answers.push(proper);
      } else if (roll < 0.8 && !isBus(req)) {
        await this.put(this.response(req, token, devOf(req) + 5), 'wrong-dev-num');
      } else if (roll < 0.85 && !isBus(req)) {
        await this.put(encode(this.rev, { name: 'SET_DEVICE_STATUS', kind: 'response', devNum: devOf(req), token, fields: { status: 0 } }), 'wrong-msg-id');
      } else if (roll < 0.9) {
        await this.put(this.response(req, token ^ 0x8000), 'wrong-token'); // the simulator's wrong-token fault
        if (this.dice() < 0.5) await this.put(proper, 'duplicate'); // then the echoing answer: the request has failed
      } else {
        this.held.push(req);
      }
    }
  }
}

function verdictOf(r: TraceRecord): Intent | 'unmatched' {
  const codes = problemCodes(r.problems);
  for (const c of ['duplicate', 'late', 'wrong-dev-num', 'wrong-msg-id', 'wrong-token'] as const) if (codes.includes(c)) return c;
  if (codes.includes('unmatched-response')) return 'unmatched';
  return 'answer';
}

/**
 * A capture with its pairs named by content rather than seq: messages in order, and the
 * no-response markers by the request they are about. A recorder on its own expires requests by
 * the clock in the records, the endpoint by its timer, which fires when the event loop gets to
 * it: the markers may sit a few records apart, with a few microseconds between their clocks.
 */
function canonical(records: TraceRecord[]): { messages: unknown[]; markers: unknown[] } {
  const name = new Map<number, string>();
  let n = 0;
  for (const r of records) if (r.kind === 'message') name.set(r.seq, `message ${n++}`);
  for (const r of records) if (r.kind === 'marker') name.set(r.seq, `marker of ${name.get(r.pairSeq ?? -1) ?? 'nothing'}`);
  const strip = (r: TraceRecord) => ({ ...r, seq: name.get(r.seq), pairSeq: r.pairSeq === null ? null : name.get(r.pairSeq) });
  return {
    messages: records.filter((r) => r.kind === 'message').map(strip),
    markers: records
      .filter((r) => r.kind === 'marker')
      .map((r) => ({ ...strip(r), monoNs: 0n, wallNs: 0n, text: new TextDecoder().decode(r.data).replace(/\(record \d+\)/, '') }))
      .map((r) => ({ ...r, data: null }))
      .sort((a, b) => (a.seq! < b.seq! ? -1 : 1)),
  };
}

async function run(seed: number, rev: Rev): Promise<void> {
  const dice = random(seed);
  const rt = new VirtualRuntime();
  const { driver, device } = await attachPair('vmamp-shmem-v1', undefined, undefined, rt);
  const toDevice = new Bell();
  const toDriver = new Bell();
  const engineSink = new Sink();
  const engineRec = new Recorder({ runtime: new FakeClock(), sink: engineSink, revision: rev, startMonoNs: 0n, startWallNs: 0n });
  const wire: WireMessage[] = [];
  const observer = engineRec.observer();
  const ep = new BusEndpoint({
    queue: driver,
    doorbellOut: toDevice,
    doorbellIn: toDriver,
    revision: rev,
    runtime: rt,
    observer: {
      onMessage: (m) => {
        wire.push({ ...m, bytes: m.bytes.slice() });
        observer.onMessage?.(m);
      },
      onProblem: (p) => observer.onProblem?.(p),
    },
  });
  const expired = new Set<number>();
  const peer = new RandomPeer(rev, device, toDevice, toDriver, dice, expired);

  // The endpoint hands out tokens 1, 2, 3… in call order.
  const outcomes = new Map<number, RequestResult>();
  let token = 1;
  for (let round = 0; round < 40; round++) {
    const batch = Array.from({ length: 1 + Math.floor(dice() * 3) }, () => {
      const lane = Math.floor(dice() * 3);
      const req = lane === 2 ? encode(rev, { name: 'PING', kind: 'request', bus: true, fields: { data: 0 } }) : encode(rev, { name: 'GET_DEVICE_STATUS', kind: 'request', devNum: lane + 1 });
      const t = token++;
      return ep.request(req, { timeoutMs: TIMEOUT_MS }).then((r) => {
        outcomes.set(t, r);
        if (!r.ok && r.error.code === 'no-response') expired.add(t);
      });
    });
    await Promise.all(batch);
  }
  await ep.drain();
  ep.close();
  engineRec.close();

  // The same bytes, recorded without the endpoint: the recorder's own matcher and sweep.
  const clock = new FakeClock();
  const soloSink = new Sink();
  const solo = new Recorder({ runtime: clock, sink: soloSink, revision: rev, responseTimeoutMs: TIMEOUT_MS, startMonoNs: 0n, startWallNs: 0n, flushMs: 1e9 });
  for (const m of wire) {
    clock.nowNs = m.monoNs;
    solo.flush();
    solo.message(m.direction, m.bytes, m.monoNs);
  }
  clock.nowNs = rt.nowNs;
  solo.close();

  const engine = engineSink.records();
  expect(canonical(soloSink.records())).toEqual(canonical(engine));

  // What the peer did is what the capture says, response by response.
  const responses = engine.filter((r) => r.kind === 'message' && (r.flags & RECORD_FLAGS.response) !== 0);
  expect(responses.map(verdictOf)).toEqual(peer.intents);

  // And what each request returned agrees with its records.
  const bySeq = new Map(engine.map((r) => [r.seq, r]));
  const noResponse = MARKER_KINDS.indexOf('no-response');
  for (const r of engine.filter((x) => x.kind === 'message' && (x.flags & RECORD_FLAGS.request) !== 0)) {
    const answer = responses.find((x) => x.pairSeq === r.seq);
    const marker = engine.find((x) => x.kind === 'marker' && x.msgId === noResponse && x.pairSeq === r.seq);
    const outcome = outcomes.get(r.token)!;
    if (marker) {
      expect(outcome.ok ? 'ok' : outcome.error.code).toBe('no-response');
      expect(answer).toBeUndefined();
    } else if (outcome.ok) {
      expect(verdictOf(answer!)).toBe('answer');
      expect(answer!.data).toEqual(outcome.value);
    } else {
      expect(['wrong-dev-num', 'wrong-msg-id', 'wrong-token']).toContain(outcome.error.code);
      expect(verdictOf(answer!)).toBe(outcome.error.code);
    }
  }
  for (const late of responses.filter((x) => verdictOf(x) === 'late')) {
    const marker = bySeq.get(late.pairSeq!)!;
    expect(marker.kind).toBe('marker');
    expect(bySeq.get(marker.pairSeq!)!.token).toBe(late.token);
  }
  expect(outcomes.size).toBe(token - 1);
}

describe('endpoint verdicts and recorder pairing', () => {
  for (const rev of ['r3', 'r4'] as const) {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      it(`agree record for record (${rev}, seed ${seed})`, () => run(seed, rev));
    }
  }
});

describe('a malformed answer to the pending request', () => {
  it('fails the request, and both recorders pair it and flag it malformed-response', async () => {
    const rt = new VirtualRuntime();
    const { driver, device } = await attachPair('vmamp-shmem-v1', undefined, undefined, rt);
    const toDevice = new Bell();
    const toDriver = new Bell();
    const sink = new Sink();
    const rec = new Recorder({ runtime: new FakeClock(), sink, revision: 'r4', startMonoNs: 0n, startWallNs: 0n });
    const wire: WireMessage[] = [];
    const observer = rec.observer();
    const ep = new BusEndpoint({
      queue: driver,
      doorbellOut: toDevice,
      doorbellIn: toDriver,
      revision: 'r4',
      runtime: rt,
      observer: { onMessage: (m) => (wire.push(m), observer.onMessage?.(m)), onProblem: (p) => observer.onProblem?.(p) },
    });
    toDevice.subscribe(() =>
      void (async () => {
        for (const m of (await device.recv()).messages) {
          const answer = new Uint8Array(64);
          answer.set(encode('r4', { name: 'GET_DEVICE_STATUS', kind: 'response', devNum: 1, token: tokenOf(m), fields: { status: 15 } }));
          answer[6] = 200; // msg_size 200 in a 64-byte slot
          await device.send(answer);
          await toDriver.ring();
        }
      })(),
    );
    const r = await ep.request(encode('r4', { name: 'GET_DEVICE_STATUS', kind: 'request', devNum: 1 }), { timeoutMs: 1000 });
    expect(r.ok ? '' : r.error.message).toBe('malformed GET_DEVICE_STATUS response (dev_num 1, token 0x0001): msg_size 200 at byte 6 exceeds the 64-byte slot (expected ≤ 64, saw 200)');
    ep.close();
    rec.close();
    const solo = new Sink();
    const own = new Recorder({ runtime: new FakeClock(), sink: solo, revision: 'r4', startMonoNs: 0n, startWallNs: 0n });
    for (const m of wire) own.message(m.direction, m.bytes, m.monoNs);
    own.close();
    const engine = sink.records();
    const [request, response, marker] = engine;
    expect(response!.pairSeq).toBe(request!.seq);
    expect(problemCodes(response!.problems)).toContain('malformed-response');
    expect(new TextDecoder().decode(marker!.data)).toBe('device-to-driver GET_DEVICE_STATUS (dev_num 1) at byte 6: msg_size 200 exceeds the 64-byte slot (expected ≤ 64, saw 200); recorded the whole slot');
    expect(canonical(solo.records()).messages).toEqual(canonical(engine).messages);
  });
});

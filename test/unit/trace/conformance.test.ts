/**
 * Conformance rules: for each rule a hand-built record sequence that breaks it and one that does
 * not; quirk profiles turning a known peer's deviations into info (and nothing else); the live
 * recorder writing each finding right after the record that raised it, and `check` deriving the
 * same findings again without counting recorded ones twice.
 */
import { describe, expect, it } from 'vitest';
import { formatProfileErrors, parseBoardProfile } from '../../../src/api/boardProfile';
import { BUILTIN_PROFILES, HARDWARE_PROFILES } from '../../../src/boards/builtin';
import { encode, type MessageInit, type Revision } from '../../../src/protocol/index';
import { fromRecords, toRecords } from '../../../src/trace/block';
import { checkRecords, findingOf, PEERS, QUIRKS, RULES, type Finding, type PeerName, type RuleId } from '../../../src/trace/conformance';
import { metaFromJson, metaToJson } from '../../../src/trace/meta';
import { Recorder, type RecordChunkSink } from '../../../src/trace/recorder';
import { indexedBlock, indexRecords } from '../../../src/trace/block';
import { problemMask, RECORD_FLAGS, type TraceRecord } from '../../../src/trace/record';
import { FakeClock } from './fakeClock';
import { SampleBuilder, sampleMeta } from './sample';

const D2D = 'driver-to-device';
const D2H = 'device-to-driver';

/** A session built message by message: requests, their responses (paired as the recorder pairs them), events, vq indexes. */
class Session {
  readonly b: SampleBuilder;
  constructor(
    private readonly rev: Revision = 'r4',
    firstSeq = 0,
  ) {
    this.b = new SampleBuilder(firstSeq);
  }
  req(init: Omit<MessageInit, 'kind'>, rev = this.rev): TraceRecord {
    return this.b.message({ rev, dir: D2D, init: { ...init, kind: 'request' } });
  }
  resp(init: Omit<MessageInit, 'kind'>, rev = this.rev, problems = 0): TraceRecord {
    return this.b.message({ rev, dir: D2H, init: { ...init, kind: 'response' }, problems });
  }
  event(dir: typeof D2D | typeof D2H, init: Omit<MessageInit, 'kind'>, rev = this.rev): TraceRecord {
    return this.b.message({ rev, dir, init: { ...init, kind: 'event' } });
  }
  /** A response whose token differs from its request's, paired by (dev_num, msg_id) as the recorder does. */
  fallback(request: TraceRecord, init: Omit<MessageInit, 'kind'>, rev = this.rev): TraceRecord {
    const r = this.resp(init, rev);
    // The builder found no request with this token: the recorder's fallback pairs it instead.
    r.problems = ((r.problems & ~problemMask(['unmatched-response'])) | problemMask(['token-mismatch'])) >>> 0;
    r.latencyNs = r.monoNs - request.monoNs;
    r.flags |= RECORD_FLAGS.tokenFallback;
    r.pairSeq = request.seq;
    return r;
  }
  timeout(request: TraceRecord): TraceRecord {
    return this.b.marker('no-response', 'not answered', request.devNum, request.seq);
  }
  status(devNum: number, status: number, token: number): void {
    this.req({ name: 'SET_DEVICE_STATUS', devNum, token, fields: { status } });
    this.resp({ name: 'SET_DEVICE_STATUS', devNum, token, fields: { status } });
  }
  deviceInfo(devNum: number, maxVirtqueues: number, token: number, deviceId = 4): void {
    this.req({ name: 'GET_DEVICE_INFO', devNum, token });
    const fields = { device_id: deviceId, vendor_id: 0x554d_4551, device_uuid: new Uint8Array(16), num_feature_blocks: 2, config_size: 0, max_virtqueues: maxVirtqueues, admin_vq_start: 0, admin_vq_count: 0 };
    this.resp({ name: 'GET_DEVICE_INFO', devNum, token, fields });
  }
  check(peer: PeerName | null = null): Finding[] {
    return checkRecords(fromRecords(this.b.records), { peer }).findings;
  }
}

const vqueueResp = (index: number, maxSize: number, curSize: number, extra: Record<string, number | bigint> = {}) => ({
  index,
  max_size: maxSize,
  cur_size: curSize,
  flags: 0,
  desc_addr: 0n,
  driver_addr: 0n,
  device_addr: 0n,
  ...extra,
});

/** R3's GET_VQUEUE response: a reserved word where R4 has flags. */
const vqueueRespR3 = (index: number, maxSize: number, curSize: number) => {
  const { flags: _flags, ...rest } = vqueueResp(index, maxSize, curSize);
  return { ...rest, reserved: 0 };
};

const ids = (fs: Finding[]): string[] => fs.map((f) => `${f.rule}/${f.severity}`);

describe('the rule table', () => {
  it('has unique ids, a reference section, a severity and a description for every rule', () => {
    expect(new Set(RULES.map((r) => r.id)).size).toBe(RULES.length);
    for (const r of RULES) {
      expect(r.section, r.id).toMatch(/^(virtio-msg|amp-bus|virtio 1\.x) /);
      expect(r.description.length, r.id).toBeGreaterThan(10);
    }
    // A finding record keeps its rule in one byte.
    expect(RULES.length).toBeLessThan(256);
  });

  it('every quirk names a rule of the table', () => {
    for (const p of PEERS) for (const q of QUIRKS[p]) expect(RULES.some((r) => r.id === q.rule), `${p} ${q.rule}`).toBe(true);
  });
});

describe('the peer: board profile, capture metadata', () => {
  it('the built-in profiles of known peers name them; others name none', () => {
    const peers = Object.fromEntries([...BUILTIN_PROFILES, ...HARDWARE_PROFILES].map((p) => [p.id, p.peer ?? null]));
    expect(peers).toEqual({
      'sim-qemu-amp-pci': null,
      'sim-versal': null,
      'sim-linux-loopback': null,
      'sim-stm32mp157': 'openamp-st',
      'stm32mp157c-dk2': 'openamp-st',
      'versal-vek280': null,
      'qemu-virtio-msg-amp-pci': 'qemu',
      'qemu-qtest-amp-pci': 'qemu',
    });
  });

  it('a profile naming an unknown peer is refused with the names it takes', () => {
    const raw = JSON.parse(JSON.stringify(BUILTIN_PROFILES[0]!, (_k, v: unknown) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v))) as Record<string, unknown>;
    raw['peer'] = 'qmeu';
    const r = parseBoardProfile(raw);
    expect(r.ok || formatProfileErrors(r.error)).toBe('  peer: expected one of "qemu", "openamp-st", "linux-rfc", saw "qmeu"');
  });

  it('capture metadata carries the peer through JSON, and refuses an unknown one', () => {
    const meta = sampleMeta({ peer: 'qemu' });
    expect(metaFromJson(JSON.parse(JSON.stringify(metaToJson(meta))))).toEqual({ ok: true, value: meta });
    expect(metaFromJson(JSON.parse(JSON.stringify(metaToJson(sampleMeta()))))).toEqual({ ok: true, value: sampleMeta() });
    expect(metaFromJson({ ...metaToJson(meta), peer: 'zephyr' })).toEqual({ ok: false, error: 'capture metadata field "peer": expected absent or one of qemu, openamp-st, linux-rfc, saw "zephyr"' });
  });
});

describe('each rule: broken and kept', () => {
  it('msg-size-exact: a GET_DEVICE_FEATURES response 4 bytes short of its layout (msg_size 20, layout 24)', () => {
    const s = new Session();
    s.req({ name: 'GET_DEVICE_FEATURES', devNum: 1, token: 1, fields: { block_index: 0, num_blocks: 2 } });
    s.resp({ name: 'GET_DEVICE_FEATURES', devNum: 1, token: 1, fields: { block_index: 0, num_blocks: 2, features: [1, 1] }, msgSize: 20 });
    // The 4 bytes past msg_size are still in the slot: not zero padding either.
    const [f, pad, ...rest] = s.check();
    expect(rest).toEqual([]);
    expect(f).toMatchObject({ rule: 'msg-size-exact', severity: 'error', seq: 1, devNum: 1, section: 'virtio-msg §4.1, §6.17' });
    expect(f!.message).toBe('device→driver GET_DEVICE_FEATURES response: num_blocks 2 needs msg_size 24 but msg_size is 20 (byte 12)');
    expect(pad).toMatchObject({ rule: 'reserved-zero', severity: 'warning', message: 'device→driver GET_DEVICE_FEATURES response: 4 bytes after msg_size 0x0014 (20) must be zero, byte 20 is 0x01 (byte 20)' });

    const ok = new Session();
    ok.req({ name: 'GET_DEVICE_FEATURES', devNum: 1, token: 1, fields: { block_index: 0, num_blocks: 2 } });
    ok.resp({ name: 'GET_DEVICE_FEATURES', devNum: 1, token: 1, fields: { block_index: 0, num_blocks: 2, features: [1, 1] } });
    expect(ok.check()).toEqual([]);
  });

  it('msg-size-max: a message the recorder flagged oversize keeps its size in the finding', () => {
    const s = new Session();
    s.req({ name: 'GET_DEVICE_STATUS', devNum: 1, token: 1 });
    s.resp({ name: 'GET_DEVICE_STATUS', devNum: 1, token: 1, fields: { status: 0 } }, 'r4', problemMask(['oversize']));
    expect(s.check()).toMatchObject([{ rule: 'msg-size-max', severity: 'error', seq: 1, message: 'device→driver GET_DEVICE_STATUS response: msg_size 12 exceeds the bus maximum message size' }]);
  });

  it('reserved-zero: reserved type bits set', () => {
    const s = new Session();
    s.event(D2H, { name: 'EVENT_USED', devNum: 1, type: 0x80, fields: { vq_index: 0 } });
    expect(ids(s.check())).toEqual(['reserved-zero/warning']);
    const ok = new Session();
    ok.event(D2H, { name: 'EVENT_USED', devNum: 1, fields: { vq_index: 0 } });
    expect(ok.check()).toEqual([]);
  });

  it('msg-id-known, field-value and event-no-response-bit come from the codec problems', () => {
    const s = new Session('r3');
    s.req({ msgId: 0x0d, devNum: 2, token: 8 });
    s.req({ name: 'GET_DEVICES', bus: true, token: 9, fields: { offset: 0, count: 12 } });
    s.event(D2H, { name: 'EVENT_USED', devNum: 1, type: 0x01, fields: { vq_index: 0 } });
    expect(ids(s.check())).toEqual(['msg-id-known/warning', 'field-value/warning', 'event-no-response-bit/error']);
  });

  it('response-to-request: a response no request asked for; its request before it is fine', () => {
    const s = new Session();
    s.resp({ name: 'GET_DEVICE_STATUS', devNum: 1, token: 9, fields: { status: 0 } });
    expect(s.check()).toMatchObject([{ rule: 'response-to-request', severity: 'error', seq: 0, message: 'device→driver GET_DEVICE_STATUS response dev 1 token 0x0009 answers no outstanding request' }]);
    const ok = new Session();
    ok.req({ name: 'GET_DEVICE_STATUS', devNum: 1, token: 9 });
    ok.resp({ name: 'GET_DEVICE_STATUS', devNum: 1, token: 9, fields: { status: 0 } });
    expect(ok.check()).toEqual([]);
  });

  it("response-once, response-dev-num, response-msg-id: the matcher's duplicate, wrong dev_num and wrong msg_id verdicts", () => {
    const s = new Session();
    const req = s.req({ name: 'SET_DEVICE_STATUS', devNum: 1, token: 3, fields: { status: 1 } });
    s.resp({ name: 'SET_DEVICE_STATUS', devNum: 1, token: 3, fields: { status: 1 } });
    // The same answer again: the recorder flags it duplicate and pairs it with nothing.
    const again = s.resp({ name: 'SET_DEVICE_STATUS', devNum: 1, token: 3, fields: { status: 1 } });
    again.problems = problemMask(['duplicate']);
    const wrongDev = s.resp({ name: 'SET_DEVICE_STATUS', devNum: 7, token: 3, fields: { status: 1 } });
    Object.assign(wrongDev, { problems: problemMask(['wrong-dev-num']), pairSeq: req.seq });
    const wrongId = s.resp({ name: 'GET_DEVICE_STATUS', devNum: 1, token: 3, fields: { status: 1 } });
    Object.assign(wrongId, { problems: problemMask(['wrong-msg-id']), pairSeq: req.seq });
    expect(s.check().map((f) => [f.rule, f.severity, f.seq])).toEqual([
      ['response-once', 'error', again.seq],
      ['response-dev-num', 'error', wrongDev.seq],
      ['response-msg-id', 'error', wrongId.seq],
    ]);
  });

  it('response-type: the R0 echo without the response bit; an R0 answer with it is fine', () => {
    const s = new Session('r0');
    s.req({ name: 'GET_VQUEUE', devNum: 0, fields: { index: 1 } });
    s.resp({ name: 'GET_VQUEUE', type: 0, devNum: 0, fields: { index: 1, max_size: 64 } });
    expect(s.check()).toMatchObject([{ rule: 'response-type', severity: 'error', seq: 1, message: 'device→driver GET_VQUEUE response has type 0x00, expected 0x01 (request record 0 type 0x00 | 1)' }]);
    const ok = new Session('r0');
    ok.req({ name: 'GET_VQUEUE', devNum: 0, fields: { index: 1 } });
    ok.resp({ name: 'GET_VQUEUE', devNum: 0, fields: { index: 1, max_size: 64 } });
    expect(ok.check()).toEqual([]);
  });

  it('R4-token-echo (error) and R3-token-echo (warning): a response paired by (dev_num, msg_id) because its token differs', () => {
    for (const [rev, want] of [['r4', 'R4-token-echo/error'], ['r3', 'R3-token-echo/warning']] as const) {
      const s = new Session(rev);
      const q = s.req({ name: 'GET_DEVICE_STATUS', devNum: 1, token: 5 });
      s.fallback(q, { name: 'GET_DEVICE_STATUS', devNum: 1, token: 0, fields: { status: 0 } });
      const fs = s.check();
      expect(ids(fs), rev).toEqual([want]);
      expect(fs[0]!.message).toBe('device→driver GET_DEVICE_STATUS response has token 0x0000, not the token of its request (record 0); paired by (dev_num, msg_id)');
    }
    // R2 has no token: nothing to echo.
    const r2 = new Session('r2');
    const q = r2.req({ name: 'GET_DEVICE_STATUS', devNum: 1 });
    r2.fallback(q, { name: 'GET_DEVICE_STATUS', devNum: 1, fields: { status: 0 } });
    expect(r2.check()).toEqual([]);
  });

  it("R4-token-echo and R3-token-echo: the matcher's wrong-token verdict (another non-zero token, the request failed)", () => {
    for (const [rev, want] of [['r4', 'R4-token-echo/error'], ['r3', 'R3-token-echo/warning']] as const) {
      const s = new Session(rev);
      const q = s.req({ name: 'GET_DEVICE_STATUS', devNum: 0, token: 2 });
      const wrong = s.resp({ name: 'GET_DEVICE_STATUS', devNum: 0, token: 0x8002, fields: { status: 0 } });
      Object.assign(wrong, { problems: problemMask(['wrong-token']), pairSeq: q.seq });
      const fs = s.check();
      expect(ids(fs), rev).toEqual([want]);
      expect(fs[0]!.message).toBe('device→driver GET_DEVICE_STATUS response has token 0x8002, not the token of its request (record 0); the request failed');
    }
  });

  it('a late response that does not echo the token is still a token-echo finding after its no-response marker', () => {
    const s = new Session();
    const q = s.req({ name: 'GET_DEVICE_STATUS', devNum: 1, token: 5 });
    s.timeout(q);
    s.fallback(q, { name: 'GET_DEVICE_STATUS', devNum: 1, token: 0, fields: { status: 0 } }).flags |= RECORD_FLAGS.late;
    expect(ids(s.check())).toEqual(['request-answered/error', 'R4-token-echo/error']);
  });

  it('a request left unanswered for more than 65536 records is still named when its timeout comes', () => {
    const s = new Session();
    const q = s.req({ name: 'GET_SHM', devNum: 1, token: 1, fields: { shmid: 0 } });
    s.event(D2D, { name: 'EVENT_AVAIL', devNum: 1, fields: { vq_index: 0, next_offset: 0 } }); // so that a later request takes record 65536
    for (let i = 0; i < 70_000; i++) {
      const token = (i % 0xfffe) + 2;
      s.req({ name: 'GET_DEVICE_STATUS', devNum: 2, token });
      s.resp({ name: 'GET_DEVICE_STATUS', devNum: 2, token, fields: { status: 0 } });
    }
    s.timeout(q);
    expect(s.check().map((f) => f.message)).toEqual([`GET_SHM dev 1 (record 0) got no response before its timeout`]);
  });

  it('request-token-nonzero and event-token-zero (R3/R4 only)', () => {
    const s = new Session();
    s.req({ name: 'GET_DEVICE_STATUS', devNum: 1, token: 0 });
    s.event(D2H, { name: 'EVENT_USED', devNum: 1, token: 7, fields: { vq_index: 0 } });
    expect(s.check()).toMatchObject([
      { rule: 'request-token-nonzero', severity: 'warning', seq: 0, message: 'driver→device GET_DEVICE_STATUS request has token 0; R3/R4 requests carry a non-zero token' },
      { rule: 'event-token-zero', severity: 'warning', seq: 1, message: 'device→driver EVENT_USED has token 0x0007; events carry token 0' },
    ]);
    const r2 = new Session('r2');
    r2.req({ name: 'GET_DEVICE_STATUS', devNum: 1 });
    expect(r2.check()).toEqual([]);
  });

  it('request-answered: a no-response marker names the request it gave up on', () => {
    const s = new Session();
    const q = s.req({ name: 'GET_SHM', devNum: 1, token: 3, fields: { shmid: 0 } });
    const m = s.timeout(q);
    expect(s.check()).toMatchObject([{ rule: 'request-answered', severity: 'error', seq: m.seq, devNum: 1, message: 'GET_SHM dev 1 (record 0) got no response before its timeout' }]);
  });

  it('status-transition: a status write that drops a bit the device holds; a reset (0) may', () => {
    const s = new Session();
    s.status(1, 0x01, 1);
    s.status(1, 0x03, 2);
    s.status(1, 0x01, 3);
    expect(s.check()).toMatchObject([{ rule: 'status-transition', severity: 'error', seq: 4, message: 'SET_DEVICE_STATUS 0x01 to dev 1 clears 0x02 of the status 0x03 the device holds; only a write of 0 (reset) clears bits' }]);
    const ok = new Session();
    ok.status(1, 0x03, 1);
    ok.status(1, 0x00, 2);
    ok.status(1, 0x01, 3);
    expect(ok.check()).toEqual([]);
  });

  it('the device refusing FEATURES_OK lets the driver write FAILED without it', () => {
    const s = new Session();
    s.status(1, 0x03, 1);
    s.req({ name: 'SET_DRIVER_FEATURES', devNum: 1, token: 2, fields: { block_index: 0, num_blocks: 2, features: [0, 1] } });
    s.req({ name: 'SET_DEVICE_STATUS', devNum: 1, token: 3, fields: { status: 0x0b } });
    s.resp({ name: 'SET_DEVICE_STATUS', devNum: 1, token: 3, fields: { status: 0x03 } });
    s.status(1, 0x83, 4);
    expect(s.check()).toEqual([]);
  });

  it('features-ok-after-write: FEATURES_OK with no SET_DRIVER_FEATURES since the reset', () => {
    const s = new Session();
    s.status(1, 0x00, 9);
    s.status(1, 0x03, 1);
    s.req({ name: 'SET_DRIVER_FEATURES', devNum: 1, token: 2, fields: { block_index: 0, num_blocks: 2, features: [0, 1] } });
    s.status(1, 0x0b, 3);
    s.status(1, 0x00, 4);
    s.status(1, 0x03, 5);
    s.status(1, 0x0b, 6);
    expect(s.check()).toMatchObject([{ rule: 'features-ok-after-write', severity: 'error', message: 'SET_DEVICE_STATUS 0x0b to dev 1 sets FEATURES_OK, but no SET_DRIVER_FEATURES was sent since the last reset' }]);
    // Without a reset in the capture, the features may have been written before it began.
    const mid = new Session();
    mid.status(1, 0x0b, 1);
    expect(mid.check()).toEqual([]);
  });

  it('driver-ok-after-features-ok: DRIVER_OK without FEATURES_OK', () => {
    const s = new Session();
    s.status(1, 0x03, 1);
    s.status(1, 0x07, 2);
    expect(ids(s.check())).toEqual(['driver-ok-after-features-ok/error']);
  });

  it('vqueue-absent-sentinel (R4): an unavailable queue answered with a non-zero cur_size; R3 is not held to it', () => {
    for (const [rev, want] of [['r4', ['vqueue-absent-sentinel/warning']], ['r3', []]] as const) {
      const s = new Session(rev);
      s.req({ name: 'GET_VQUEUE', devNum: 1, token: 1, fields: { index: 2 } });
      s.resp({ name: 'GET_VQUEUE', devNum: 1, token: 1, fields: rev === 'r4' ? vqueueResp(2, 0, 8) : vqueueRespR3(2, 0, 8) });
      expect(ids(s.check()), rev).toEqual(want);
    }
    const ok = new Session();
    ok.req({ name: 'GET_VQUEUE', devNum: 1, token: 1, fields: { index: 2 } });
    ok.resp({ name: 'GET_VQUEUE', devNum: 1, token: 1, fields: vqueueResp(2, 0, 0) });
    expect(ok.check()).toEqual([]);
  });

  it('vqueue-unconfigured-size: cur_size after reset and before SET_VQUEUE; after it, cur_size is the size set', () => {
    const build = (reset: boolean): Session => {
      const s = new Session();
      if (reset) s.status(1, 0, 9);
      s.req({ name: 'GET_VQUEUE', devNum: 1, token: 1, fields: { index: 0 } });
      s.resp({ name: 'GET_VQUEUE', devNum: 1, token: 1, fields: vqueueResp(0, 1024, 8) });
      s.req({ name: 'SET_VQUEUE', devNum: 1, token: 2, fields: { index: 0, flags: 1, size: 64, reserved1: 0, desc_addr: 0x1000n, driver_addr: 0x2000n, device_addr: 0x3000n } });
      s.req({ name: 'GET_VQUEUE', devNum: 1, token: 3, fields: { index: 0 } });
      s.resp({ name: 'GET_VQUEUE', devNum: 1, token: 3, fields: vqueueResp(0, 1024, 64, { flags: 1 }) });
      return s;
    };
    expect(build(true).check()).toMatchObject([{ rule: 'vqueue-unconfigured-size', severity: 'warning', seq: 3, message: 'GET_VQUEUE response for queue 0 of dev 1 reports cur_size 8 before any SET_VQUEUE; expected 0' }]);
    // A capture that starts mid-session (ring mode, a re-attach) cannot tell whether the queue was set up before it.
    expect(build(false).check()).toEqual([]);
  });

  it("queue-index-range: queue indices past max_virtqueues, and avail.idx further ahead of used.idx than the queue's size", () => {
    const s = new Session();
    s.deviceInfo(1, 1, 1);
    s.req({ name: 'GET_VQUEUE', devNum: 1, token: 2, fields: { index: 1 } });
    s.event(D2H, { name: 'EVENT_USED', devNum: 1, fields: { vq_index: 3 } });
    s.req({ name: 'SET_VQUEUE', devNum: 1, token: 3, fields: { index: 0, flags: 1, size: 4, reserved1: 0, desc_addr: 0x1000n, driver_addr: 0x2000n, device_addr: 0x3000n } });
    s.b.vqIndex(1, 0, 0, 0);
    s.b.vqIndex(1, 0, 6, 1);
    expect(s.check().map((f) => [f.rule, f.message])).toEqual([
      ['queue-index-range', 'driver→device GET_VQUEUE names queue 1 of dev 1; the device has max_virtqueues 1'],
      ['queue-index-range', 'device→driver EVENT_USED names queue 3 of dev 1; the device has max_virtqueues 1'],
      ['queue-index-range', 'virtqueue 0 of dev 1: avail.idx 6 runs 5 ahead of used.idx 1, more than the queue size 4'],
    ]);
    const ok = new Session();
    ok.deviceInfo(1, 1, 1);
    ok.event(D2H, { name: 'EVENT_USED', devNum: 1, fields: { vq_index: 0 } });
    expect(ok.check()).toEqual([]);
  });

  it('queue-index-forward: avail.idx or used.idx going back; wrapping at 65536 is forward', () => {
    const s = new Session();
    s.b.vqIndex(1, 0, 5, 5);
    s.b.vqIndex(1, 0, 3, 5);
    s.b.vqIndex(1, 0, 3, 2);
    expect(s.check().map((f) => f.message)).toEqual(['virtqueue 0 of dev 1: avail.idx went back from 5 to 3', 'virtqueue 0 of dev 1: used.idx went back from 5 to 2']);
    const ok = new Session();
    ok.b.vqIndex(1, 0, 65534, 65534);
    ok.b.vqIndex(1, 0, 1, 65535);
    ok.b.vqIndex(1, 0, 1, 1);
    expect(ok.check()).toEqual([]);
  });

  it('event-used-after-used-ring: more EVENT_USED than used entries, judged when the driver collects', () => {
    const used = (s: Session): TraceRecord => s.event(D2H, { name: 'EVENT_USED', devNum: 1, fields: { vq_index: 0 } });
    const s = new Session();
    s.b.vqIndex(1, 0, 1, 0); // the driver published one buffer: tracking starts
    used(s);
    s.b.vqIndex(1, 0, 1, 1); // collected after the event
    used(s); // the used ring did not move
    s.b.vqIndex(1, 0, 2, 1); // published again: the driver's last seen used.idx, not a read
    const last = used(s);
    s.b.vqIndex(1, 0, 2, 2);
    expect(s.check()).toMatchObject([
      {
        rule: 'event-used-after-used-ring',
        severity: 'warning',
        seq: last.seq,
        message: `3 EVENT_USED for virtqueue 0 of dev 1 while used.idx moved 2 (to 2): an EVENT_USED came without the used ring moving (latest record ${last.seq})`,
      },
    ]);

    // Two entries and two events collected at once, later (no waiter at the first event); a publish in between.
    const ok = new Session();
    ok.b.vqIndex(1, 0, 2, 0);
    used(ok);
    ok.b.vqIndex(1, 0, 3, 0);
    used(ok);
    ok.b.vqIndex(1, 0, 3, 2);
    expect(ok.check()).toEqual([]);
  });

  it('event-dev-num: an EVENT_USED for a device no GET_DEVICE_INFO named', () => {
    const s = new Session();
    s.deviceInfo(1, 1, 1);
    s.event(D2H, { name: 'EVENT_USED', devNum: 5, fields: { vq_index: 0 } });
    expect(s.check()).toMatchObject([{ rule: 'event-dev-num', severity: 'error', devNum: 5, message: 'EVENT_USED names dev 5, which no GET_DEVICE_INFO response named' }]);
    // A capture that does not start at record 0 (ring mode) may have lost dev 5's GET_DEVICE_INFO.
    const ring = new Session('r4', 1000);
    ring.deviceInfo(1, 1, 1);
    ring.event(D2H, { name: 'EVENT_USED', devNum: 5, fields: { vq_index: 0 } });
    expect(ring.check()).toEqual([]);
  });
});

describe('quirk profiles', () => {
  /** QEMU's GET_DEVICES answer (field notes: count 32 → msg_size 46, token 0) and its other deviations. */
  function qemuSession(): Session {
    const s = new Session('r3');
    s.status(0, 0, 5);
    const q = s.req({ name: 'GET_DEVICES', bus: true, token: 1, fields: { offset: 0, count: 32 } });
    s.fallback(q, { name: 'GET_DEVICES', bus: true, token: 0, fields: { offset: 0, count: 32, next_offset: 0, bitmap: Uint8Array.of(1, 0, 0, 0) }, msgSize: 46 });
    s.req({ name: 'GET_VQUEUE', devNum: 0, token: 2, fields: { index: 0 } });
    s.resp({ name: 'GET_VQUEUE', devNum: 0, token: 2, fields: vqueueRespR3(0, 1024, 8) });
    s.timeout(s.req({ name: 'GET_SHM', devNum: 0, token: 3, fields: { index: 0 } }));
    return s;
  }

  it('qemu: GET_DEVICES size and token, cur_size 8 before SET_VQUEUE and the unanswered GET_SHM become info', () => {
    const plain = qemuSession().check();
    expect(ids(plain)).toEqual(['msg-size-exact/error', 'R3-token-echo/warning', 'vqueue-unconfigured-size/warning', 'request-answered/error']);
    expect(plain[0]!.message).toBe('device→driver GET_DEVICES response: msg_size 0x002e (46) but 18 bytes received (byte 6); count 32 needs msg_size 18 but msg_size is 46: 14 + 32, the bitmap counted in bytes, not bits (byte 10)');
    const quirky = qemuSession().check('qemu');
    expect(ids(quirky)).toEqual(['msg-size-exact/info', 'R3-token-echo/info', 'vqueue-unconfigured-size/info', 'request-answered/info']);
    expect(quirky[0]!.message).toMatch(/\(known qemu deviation: QEMU answers GET_DEVICES with num = MAX\(count, 32\), msg_size 14 \+ num/);
  });

  it('qemu: what QEMU does not do stays an error (a transport response without the token)', () => {
    const s = new Session('r3');
    const q = s.req({ name: 'GET_DEVICE_STATUS', devNum: 0, token: 4 });
    s.fallback(q, { name: 'GET_DEVICE_STATUS', devNum: 0, token: 0, fields: { status: 0 } });
    s.resp({ name: 'GET_DEVICE_STATUS', devNum: 0, token: 9, fields: { status: 0 } });
    expect(ids(s.check('qemu'))).toEqual(['R3-token-echo/warning', 'response-to-request/error']);
  });

  it('openamp-st: the echo without the response bit, SET_DEVICE_STATUS never answered, the bus id in EVENT_USED', () => {
    const build = (): Session => {
      const s = new Session('r0');
      s.req({ name: 'DEVICE_INFO', devNum: 0 });
      s.resp({ name: 'DEVICE_INFO', type: 0, devNum: 0, fields: { version: 1, device_id: 34, vendor_id: 0x5354 } });
      s.timeout(s.req({ name: 'SET_DEVICE_STATUS', devNum: 0, fields: { status: 1 } }));
      s.event(D2H, { name: 'EVENT_USED', devNum: 7, fields: { vq_idx: 7 } });
      return s;
    };
    expect(ids(build().check())).toEqual(['response-type/error', 'request-answered/error', 'event-dev-num/error']);
    expect(ids(build().check('openamp-st'))).toEqual(['response-type/info', 'request-answered/info', 'event-dev-num/info']);
    // The quirk is about SET_DEVICE_STATUS: an unanswered GET_DEVICE_STATUS is still an error.
    const s = new Session('r0');
    s.timeout(s.req({ name: 'GET_DEVICE_STATUS', devNum: 0 }));
    expect(ids(s.check('openamp-st'))).toEqual(['request-answered/error']);
  });

  it('linux-rfc: SET_CONFIG whose msg_size leaves out the data bytes', () => {
    const build = (): Session => {
      const s = new Session('r2');
      s.req({ name: 'SET_CONFIG', devNum: 0, fields: { generation: 0, offset: 0, length: 4, data: Uint8Array.of(1, 2, 3, 4) }, msgSize: 18 });
      return s;
    };
    expect(ids(build().check())).toEqual(['msg-size-exact/error', 'reserved-zero/warning']);
    expect(ids(build().check('linux-rfc'))).toEqual(['msg-size-exact/info', 'reserved-zero/info']);
  });
});

class MemorySink implements RecordChunkSink {
  chunks: Uint8Array[] = [];
  writeChunk(payload: Uint8Array): void {
    this.chunks.push(payload.slice());
  }
  records(): TraceRecord[] {
    return toRecords(this.chunks.map((c) => indexedBlock(indexRecords(c))));
  }
}

describe('live in the recorder, and again after the fact', () => {
  function record(peer: PeerName | null): TraceRecord[] {
    const sink = new MemorySink();
    const rec = new Recorder({ runtime: new FakeClock(), sink, revision: 'r4', maxMessageSize: 64, conformance: { peer } });
    rec.message(D2D, encode('r4', { name: 'GET_DEVICE_STATUS', kind: 'request', devNum: 1, token: 0 }));
    rec.message(D2H, encode('r4', { name: 'GET_DEVICE_STATUS', kind: 'response', devNum: 1, token: 0, fields: { status: 0 } }));
    rec.message(D2H, encode('r4', { name: 'GET_DEVICE_STATUS', kind: 'response', devNum: 1, token: 5, fields: { status: 0 } }));
    rec.close();
    return sink.records();
  }

  it('writes each finding right after the record that raised it, with rule, severity and the offending seq', () => {
    const records = record(null);
    expect(records.map((r) => r.kind)).toEqual(['message', 'finding', 'message', 'message', 'finding']);
    expect(records.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(records.map((r) => findingOf(r))).toMatchObject([
      null,
      { rule: 'request-token-nonzero', severity: 'warning', seq: 0, devNum: 1, recordSeq: 1 },
      null,
      null,
      { rule: 'response-to-request', severity: 'error', seq: 3, devNum: 1, recordSeq: 4, message: 'device→driver GET_DEVICE_STATUS response dev 1 token 0x0005 answers no outstanding request' },
    ]);
    expect(records[4]!.monoNs).toBe(records[3]!.monoNs);
  });

  it('check re-derives the same findings, skipping the recorded ones rather than counting them twice', () => {
    const records = record(null);
    const live = records.flatMap((r) => findingOf(r) ?? []).map(({ recordSeq: _r, ...f }) => f);
    const report = checkRecords(fromRecords(records));
    expect(report).toMatchObject({ errors: 1, warnings: 1, infos: 0, checked: 3, recorded: 2 });
    // After the fact the offending seqs shift by the finding records in between; the rules and texts agree.
    expect(report.findings.map((f) => [f.rule, f.severity])).toEqual(live.map((f) => [f.rule, f.severity]));
  });

  it('limits live findings per rule and says so in the last one', () => {
    const sink = new MemorySink();
    const rec = new Recorder({ runtime: new FakeClock(), sink, revision: 'r4', conformance: { peer: null } });
    const bad = encode('r4', { name: 'GET_DEVICE_STATUS', kind: 'request', devNum: 1, token: 0 });
    for (let i = 0; i < 1005; i++) rec.message(D2D, bad);
    rec.close();
    const found = sink.records().flatMap((r) => findingOf(r) ?? []);
    expect(found).toHaveLength(1000);
    expect(found.at(-1)!.message).toMatch(/\(the 1000th request-token-nonzero finding: later ones are not recorded; amp-workbench check counts them\)$/);
    expect(checkRecords(fromRecords(sink.records())).warnings).toBe(1005);
    expect(rec.findingCounts).toEqual({ errors: 0, warnings: 1005, infos: 0 });
  });

  it("bus-queue-index: the endpoint's peer-index queue problem, as the recorder records it, is a finding; other queue problems are not", () => {
    const sink = new MemorySink();
    const clock = new FakeClock();
    const rec = new Recorder({ runtime: clock, sink, revision: 'r4', conformance: { peer: null } });
    const reason = 'peer tail index 70 at 0x0040 is outside 0..61 (N = 62); using 8 (modulo N, as the peer would)';
    rec.observer().onProblem!({ kind: 'queue', problem: { code: 'peer-index', offset: 0x40, reason }, monoNs: clock.monoNs() });
    rec.observer().onProblem!({ kind: 'queue', problem: { code: 'peer-state', offset: 0x08, reason: 'device head went to PEER_DEAD' }, monoNs: clock.monoNs() });
    rec.close();
    const records = sink.records();
    expect(records.map((r) => r.kind)).toEqual(['marker', 'finding', 'marker']);
    expect(findingOf(records[1]!)).toMatchObject({ rule: 'bus-queue-index', severity: 'error', seq: 0, section: 'amp-bus §4.1, §4.2', message: `bus queue: ${reason}` });
  });

  it('every rule id is reachable from a finding record', () => {
    for (const id of RULES.map((r) => r.id as RuleId)) expect(findingOf({ kind: 'finding', msgId: RULES.findIndex((r) => r.id === id), msgType: 0, seq: 0, devNum: null, pairSeq: 0, data: new Uint8Array(0) })?.rule).toBe(id);
  });
});

/**
 * The Perfetto export, read back with protobufjs through a schema written from the official
 * field numbers (google/perfetto protos/perfetto/trace/...), independently of our encoder.
 */
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { fromRecords } from '../../../src/trace/block';
import { exportRecords } from '../../../src/trace/exportWriter';
import { BOARD_PID, PerfettoWriter, SEQUENCE_ID, TYPE_COUNTER, TYPE_INSTANT, TYPE_SLICE_BEGIN, TYPE_SLICE_END } from '../../../src/trace/perfetto';
import { RULES, SEVERITIES } from '../../../src/trace/conformance';
import { MARKER_KINDS, RECORD_FLAGS, type TraceRecord } from '../../../src/trace/record';
import { arbRecord, sampleMeta, sampleRecords, sessionRecords, START_MONO_NS, START_WALL_NS } from './sample';

// From trace_packet.proto, clock_snapshot.proto, interned_data.proto, track_event.proto,
// track_descriptor.proto, process_descriptor.proto, counter_descriptor.proto, debug_annotation.proto.
const SCHEMA = `
syntax = "proto2";
package perfetto.protos;
message Trace { repeated TracePacket packet = 1; }
message TracePacket {
  optional uint64 timestamp = 8;
  optional uint32 timestamp_clock_id = 58;
  optional uint32 trusted_packet_sequence_id = 10;
  optional ClockSnapshot clock_snapshot = 6;
  optional TrackEvent track_event = 11;
  optional TrackDescriptor track_descriptor = 60;
  optional InternedData interned_data = 12;
  optional uint32 sequence_flags = 13;
  optional bool first_packet_on_sequence = 87;
}
message ClockSnapshot {
  message Clock { optional uint32 clock_id = 1; optional uint64 timestamp = 2; }
  repeated Clock clocks = 1;
}
message TrackDescriptor {
  optional uint64 uuid = 1;
  optional uint64 parent_uuid = 5;
  optional string name = 2;
  optional ProcessDescriptor process = 3;
  optional CounterDescriptor counter = 8;
}
message ProcessDescriptor { optional int32 pid = 1; optional string process_name = 6; }
message CounterDescriptor { optional int32 type = 1; optional int32 unit = 3; }
message TrackEvent {
  repeated DebugAnnotation debug_annotations = 4;
  optional int32 type = 9;
  optional uint64 name_iid = 10;
  optional string name = 23;
  optional uint64 track_uuid = 11;
  optional int64 counter_value = 30;
  repeated fixed64 flow_ids = 47;
  repeated fixed64 terminating_flow_ids = 48;
}
message DebugAnnotation {
  optional uint64 name_iid = 1;
  optional string name = 10;
  optional uint64 uint_value = 3;
  optional int64 int_value = 4;
  optional string string_value = 6;
}
message InternedData {
  repeated EventName event_names = 2;
  repeated DebugAnnotationName debug_annotation_names = 3;
}
message EventName { optional uint64 iid = 1; optional string name = 2; }
message DebugAnnotationName { optional uint64 iid = 1; optional string name = 2; }
`;
const Trace = protobuf.parse(SCHEMA).root.lookupType('perfetto.protos.Trace');

interface Event {
  ts: bigint;
  type: number;
  track: number;
  name: string | null;
  args: Record<string, string | number>;
  flows: number[];
  ends: number[];
  counter: number | null;
}
interface Track {
  uuid: number;
  parent: number | null;
  name: string;
  counter: boolean;
  pid: number | null;
}

/** Decodes a trace and resolves interning, checking on the way that every reference was defined first. */
function parse(bytes: Uint8Array): { packets: Record<string, unknown>[]; events: Event[]; tracks: Map<number, Track>; clocks: Map<number, bigint> } {
  const obj = Trace.toObject(Trace.decode(bytes), { longs: String, defaults: false }) as { packet?: Record<string, unknown>[] };
  const packets = obj.packet ?? [];
  const names = new Map<number, string>();
  const argNames = new Map<number, string>();
  const tracks = new Map<number, Track>();
  const events: Event[] = [];
  const clocks = new Map<number, bigint>();
  for (const [i, p] of packets.entries()) {
    expect(p['trustedPacketSequenceId'], `packet ${i} sequence`).toBe(SEQUENCE_ID);
    const interned = p['internedData'] as { eventNames?: { iid: string; name: string }[]; debugAnnotationNames?: { iid: string; name: string }[] } | undefined;
    for (const n of interned?.eventNames ?? []) {
      expect(names.has(Number(n.iid)), `iid ${n.iid} defined twice`).toBe(false);
      names.set(Number(n.iid), n.name);
    }
    for (const n of interned?.debugAnnotationNames ?? []) argNames.set(Number(n.iid), n.name);
    const cs = p['clockSnapshot'] as { clocks: { clockId: number; timestamp: string }[] } | undefined;
    for (const c of cs?.clocks ?? []) clocks.set(c.clockId, BigInt(c.timestamp));
    const td = p['trackDescriptor'] as { uuid: string; parentUuid?: string; name?: string; process?: { pid: number; processName: string }; counter?: object } | undefined;
    if (td) {
      const parent = td.parentUuid === undefined ? null : Number(td.parentUuid);
      if (parent !== null) expect(tracks.has(parent), `parent ${parent} of track ${td.uuid} described first`).toBe(true);
      tracks.set(Number(td.uuid), { uuid: Number(td.uuid), parent, name: td.name ?? td.process?.processName ?? '', counter: td.counter !== undefined, pid: td.process?.pid ?? null });
    }
    const te = p['trackEvent'] as
      | { type: number; trackUuid: string; nameIid?: string; debugAnnotations?: { nameIid: string; uintValue?: string; stringValue?: string }[]; flowIds?: string[]; terminatingFlowIds?: string[]; counterValue?: string }
      | undefined;
    if (te) {
      const track = Number(te.trackUuid);
      expect(tracks.has(track), `track ${track} described before packet ${i}`).toBe(true);
      if (te.nameIid !== undefined) expect(names.has(Number(te.nameIid)), `name iid ${te.nameIid} interned before packet ${i}`).toBe(true);
      if (te.nameIid !== undefined || te.debugAnnotations) expect(p['sequenceFlags'], `packet ${i} uses interned state`).toBe(2);
      const args: Record<string, string | number> = {};
      for (const a of te.debugAnnotations ?? []) {
        const key = argNames.get(Number(a.nameIid));
        expect(key, `annotation name iid ${a.nameIid}`).toBeDefined();
        args[key!] = a.stringValue ?? Number(a.uintValue);
      }
      events.push({
        ts: BigInt(p['timestamp'] as string),
        type: te.type,
        track,
        name: te.nameIid === undefined ? null : names.get(Number(te.nameIid))!,
        args,
        flows: (te.flowIds ?? []).map(Number),
        ends: (te.terminatingFlowIds ?? []).map(Number),
        counter: te.counterValue === undefined ? null : Number(te.counterValue),
      });
    }
  }
  return { packets, events, tracks, clocks };
}

function exportBytes(records: TraceRecord[], chunkBytes?: number): { bytes: Uint8Array; chunks: number } {
  const chunks: Uint8Array[] = [];
  exportRecords(new PerfettoWriter((c) => chunks.push(c.slice()), chunkBytes === undefined ? {} : { chunkBytes }), sampleMeta(), fromRecords(records));
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    bytes.set(c, o);
    o += c.length;
  }
  return { bytes, chunks: chunks.length };
}

/** Walks slices per track in file order: every END closes the newest open BEGIN on its track. */
function slices(events: Event[]): { begin: Event; end: Event }[] {
  const open = new Map<number, Event[]>();
  const out: { begin: Event; end: Event }[] = [];
  for (const e of events) {
    if (e.type === TYPE_SLICE_BEGIN) {
      const stack = open.get(e.track) ?? [];
      stack.push(e);
      open.set(e.track, stack);
    } else if (e.type === TYPE_SLICE_END) {
      const begin = open.get(e.track)?.pop();
      expect(begin, `END on track ${e.track} at ${e.ts} has a BEGIN`).toBeDefined();
      expect(e.ts >= begin!.ts, 'a slice ends after it begins').toBe(true);
      out.push({ begin: begin!, end: e });
    }
  }
  for (const [track, stack] of open) expect(stack, `slices left open on track ${track}`).toEqual([]);
  // On the time axis too (trace processor sorts by timestamp): two slices of a track are disjoint or nested.
  for (const a of out) {
    for (const b of out) {
      if (a === b || a.begin.track !== b.begin.track) continue;
      const disjoint = a.end.ts <= b.begin.ts || b.end.ts <= a.begin.ts;
      const nested = (a.begin.ts <= b.begin.ts && b.end.ts <= a.end.ts) || (b.begin.ts <= a.begin.ts && a.end.ts <= b.end.ts);
      expect(disjoint || nested, `slices at ${a.begin.ts} and ${b.begin.ts} on track ${a.begin.track} overlap`).toBe(true);
    }
  }
  return out;
}

const trackName = (tracks: Map<number, Track>, uuid: number): string => tracks.get(uuid)!.name;
const pathOf = (tracks: Map<number, Track>, uuid: number): string => {
  const parts: string[] = [];
  for (let t: Track | undefined = tracks.get(uuid); t; t = t.parent === null ? undefined : tracks.get(t.parent)) parts.unshift(t.name);
  return parts.join(' / ');
};

describe('Perfetto export', () => {
  const records = sessionRecords();
  const { bytes } = exportBytes(records);
  const { packets, events, tracks, clocks } = parse(bytes);

  it('opens the sequence: incremental state cleared, annotation names interned, clock snapshot of the capture start', () => {
    expect(packets[0]!['sequenceFlags']).toBe(1);
    expect(packets[0]!['firstPacketOnSequence']).toBe(true);
    expect(clocks).toEqual(new Map([[6, START_MONO_NS], [1, START_WALL_NS]]));
  });

  it('describes the board as a process with session, bus, doorbell, device, lane, virtqueue and counter tracks', () => {
    const root = [...tracks.values()].find((t) => t.parent === null)!;
    expect(root).toMatchObject({ name: 'sim-qemu-amp-pci', pid: BOARD_PID });
    const paths = [...tracks.keys()].map((u) => pathOf(tracks, u)).sort();
    expect(paths).toEqual(
      [
        'sim-qemu-amp-pci',
        'sim-qemu-amp-pci / session',
        'sim-qemu-amp-pci / doorbells',
        'sim-qemu-amp-pci / bus',
        'sim-qemu-amp-pci / bus / requests #0',
        'sim-qemu-amp-pci / dev 1 I2C adapter',
        'sim-qemu-amp-pci / dev 1 I2C adapter / requests #0',
        'sim-qemu-amp-pci / dev 1 I2C adapter / requests #1',
        'sim-qemu-amp-pci / dev 1 I2C adapter / vq 0',
        'sim-qemu-amp-pci / dev 1 I2C adapter / vq 0 / vq 0 in flight',
        'sim-qemu-amp-pci / dev 3 console',
        'sim-qemu-amp-pci / dev 3 console / requests #0',
        'sim-qemu-amp-pci / dev 3 console / vq 0',
        'sim-qemu-amp-pci / dev 3 console / vq 0 / vq 0 in flight',
      ].sort(),
    );
    // The device was "dev 1" until its GET_DEVICE_INFO response; the rename is timestamped there.
    const renames = packets.filter((p) => (p['trackDescriptor'] as { name?: string } | undefined)?.name?.startsWith('dev 1'));
    expect(renames.map((p) => [(p['trackDescriptor'] as { name: string }).name, p['timestamp']])).toEqual([
      ['dev 1', undefined],
      ['dev 1 I2C adapter', String(records.find((r) => r.flags & RECORD_FLAGS.response && r.devNum === 1)!.monoNs)],
    ]);
    expect([...tracks.values()].filter((t) => t.counter).map((t) => t.name)).toEqual(['vq 0 in flight', 'vq 0 in flight']);
  });

  it('gives every request a slice from request to response on its own lane, nested per track', () => {
    const all = slices(events);
    const requests = records.filter((r) => r.flags & RECORD_FLAGS.request);
    expect(all).toHaveLength(requests.length);
    for (const r of requests) {
      const s = all.find((x) => x.begin.args['seq'] === r.seq)!;
      expect(s, `slice of request ${r.seq}`).toBeDefined();
      expect(s.begin.ts).toBe(r.monoNs);
      expect(s.begin.flows).toEqual([r.seq + 1]);
      expect(trackName(tracks, s.begin.track)).toMatch(/^requests #\d$/);
      const response = records.find((x) => x.kind === 'message' && x.pairSeq === r.seq);
      const noResponse = records.find((x) => x.kind === 'marker' && x.pairSeq === r.seq);
      if (response) {
        expect(s.end.ts).toBe(response.monoNs);
        expect(s.end.args).toMatchObject({ response_seq: response.seq, latency_ns: Number(response.latencyNs) });
      } else if (noResponse) {
        expect(s.end.ts).toBe(noResponse.monoNs);
        expect(s.end.args['outcome']).toBe(`no response (marker seq ${noResponse.seq})`);
      } else {
        expect(s.end.ts).toBe(records.at(-1)!.monoNs);
        expect(s.end.args['outcome']).toBe('no response in this export (capture ended, or filtered out)');
      }
    }
    // GET_VQUEUE and GET_CONFIG overlap without nesting: two lanes, and lane 0 is reused afterwards.
    const vq = all.find((s) => s.begin.name === 'GET_VQUEUE')!;
    const cfg = all.find((s) => s.begin.name === 'GET_CONFIG')!;
    expect(cfg.begin.ts < vq.end.ts && vq.end.ts > cfg.end.ts).toBe(true);
    expect(trackName(tracks, vq.begin.track)).toBe('requests #0');
    expect(trackName(tracks, cfg.begin.track)).toBe('requests #1');
    expect(all.find((s) => s.begin.name === 'SET_DEVICE_STATUS')!.begin.track).toBe(vq.begin.track);
  });

  it('annotates slices with token, msg_size, summary and latency', () => {
    const cfg = slices(events).find((s) => s.begin.name === 'GET_CONFIG')!;
    expect(cfg.begin.args).toEqual({ seq: 9, token: 4, msg_size: 16, summary: 'GET_CONFIG dev 1 token 0x0004 offset=0 length=4' });
    expect(cfg.end.args).toEqual({ response_seq: 10, latency_ns: 12_345, response: 'GET_CONFIG dev 1 token 0x0004 generation=1 offset=0 length=4 data=01020304' });
  });

  it('links each request to its response with a flow ending at the response instant', () => {
    const responses = records.filter((r) => r.kind === 'message' && r.flags & RECORD_FLAGS.response && r.pairSeq !== null);
    expect(responses.length).toBeGreaterThan(4);
    for (const r of responses) {
      const end = events.filter((e) => e.ends.includes(r.pairSeq! + 1));
      expect(end).toHaveLength(1);
      expect(end[0]).toMatchObject({ type: TYPE_INSTANT, ts: r.monoNs, args: { seq: r.seq, request_seq: r.pairSeq } });
      expect(events.filter((e) => e.flows.includes(r.pairSeq! + 1))).toHaveLength(1);
    }
    const fallback = events.find((e) => e.ends.length > 0 && String(e.args['problems']).includes('token-mismatch'));
    expect(fallback?.name).toBe('GET_CONFIG');
  });

  it('shows events, doorbells, markers and queue states as instants on their tracks', () => {
    const instants = events.filter((e) => e.type === TYPE_INSTANT);
    const where = (name: string): string[] => instants.filter((e) => e.name === name).map((e) => pathOf(tracks, e.track));
    expect(where('EVENT_AVAIL')).toEqual(['sim-qemu-amp-pci / dev 1 I2C adapter / vq 0']);
    expect(where('EVENT_USED')).toEqual(['sim-qemu-amp-pci / dev 1 I2C adapter / vq 0', 'sim-qemu-amp-pci / dev 3 console / vq 0']);
    expect(where('DOORBELL')).toEqual(['sim-qemu-amp-pci / doorbells', 'sim-qemu-amp-pci / doorbells']);
    expect(where('QUEUE_STATE')).toEqual(['sim-qemu-amp-pci / bus']);
    const markers = records.filter((r) => r.kind === 'marker');
    const onSession = instants.filter((e) => trackName(tracks, e.track) === 'session');
    expect(onSession.map((e) => [e.ts, e.args['seq']])).toEqual(markers.map((m) => [m.monoNs, m.seq]));
    expect(onSession.map((e) => e.name)).toEqual(markers.map((m) => MARKER_KINDS[m.msgId]!.toUpperCase().replace('-', '_')));
    expect(onSession.find((e) => e.name === 'BOOKMARK')!.args['summary']).toBe('BOOKMARK dev 1 look here, "really"\nsecond line');
    expect(onSession.find((e) => e.name === 'NOTE')!.args['summary']).toBe('NOTE µs – ok ✓');
  });

  it('feeds the virtqueue occupancy counter from vq-index records', () => {
    const counters = events.filter((e) => e.type === TYPE_COUNTER);
    const vqRecords = records.filter((r) => r.kind === 'vq-index');
    expect(counters.map((e) => [e.ts, e.counter, pathOf(tracks, e.track)])).toEqual(
      vqRecords.map((r, i) => [r.monoNs, i === 0 ? 1 : 0, 'sim-qemu-amp-pci / dev 1 I2C adapter / vq 0 / vq 0 in flight']),
    );
  });

  it('stamps every event with its record’s monotonic ns, exactly', () => {
    const stamps = new Set(events.map((e) => e.ts));
    for (const r of records) expect(stamps.has(r.monoNs), `record ${r.seq}`).toBe(true);
    const recordStamps = new Set(records.map((r) => r.monoNs));
    for (const e of events) expect(recordStamps.has(e.ts), `event at ${e.ts}`).toBe(true);
  });

  it('encodes 64-bit timestamps beyond 2^53 exactly', () => {
    const base = sessionRecords()[3]!; // a doorbell
    const stamps = [0n, 127n, 128n, (1n << 53n) + 1n, 0xffff_ffff_ffff_fffen, 0x8000_0000_0000_0000n, 0x1234_5678_9abc_def0n];
    const { events: got } = parse(exportBytes(stamps.map((monoNs, seq) => ({ ...base, seq, monoNs }))).bytes);
    expect(got.map((e) => e.ts)).toEqual(stamps);
  });

  it('streams: small chunks concatenate to the same file', () => {
    const small = exportBytes(records, 200);
    expect(small.chunks).toBeGreaterThan(10);
    expect(small.bytes).toEqual(bytes);
  });

  it('exports the shared sample (every revision, malformed, unknown ids) with balanced slices', () => {
    const s = sampleRecords();
    const { events: got } = parse(exportBytes(s).bytes);
    expect(slices(got)).toHaveLength(s.filter((r) => r.flags & RECORD_FLAGS.request).length);
    expect(got.filter((e) => e.name === 'MALFORMED').length).toBeGreaterThan(0);
  });

  it('shows each conformance finding as an instant on the board track, with the offending record', () => {
    const s = sampleRecords();
    const { events: got, tracks: t } = parse(exportBytes(s).bytes);
    const findings = s.filter((r) => r.kind === 'finding');
    const onBoard = got.filter((e) => e.type === TYPE_INSTANT && t.get(e.track)!.pid === BOARD_PID);
    expect(onBoard.map((e) => [e.ts, e.name, e.args['seq'], e.args['offending_seq']])).toEqual(
      findings.map((f) => [f.monoNs, `${RULES[f.msgId]!.id} ${SEVERITIES[f.msgType]}`, f.seq, f.pairSeq]),
    );
    expect(onBoard[0]!.args['summary']).toBe(`error request-answered (record ${findings[0]!.pairSeq}): GET_DEVICE_STATUS dev 1 (record ${findings[0]!.pairSeq! - 1}) got no response before its timeout`);
  });

  it('stays a valid, balanced trace for arbitrary records', () => {
    fc.assert(
      fc.property(fc.array(arbRecord().map((r) => ({ ...r, seq: r.seq % 8 })), { maxLength: 40 }), (rs) => {
        // Also with the seq numbers as they come (repeats included): a damaged file still gives a balanced trace.
        for (const records of [rs.map((r, seq) => ({ ...r, seq })), rs]) {
          const { events: got } = parse(exportBytes(records).bytes);
          const requests = records.filter((r) => r.kind === 'message' && r.flags & RECORD_FLAGS.request).length;
          expect(slices(got)).toHaveLength(requests);
        }
      }),
      { numRuns: 60 },
    );
  });
});

/**
 * The Expert report: findings derived again by the conformance evaluator (recorded finding records
 * skipped, not counted twice), session ERROR and DROPPED markers, grouped by severity and rule with
 * the offending record to jump to, and rule references naming the docs pages.
 */
import { describe, expect, it } from 'vitest';
import { forEachRecord, fromRecords } from '../../../src/trace/block';
import { checkRecords, ruleDocs, RULES } from '../../../src/trace/conformance';
import { EXPERT_KEPT, ExpertAccumulator } from '../../../src/trace/expert';
import { RECORD_FLAGS } from '../../../src/trace/record';
import { SampleBuilder, sampleRecords } from './sample';

function report(records: SampleBuilder['records'], peer?: 'qemu') {
  const acc = new ExpertAccumulator(peer ? { peer } : {});
  forEachRecord(fromRecords(records), (v) => acc.add(v));
  return acc.result();
}

describe('ExpertAccumulator', () => {
  it('groups what `check` finds by severity and rule, errors first, and counts the same', () => {
    const records = sampleRecords();
    const r = report(records);
    const check = checkRecords(fromRecords(records));
    expect([r.errors, r.warnings, r.infos]).toEqual([check.errors, check.warnings, check.infos]);
    expect(r.checked).toBe(check.checked);
    const order = r.groups.map((g) => ['error', 'warning', 'info'].indexOf(g.severity));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    for (const g of r.groups.filter((g) => !g.rule.startsWith('session') && g.rule !== 'records-dropped')) {
      const rule = RULES.find((x) => x.id === g.rule)!;
      expect(g.description).toBe(rule.description);
      expect(g.items.map((i) => i.seq)).toEqual(check.findings.filter((f) => f.rule === g.rule && f.severity === g.severity).map((f) => f.seq));
    }
  });

  it('skips recorded finding records and lists ERROR and DROPPED markers, not the ones a rule reports', () => {
    const b = new SampleBuilder();
    b.message({ rev: 'r4', dir: 'driver-to-device', init: { name: 'GET_DEVICE_STATUS', kind: 'request', devNum: 1, token: 0 } }); // 0: token 0
    b.finding('request-token-nonzero', 'warning', 0, 1, 'recorded live'); // 1: not counted again
    b.marker('error', 'link lost: the peer closed the doorbell socket'); // 2
    b.marker('error', 'queue peer-index at bus byte 64: producer index 9 beyond 0..7'); // 3: rule bus-queue-index
    b.marker('dropped', '12 records lost while the trace sink failed'); // 4
    const r = report(b.records);
    expect(r.groups.map((g) => [g.severity, g.rule, g.count, g.items.map((i) => i.seq)])).toEqual([
      ['error', 'bus-queue-index', 1, [3]],
      ['error', 'session-error', 1, [2]],
      ['warning', 'records-dropped', 1, [4]],
      ['warning', 'request-token-nonzero', 1, [0]],
    ]);
    expect(r.groups[1]!.items[0]!.message).toBe('link lost: the peer closed the doorbell socket');
    expect(r.groups[0]!.docs).toBe('docs/amp-bus.md §4.1, §4.2');
    expect(r.checked).toBe(4);
  });

  it('turns a known peer deviation into info and keeps only the first items of a big group', () => {
    const b = new SampleBuilder();
    const n = EXPERT_KEPT + 20;
    for (let i = 0; i < n; i++) {
      b.message({ rev: 'r4', dir: 'driver-to-device', init: { name: 'PING', kind: 'request', bus: true, token: 1 + i, fields: { data: 1 } } });
      // QEMU answers bus messages with token 0: the recorder pairs them by (dev_num, msg_id).
      const r = b.message({ rev: 'r4', dir: 'device-to-driver', init: { name: 'PING', kind: 'response', bus: true, token: 1 + i, fields: { data: 1 } } });
      r.token = 0;
      r.flags |= RECORD_FLAGS.tokenFallback;
    }
    const group = (r: ReturnType<typeof report>) => r.groups.find((g) => g.rule === 'R4-token-echo')!;
    const plain = group(report(b.records));
    expect([plain.severity, plain.count, plain.items.length]).toEqual(['error', n, EXPERT_KEPT]);
    expect(plain.items[0]!.seq).toBe(1);
    const quirk = report(b.records, 'qemu');
    expect([group(quirk).severity, group(quirk).count, quirk.errors]).toEqual(['info', n, 0]);
    expect(group(quirk).items[0]!.message).toMatch(/known qemu deviation/);
  });
});

describe('ruleDocs', () => {
  it('names the docs page of each rule section and leaves outside references as written', () => {
    expect(ruleDocs('virtio-msg §6.7, §17.1')).toBe('docs/protocol.md §6.7, §17.1');
    expect(ruleDocs('amp-bus §3.1')).toBe('docs/amp-bus.md §3.1');
    expect(ruleDocs('virtio 1.x §2.7 (split virtqueue)')).toBe('virtio 1.x §2.7 (split virtqueue)');
    for (const r of RULES) expect(ruleDocs(r.section)).toMatch(/^(docs\/(protocol|amp-bus)\.md §|virtio 1\.x)/);
  });
});

/**
 * Recording throughput: 10,000,000 messages of a running bus (events, and requests with their
 * responses whose tokens run through 4096 values, so half the messages are new bytes the
 * recorder must decode; all R4) through the Recorder into a disk journal, yielding to the event loop
 * between batches so the 100 ms flush timer runs as in a live session. Recorded twice: with the
 * conformance rules live, as a capture records (the target), and without, to give their cost.
 * Targets: ≥ 1,000,000 messages/s sustained with the rules, RSS under 300 MB throughout. The
 * rules' cost is also given per CPU second, which a machine busy with other work skews less.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { journalBytes, openJournal } from '../../main/host/trace/journal';

import { benchRecorder, workingDevice } from './busTraffic';

const TOTAL = 10_000_000;
const BATCH = 20_000;

interface Pass {
  perSecond: number;
  perCpuSecond: number;
  seconds: number;
  peakRss: number;
  journalBytes: number;
  readBack: number;
}

async function pass(rules: boolean): Promise<Pass> {
  const dir = join(mkdtempSync(join(tmpdir(), 'amp-bench-rec-')), 'cap');
  const msgs = workingDevice(4096);
  const { journal, rec } = benchRecorder(dir, rules);
  let peakRss = process.memoryUsage().rss;
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < TOTAL; ) {
    const end = Math.min(TOTAL, i + BATCH);
    for (; i < end; i++) {
      const m = msgs[i % msgs.length]!;
      rec.message(m[0], m[1]);
    }
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    await new Promise((r) => setImmediate(r));
  }
  rec.close();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  journal.close(0n);
  const bytes = journalBytes(dir);
  const opened = openJournal(dir);
  const readBack = opened.ok ? opened.value.count : -1;
  rmSync(join(dir, '..'), { recursive: true, force: true });
  return { perSecond: Math.round(TOTAL / seconds), perCpuSecond: Math.round(TOTAL / ((cpu.user + cpu.system) / 1e6)), seconds, peakRss, journalBytes: bytes, readBack };
}

export async function run(): Promise<Record<string, number | string>> {
  const live = await pass(true);
  const bare = await pass(false);
  return {
    messages: TOTAL,
    seconds: Number(live.seconds.toFixed(2)),
    recordPerSecond: live.perSecond,
    recordPerSecondWithoutRules: bare.perSecond,
    recordPerCpuSecond: live.perCpuSecond,
    recordPerCpuSecondWithoutRules: bare.perCpuSecond,
    rulesCostPercent: Number((100 * (1 - live.perCpuSecond / bare.perCpuSecond)).toFixed(1)),
    peakRssMB: Math.round(Math.max(live.peakRss, bare.peakRss) / 2 ** 20),
    journalMB: Math.round(live.journalBytes / 1e6),
    readBack: live.readBack,
  };
}

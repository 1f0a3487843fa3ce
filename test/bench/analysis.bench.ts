/**
 * The analysis views against issue 13's targets:
 * - file: a 20,000,000-record journal capture (a device at work, analysisCapture.ts) written as a
 *   session writes it, its analysis made as it grows and saved when it closes (saveMs: what the
 *   close adds), then opened in a child process whose peak RSS the kernel counts; the Statistics
 *   view's fill (trace.stats and the transaction index for workload latency) ≤ 3 s, the Expert
 *   view's fill ≤ 3 s, a transaction page of 100 rows anywhere in it ≤ 100 ms. The *PassMs
 *   numbers are the same views filled by the pass a capture without a saved analysis runs. A
 *   Timeline zoom step (its three event lanes, from the event index) ≤ 100 ms; zoomStepScanMs is
 *   the whole-capture step as a filter scan reads it.
 * - live: the Transactions view open in Debian Chromium on its last page while the trace grows at
 *   50,000 messages/s; frame time p95 ≤ 33 ms. As in traceUi.bench.ts the backend is a stand-in
 *   that makes transactions from their index and announces 1,000 new records every 20 ms, so the
 *   page's own cost is measured.
 * The journal is written under os.tmpdir() a chunk at a time and deleted.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { TraceStore } from '../../main/host/service/traceStore';
import { ANALYSIS_FILE, writeAnalysisFile } from '../../main/host/trace/analysisFile';
import { JournalWriter } from '../../main/host/trace/journal';
import { startWebServer } from '../../main/host/web/server';
import type { WorkbenchBackend } from '../../src/api/rpc';
import type { TraceRow, TransactionRow, WorkbenchEvent } from '../../src/api/workbench';
import { launchBrowser, RENDERER_DIR, REPO } from '../e2e/harness';
import { sampleMeta } from '../unit/trace/sample';
import { workRecords } from './analysisCapture';
import { childRun } from './childRun';
import { frameTimes, percentile } from './traceUi.bench';

const RECORDS = 20_000_000;
const PER_CHUNK = 10_000;
const RATE = 50_000;
const TICK_MS = 20;
const MEASURE_MS = 5000;
/** Records per request transaction in the stand-in (a request and its response). */
const PER_REQUEST = 2;

function row(seq: number, response: boolean): TraceRow {
  return {
    index: seq,
    seq,
    timeNs: seq * 20_000,
    kind: 'message',
    dir: response ? 'device-to-driver' : 'driver-to-device',
    dev: 1,
    channel: response ? 1 : 0,
    name: 'GET_CONFIG',
    token: (seq >> 1) & 0xffff,
    size: response ? 20 : 16,
    summary: response ? 'generation=1 offset=0 length=4 data=01020304' : 'offset=0 length=4',
    latencyNs: response ? 20_000 : null,
    pairSeq: response ? seq - 1 : null,
    problems: [],
  };
}

/** Request transactions growing with a trace of RATE records a second. */
function growingBackend(): WorkbenchBackend & { stop(): void } {
  const listeners = new Set<(e: WorkbenchEvent) => void>();
  let records = 0;
  const transaction = (i: number): TransactionRow => ({
    kind: 'request',
    name: 'GET_CONFIG',
    dev: 1,
    request: row(PER_REQUEST * i, false),
    end: row(PER_REQUEST * i + 1, true),
    outcome: 'answered',
    latencyNs: 20_000,
  });
  const timer = setInterval(() => {
    records += (RATE * TICK_MS) / 1000;
    for (const l of listeners) l({ event: 'trace.appended', data: { count: (RATE * TICK_MS) / 1000, total: records } });
  }, TICK_MS);
  return {
    async handle(method, params) {
      const p = (params ?? {}) as { from?: number; count?: number };
      if (method === 'trace.transactions') {
        const total = Math.floor(records / PER_REQUEST);
        const n = p.count ?? 100;
        const from = p.from ?? Math.floor(Math.max(0, total - 1) / n) * n;
        const rows: TransactionRow[] = [];
        for (let i = from; i < Math.min(total, from + n); i++) rows.push(transaction(i));
        return { ok: true, result: { total, from, rows, queueLatency: [] } };
      }
      if (method === 'session.state') return { ok: true, result: { connected: true, board: 'bench', link: 'bench', capture: null, notices: [], findings: [], devices: [] } };
      return { ok: false, error: { code: 'no-session', message: `${String(method)}: not part of this benchmark` } };
    },
    onEvent(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    stop: () => clearInterval(timer),
  };
}

async function live(): Promise<Record<string, number>> {
  execFileSync(process.execPath, [join(REPO, 'node_modules/vite/bin/vite.js'), 'build', '-c', 'renderer/vite.config.ts', '--logLevel', 'warn'], { cwd: REPO, stdio: 'inherit' });
  const browser = await launchBrowser();
  const backend = growingBackend();
  const server = await startWebServer({ backend, staticDir: RENDERER_DIR, log: () => undefined });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(server.url);
    await page.getByRole('tab', { name: 'Transactions' }).click();
    await page.locator('table[aria-label="request transactions"] tbody tr').first().waitFor();
    const before = await page.getByTestId('transactions-range').textContent();
    const frames = await frameTimes(page, MEASURE_MS);
    const after = await page.getByTestId('transactions-range').textContent();
    if (before === after) throw new Error(`the Transactions view did not follow the trace: ${after}`);
    backend.stop();
    await page.waitForTimeout(500);
    const idle = await frameTimes(page, MEASURE_MS);
    await page.close();
    return {
      liveMessagesPerSecond: RATE,
      liveFrames: frames.length,
      liveFrameP50Ms: Number(percentile(frames, 50).toFixed(1)),
      liveFrameP95Ms: Number(percentile(frames, 95).toFixed(1)),
      liveFrameMaxMs: Number(Math.max(...frames).toFixed(1)),
      idleFrameP95Ms: Number(percentile(idle, 95).toFixed(1)),
    };
  } finally {
    backend.stop();
    await server.close();
    await browser.close();
  }
}

function file(): Record<string, number> {
  const root = mkdtempSync(join(tmpdir(), 'amp-analysis-bench-'));
  try {
    const dir = join(root, 'capture');
    const t0 = performance.now();
    const w = new JournalWriter({ dir, meta: sampleMeta() });
    // The session's store, its analysis brought up to date as the views would ask.
    const session = new TraceStore(w.source);
    for (let i = 0; i < RECORDS; i += PER_CHUNK) {
      w.writeChunk(workRecords(i, PER_CHUNK), PER_CHUNK, i);
      session.transactions();
    }
    w.close(1n);
    const generateMs = Math.round(performance.now() - t0);
    const t1 = performance.now();
    const saved = session.savedAnalysis();
    if (saved === null) throw new Error('the session store has no analysis to save');
    const written = writeAnalysisFile(dir, saved);
    if (!written.ok) throw new Error(written.error);
    const saveMs = Math.round(performance.now() - t1);
    const analysisMB = Math.round(statSync(join(dir, ANALYSIS_FILE)).size / 1e5) / 10;
    const runTs = join(__dirname, '../../main/host/cli/run-ts.cjs');
    const child = childRun(process.execPath, [runTs, join(__dirname, 'analysis.child.ts'), dir]);
    return { records: RECORDS, generateMs, saveMs, analysisMB, ...(JSON.parse(child.stdout) as Record<string, number>), peakRssMB: child.peakRssMB };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export async function run(): Promise<Record<string, number | string>> {
  const only = process.env['ANALYSIS_BENCH'];
  return { ...(only === 'live' ? {} : file()), ...(only === 'file' ? {} : await live()) };
}

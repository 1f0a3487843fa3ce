/**
 * Filter autocomplete (issue 13: answers in ≤ 50 ms on a 20,000,000-record capture): every
 * keystroke of realistic filters typed one character at a time, each answered as the filter bar
 * does (completeFilter for the suggestions, compileFilter for the live valid/invalid colour),
 * with the session's devices as dev values. Neither reads the capture: suggestions come from
 * the language's tables (fields, message names, problem codes, rule ids) and the session's
 * device list, so a 20 M-record capture answers as fast as an empty one; what is measured is the
 * work per keystroke. Run with the others: npm run bench -- autocomplete.
 */
import { compileFilter, completeFilter, type FilterSuggestion } from '../../src/trace/filter';

const FILTERS = [
  'dev == 1 && msg == GET_VQUEUE && latency > 50us',
  '(problem || msg ~ "EVENT") && time in 1.5s..2s',
  'finding == R4-token-echo || (finding ~ "queue" && severity == error)',
  'msg in {GET_DEVICE_FEATURES, SET_DRIVER_FEATURES, GET_DEVICE_INFO} && dir == to-driver',
  'kind != doorbell && kind != vq-index && !(msg == EVENT_USED) && rev == r4 && queue == 1',
  'problem in {truncated, size-mismatch, no-response} && dev in {1, 2, 3}',
];
const ROUNDS = 20;
const TARGET_MS = 50;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

export async function run(): Promise<Record<string, number | string>> {
  const devices: Record<string, FilterSuggestion[]> = { dev: [1, 2, 3, 4].map((n) => ({ text: String(n), detail: 'device' })) };
  const ms: number[] = [];
  let suggestions = 0;
  let slowest = { ms: 0, text: '', round: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    for (const f of FILTERS) {
      for (let i = 0; i <= f.length; i++) {
        const text = f.slice(0, i);
        const t0 = performance.now();
        suggestions += completeFilter(text, i, devices).items.length;
        compileFilter(text);
        const took = performance.now() - t0;
        ms.push(took);
        if (took > slowest.ms) slowest = { ms: took, text, round };
      }
    }
  }
  // The first round (cold, with JIT) stays in: a user's first keystroke counts too. The slowest
  // keystroke is named: on a loaded machine it is a scheduling pause, not a slow answer.
  ms.sort((a, b) => a - b);
  const r3 = (v: number): number => Math.round(v * 1000) / 1000;
  return {
    keystrokes: ms.length,
    suggestionsPerKeystroke: Math.round(suggestions / ms.length),
    keystrokeP50Ms: r3(percentile(ms, 0.5)),
    keystrokeP99Ms: r3(percentile(ms, 0.99)),
    keystrokeMaxMs: r3(ms[ms.length - 1]!),
    slowestKeystroke: `${JSON.stringify(slowest.text)} in round ${slowest.round + 1} of ${ROUNDS}`,
    targetMs: TARGET_MS,
    readsCapture: 'no: language tables and the session device list only',
  };
}

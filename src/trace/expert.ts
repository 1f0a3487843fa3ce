/**
 * The Expert view's content (Wireshark's Expert Information): every conformance finding and every
 * session error in a capture, grouped by severity and rule, each item naming the record to jump
 * to. Findings are derived again by the one evaluator (conformance.ts), as `amp-workbench check`
 * does, so a capture recorded before a rule existed, an imported log, or a rule the live recorder
 * stopped recording after its limit is counted in full; the finding records already in the
 * capture are skipped, never counted twice. Session errors are the recorder's ERROR and DROPPED
 * markers that no rule reports.
 *
 * Built record by record in capture order (a 20 M-record capture in one streaming pass, a live
 * one as it grows). Memory: the evaluator's state, a count per group and its first KEPT items.
 */
import { ConformanceEvaluator, ruleDocs, RULES, SEVERITIES, type EvaluatorOptions, type Finding, type Severity } from './conformance';
import { MARKER_KINDS, NO_DEV, RECORD_KINDS, type RecordView } from './record';

const KIND_FINDING = RECORD_KINDS.indexOf('finding');
const KIND_MARKER = RECORD_KINDS.indexOf('marker');
const utf8 = new TextDecoder();

/** Session events the Expert view lists beside the rules: markers the recorder writes when something went wrong. */
export const SESSION_EVENTS = [
  { id: 'session-error', marker: 'error', severity: 'error', description: 'the session recorded an error (link, queue or endpoint)' },
  { id: 'records-dropped', marker: 'dropped', severity: 'warning', description: 'records were lost: the capture has a gap' },
] as const satisfies readonly { id: string; marker: (typeof MARKER_KINDS)[number]; severity: Severity; description: string }[];

const EVENT_OF_MARKER = new Int8Array(MARKER_KINDS.length).fill(-1);
SESSION_EVENTS.forEach((e, i) => (EVENT_OF_MARKER[MARKER_KINDS.indexOf(e.marker)] = i));
/** The conformance ERROR markers a rule already reports (conformance.ts errorMarker). */
const RULE_MARKER = /^queue peer-index at bus byte \d+: /;

/** Items kept per group: the first ones, each a jump target; the rest are counted. */
export const EXPERT_KEPT = 500;

export interface ExpertItem {
  /** The record to jump to (the offending record). */
  seq: number;
  dev: number | null;
  message: string;
}

export interface ExpertGroup {
  /** A RULES id, or a SESSION_EVENTS id. */
  rule: string;
  severity: Severity;
  description: string;
  /** Where the rule is written down: a docs page and section. */
  docs: string;
  count: number;
  /** The first EXPERT_KEPT items, in record order. */
  items: ExpertItem[];
}

export interface ExpertReport {
  /** Records evaluated (finding records the capture holds are not: the rules are re-run). */
  checked: number;
  errors: number;
  warnings: number;
  infos: number;
  /** Errors first, then warnings, then infos; most items first within a severity. */
  groups: ExpertGroup[];
}

export class ExpertAccumulator {
  private readonly evaluator: ConformanceEvaluator;
  private readonly groups = new Map<string, ExpertGroup>();
  private checked = 0;

  constructor(opts: Pick<EvaluatorOptions, 'peer'> = {}) {
    this.evaluator = new ConformanceEvaluator(opts);
  }

  /** Adds one record (records in capture order). */
  add(v: RecordView): void {
    const kind = v.kindCode;
    if (kind === KIND_FINDING) return;
    this.checked++;
    for (const f of this.evaluator.record(v)) this.finding(f);
    if (kind === KIND_MARKER) {
      const e = v.msgId < EVENT_OF_MARKER.length ? EVENT_OF_MARKER[v.msgId]! : -1;
      if (e < 0) return;
      const text = utf8.decode(v.data());
      if (RULE_MARKER.test(text)) return;
      const ev = SESSION_EVENTS[e]!;
      const dev = v.devNum;
      this.item(`${ev.severity} ${ev.id}`, ev.id, ev.severity, ev.description, 'docs/formats.md §6', { seq: v.seq, dev: dev === NO_DEV ? null : dev, message: text });
    }
  }

  private finding(f: Finding): void {
    const rule = RULES.find((r) => r.id === f.rule)!;
    this.item(`${f.severity} ${f.rule}`, f.rule, f.severity, rule.description, ruleDocs(f.section), { seq: f.seq, dev: f.devNum, message: f.message });
  }

  private item(key: string, rule: string, severity: Severity, description: string, docs: string, item: ExpertItem): void {
    let g = this.groups.get(key);
    if (g === undefined) this.groups.set(key, (g = { rule, severity, description, docs, count: 0, items: [] }));
    g.count++;
    if (g.items.length < EXPERT_KEPT) g.items.push(item);
  }

  /** The report so far (the accumulator keeps accumulating); items are copied. */
  result(): ExpertReport {
    const groups = [...this.groups.values()]
      .sort((a, b) => SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) || b.count - a.count || (a.rule < b.rule ? -1 : 1))
      .map((g) => ({ ...g, items: [...g.items] }));
    const total = (s: Severity): number => groups.reduce((n, g) => n + (g.severity === s ? g.count : 0), 0);
    return { checked: this.checked, errors: total('error'), warnings: total('warning'), infos: total('info'), groups };
  }
}

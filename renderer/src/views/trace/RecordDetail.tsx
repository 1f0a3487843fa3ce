/**
 * The detail pane of one record (trace.record): the decoded field tree and a hex dump of the
 * record's bytes. Field offsets count from the first header byte (recordFieldSchema), so hovering
 * a field lights its bytes and hovering a byte lights the field that holds it. Problems found in
 * the bytes carry an offset and a reason; problems the endpoint or recorder noted carry a code only.
 */
import { memo, useEffect, useState } from 'react';

import type { RecordDetail as Detail, WorkbenchApi, WorkbenchError } from '../../../../src/api/workbench';
import { formatDir, formatNs, formatTimeNs, formatValue, formatWallDate } from './traceFormat';
import { responseOf } from './traceSearch';
import { hexDump } from '../devices/bytes';

const BYTES_PER_LINE = 16;

type Field = Detail['fields'][number];
interface Span {
  from: number;
  to: number;
  /** The field lit, if the span is one. */
  field: number | null;
}

/** The narrowest field holding byte `offset`, so a byte inside a sub-field lights that one. */
function fieldAt(fields: readonly Field[], offset: number): number | null {
  let best: number | null = null;
  fields.forEach((f, i) => {
    if (f.size > 0 && offset >= f.offset && offset < f.offset + f.size && (best === null || f.size < fields[best]!.size)) best = i;
  });
  return best;
}

function bytesOf(hex: string): number[] {
  return Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
}

/** A byte as the ASCII column shows it: printable ASCII as itself, anything else as a dot (as Wireshark does). */
export function asciiOf(b: number): string {
  return b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
}

function HexDump({ bytes, lit, problems, onHover }: { bytes: number[]; lit: Span | null; problems: ReadonlySet<number>; onHover(offset: number | null): void }) {
  const lines: number[] = [];
  for (let o = 0; o < bytes.length; o += BYTES_PER_LINE) lines.push(o);
  const cls = (at: number, base: string): string => {
    const c = [base];
    if (lit && at >= lit.from && at < lit.to) c.push('lit');
    if (problems.has(at)) c.push('bad');
    return c.join(' ');
  };
  return (
    <div className="trace-hex" aria-label="bytes" onMouseLeave={() => onHover(null)}>
      {lines.map((o) => {
        const line = bytes.slice(o, o + BYTES_PER_LINE);
        return (
          <div key={o} className="trace-hex-line">
            <span className="trace-hex-offset">{o.toString(16).padStart(4, '0')}</span>
            <span className="trace-hex-bytes">
              {line.map((b, i) => (
                <span key={o + i} className={cls(o + i, 'trace-hex-byte')} data-offset={o + i} onMouseEnter={() => onHover(o + i)}>
                  {b.toString(16).padStart(2, '0')}
                </span>
              ))}
            </span>
            <span className="trace-hex-ascii" aria-label={`ASCII of bytes ${o}–${o + line.length - 1}`}>
              {line.map((b, i) => (
                <span key={o + i} className={cls(o + i, 'trace-hex-char')} data-ascii-offset={o + i} onMouseEnter={() => onHover(o + i)}>
                  {asciiOf(b)}
                </span>
              ))}
            </span>
          </div>
        );
      })}
    </div>
  );
}

interface RecordDetailProps {
  api: WorkbenchApi;
  seq: number;
  /** Select and show another record (the request of a response, a response of a request). */
  onJump(seq: number): void;
  onClose(): void;
}

/** Memoized: the live trace re-renders the view around it many times a second. */
export const RecordDetail = memo(function RecordDetail({ api, seq, onJump, onClose }: RecordDetailProps) {
  const [detail, setDetail] = useState<Detail | null>(null);
  const [error, setError] = useState<WorkbenchError | null>(null);
  const [lit, setLit] = useState<Span | null>(null);
  const [note, setNote] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    setLit(null);
    setNote(null);
    void api.call('trace.record', { seq }).then((r) => {
      if (!live) return;
      setDetail(r.ok ? r.result : null);
      setError(r.ok ? null : r.error);
    });
    return () => {
      live = false;
    };
  }, [api, seq]);

  if (error) {
    return (
      <aside className="trace-detail" aria-label="record detail">
        <p role="alert">{error.message}</p>
      </aside>
    );
  }
  if (!detail || detail.row.seq !== seq) return <aside className="trace-detail" aria-label="record detail" aria-busy="true" />;

  const { row, fields } = detail;
  const bytes = bytesOf(detail.data);
  const problemBytes = new Set(detail.problems.flatMap((p) => (p.offset === null ? [] : [p.offset])));
  const located = new Set(detail.problems.map((p) => p.code));
  const recordedOnly = row.problems.filter((c) => !located.has(c));
  const isRequest = detail.flags.includes('request');
  const hasRequest = row.pairSeq !== null;

  const findResponse = async (): Promise<void> => {
    const response = await responseOf(api, row);
    if (response) onJump(response.seq);
    else setNote('No response to this request in the trace (yet).');
  };

  const copyHex = async (): Promise<void> => {
    const text = bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');
    try {
      await navigator.clipboard.writeText(text);
      setNote(`Copied ${bytes.length} bytes as hex.`);
    } catch {
      // No clipboard (an insecure web origin, a denied permission).
      setNote('The browser refused the clipboard.');
    }
  };

  const hoverByte = (offset: number | null): void => {
    if (offset === null) return setLit(null);
    const f = fieldAt(fields, offset);
    setLit(f === null ? { from: offset, to: offset + 1, field: null } : { from: fields[f]!.offset, to: fields[f]!.offset + fields[f]!.size, field: f });
  };

  const part = (name: Field['part']) => {
    const list = fields.map((f, i) => [f, i] as const).filter(([f]) => f.part === name);
    if (list.length === 0) return null;
    return (
      <details open className="trace-fields">
        <summary>{name}</summary>
        <ul role="tree">
          {list.map(([f, i]) => (
            <li
              key={i}
              role="treeitem"
              aria-selected={lit?.field === i}
              className={lit?.field === i ? 'lit' : undefined}
              onMouseEnter={() => setLit({ from: f.offset, to: f.offset + f.size, field: i })}
              onMouseLeave={() => setLit(null)}
            >
              <span className="trace-field-name">{f.name}</span>
              <span className="trace-field-value">
                {formatValue(f.value)}
                {f.meaning !== undefined ? <span className="trace-field-meaning"> ({f.meaning})</span> : null}
              </span>
              <span className="trace-field-where">{f.size > 0 ? `@${f.offset}+${f.size}` : 'absent'}</span>
            </li>
          ))}
        </ul>
      </details>
    );
  };

  return (
    <aside className={row.problems.length > 0 ? 'trace-detail problem' : 'trace-detail'} aria-label="record detail">
      <header>
        <h3>
          {row.name} <span className="trace-detail-seq">#{row.seq}</span>
        </h3>
        <button type="button" className="trace-detail-close" aria-label="close detail" onClick={onClose}>
          ×
        </button>
      </header>
      <dl className="trace-detail-facts">
        <dt>time</dt>
        <dd>{formatTimeNs(row.timeNs)} s from the capture start</dd>
        <dt>wall time</dt>
        <dd>{formatWallDate(BigInt(detail.wallNs))}</dd>
        {detail.revision !== null ? (
          <>
            <dt>revision</dt>
            <dd>{detail.revision}</dd>
          </>
        ) : null}
        {row.dir ? (
          <>
            <dt>direction</dt>
            <dd>{formatDir(row.dir)}</dd>
          </>
        ) : null}
        {row.dev !== null ? (
          <>
            <dt>device</dt>
            <dd>{row.dev}</dd>
          </>
        ) : null}
        {row.kind === 'message' ? (
          <>
            <dt>token</dt>
            <dd>{row.token}</dd>
            <dt>bus queue</dt>
            <dd>{row.channel}</dd>
            <dt>size</dt>
            <dd>{row.size} bytes</dd>
          </>
        ) : null}
        {row.kind === 'vq-index' ? (
          <>
            <dt>virtqueue</dt>
            <dd>{row.channel}</dd>
          </>
        ) : null}
        {detail.unheld !== null ? (
          <>
            <dt>not in the log</dt>
            <dd>{detail.unheld}</dd>
          </>
        ) : null}
        {row.latencyNs !== null ? (
          <>
            <dt>latency</dt>
            <dd>{formatNs(row.latencyNs)}</dd>
          </>
        ) : null}
        {detail.flags.length > 0 ? (
          <>
            <dt>flags</dt>
            <dd>{detail.flags.join(', ')}</dd>
          </>
        ) : null}
      </dl>
      <div className="trace-detail-nav">
        {hasRequest ? (
          <button type="button" onClick={() => onJump(row.pairSeq!)}>
            ← request #{row.pairSeq}
          </button>
        ) : null}
        {isRequest ? (
          <button type="button" onClick={() => void findResponse()}>
            response →
          </button>
        ) : null}
        {note ? <span className="trace-detail-note">{note}</span> : null}
      </div>
      {detail.problems.length > 0 || recordedOnly.length > 0 ? (
        <ul className="trace-problems" aria-label="problems">
          {detail.problems.map((p, i) =>
            p.offset === null ? (
              <li key={i}>
                <b>{p.code}</b>: {p.reason} (noted by the bus endpoint)
              </li>
            ) : (
              <li key={i} onMouseEnter={() => setLit({ from: p.offset!, to: p.offset! + 1, field: null })} onMouseLeave={() => setLit(null)}>
                <b>{p.code}</b> at byte {p.offset}: {p.reason}
              </li>
            ),
          )}
          {recordedOnly.map((c) => (
            <li key={c}>
              <b>{c}</b> (noted when recorded)
            </li>
          ))}
        </ul>
      ) : null}
      {detail.text !== null ? <pre className="trace-detail-text">{detail.text}</pre> : null}
      {detail.vqIndex ? (
        <p className="trace-detail-vq">
          avail.idx {detail.vqIndex.availIdx}, used.idx {detail.vqIndex.usedIdx}, last seen {detail.vqIndex.lastSeenUsed}, in flight {detail.vqIndex.inFlight}
        </p>
      ) : null}
      {detail.buffer ? (
        <div className="trace-detail-buffer">
          <p>
            {detail.buffer.toDevice ? 'published' : 'used'}, head {detail.buffer.head}: {detail.buffer.length} bytes
            {detail.buffer.bytes.length / 2 < detail.buffer.length ? ` (first ${detail.buffer.bytes.length / 2} kept)` : ''}
          </p>
          {detail.buffer.bytes.length > 0 ? <pre aria-label="buffer bytes">{hexDump(detail.buffer.bytes)}</pre> : null}
        </div>
      ) : null}
      {part('header')}
      {part('payload')}
      {bytes.length > 0 && row.kind === 'message' ? (
        <>
          <div className="trace-hex-head">
            <span>bytes</span>
            <button type="button" onClick={() => void copyHex()}>
              Copy as hex
            </button>
          </div>
          <HexDump bytes={bytes} lit={lit} problems={problemBytes} onHover={hoverByte} />
        </>
      ) : null}
    </aside>
  );
});

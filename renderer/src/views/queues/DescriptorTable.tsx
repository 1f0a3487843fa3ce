/**
 * A virtqueue's descriptor table (virtio split ring, §2.7.5): virtualized, since a queue may have
 * up to 32768 descriptors; each row says which in-flight chain it belongs to. Descriptors the
 * driver never wrote (all zero) are folded into one row per run, unless all are asked for; a
 * row's "bytes" shows the buffer it points at.
 */
import { useVirtualizer } from '@tanstack/react-virtual';
import { useMemo, useRef } from 'react';

import type { WorkbenchResult } from '../../../../src/api/workbench';

type Ring = WorkbenchResult<'queue.inspect'>['ring'];
type Descriptor = Ring['descriptors'][number];

const ROW_H = 22;

/** Descriptor index → the head of the chain it is part of (chains available and not yet used). */
export function chainOf(ring: Ring): Map<number, number> {
  const m = new Map<number, number>();
  for (const c of ring.chains) for (const d of c.descriptors) m.set(d, c.head);
  return m;
}

export type DescriptorItem = { kind: 'desc'; desc: Descriptor } | { kind: 'empty'; from: number; to: number };

/** A descriptor the driver has written: any field set, or part of a chain the view shows. */
function written(d: Descriptor): boolean {
  return d.len !== 0 || d.flags !== '' || d.next !== 0 || !/^0x0*$/.test(d.addr);
}

/**
 * The rows to show: every descriptor with `all`, else the written ones and those in `keep`, with
 * each run of two or more all-zero descriptors as one "empty" row.
 */
export function descriptorRows(descriptors: readonly Descriptor[], keep: ReadonlySet<number>, all: boolean): DescriptorItem[] {
  if (all) return descriptors.map((desc) => ({ kind: 'desc', desc }));
  const out: DescriptorItem[] = [];
  let run: Descriptor[] = [];
  const flush = (): void => {
    if (run.length === 1) out.push({ kind: 'desc', desc: run[0]! });
    else if (run.length > 1) out.push({ kind: 'empty', from: run[0]!.index, to: run[run.length - 1]!.index });
    run = [];
  };
  for (const d of descriptors) {
    if (written(d) || keep.has(d.index)) {
      flush();
      out.push({ kind: 'desc', desc: d });
    } else run.push(d);
  }
  flush();
  return out;
}

export function DescriptorTable({ ring, all, selected, onBytes }: { ring: Ring; all: boolean; selected: number | null; onBytes: (index: number) => void }) {
  const scroller = useRef<HTMLDivElement>(null);
  const chains = useMemo(() => chainOf(ring), [ring]);
  const items = useMemo(() => descriptorRows(ring.descriptors, new Set(chains.keys()), all), [ring, chains, all]);
  const rows = useVirtualizer({ count: items.length, getScrollElement: () => scroller.current, estimateSize: () => ROW_H, overscan: 12 });
  return (
    <div className="desc-table" role="table" aria-label="Descriptor table">
      <div className="desc-row desc-head" role="row">
        <span role="columnheader">#</span>
        <span role="columnheader">addr</span>
        <span role="columnheader">len</span>
        <span role="columnheader">flags</span>
        <span role="columnheader">next</span>
        <span role="columnheader">chain</span>
        <span role="columnheader">buffer</span>
      </div>
      <div ref={scroller} className="desc-scroll" style={{ height: Math.min(300, Math.max(1, items.length) * ROW_H + 2) }}>
        <div style={{ height: rows.getTotalSize(), position: 'relative' }}>
          {rows.getVirtualItems().map((v) => {
            const item = items[v.index]!;
            const style = { position: 'absolute', top: 0, left: 0, right: 0, height: ROW_H, transform: `translateY(${v.start}px)` } as const;
            if (item.kind === 'empty') {
              return (
                <div key={`empty-${item.from}`} role="row" className="desc-row desc-empty" data-empty={`${item.from}-${item.to}`} style={style}>
                  <span role="cell" className="desc-empty-text">
                    {item.from}–{item.to}: {item.to - item.from + 1} descriptors never written (all zero)
                  </span>
                </div>
              );
            }
            const d = item.desc;
            const head = chains.get(d.index);
            const cls = ['desc-row', head !== undefined ? 'in-chain' : '', selected === d.index ? 'selected' : ''].filter(Boolean).join(' ');
            return (
              <div key={d.index} role="row" data-desc={d.index} className={cls} style={style}>
                <span role="cell">{d.index}</span>
                <span role="cell">{d.addr}</span>
                <span role="cell">{d.len}</span>
                <span role="cell">{d.flags || '—'}</span>
                <span role="cell">{d.flags.includes('NEXT') ? d.next : ''}</span>
                <span role="cell">{head !== undefined ? `head ${head}` : ''}</span>
                <span role="cell">
                  {d.len > 0 && (
                    <button className="link-button" onClick={() => onBytes(d.index)} aria-label={`Bytes of descriptor ${d.index}`} aria-pressed={selected === d.index}>
                      bytes
                    </button>
                  )}
                </span>
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}

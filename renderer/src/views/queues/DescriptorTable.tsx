/**
 * A virtqueue's descriptor table (virtio split ring, §2.7.5): virtualized, since a queue may have
 * up to 32768 descriptors; each row says which in-flight chain it belongs to.
 */
import { useVirtualizer } from '@tanstack/react-virtual';
import { useMemo, useRef } from 'react';

import type { WorkbenchResult } from '../../../../src/api/workbench';

type Ring = WorkbenchResult<'queue.inspect'>['ring'];

const ROW_H = 22;

/** Descriptor index → the head of the chain it is part of (chains available and not yet used). */
export function chainOf(ring: Ring): Map<number, number> {
  const m = new Map<number, number>();
  for (const c of ring.chains) for (const d of c.descriptors) m.set(d, c.head);
  return m;
}

export function DescriptorTable({ ring }: { ring: Ring }) {
  const scroller = useRef<HTMLDivElement>(null);
  const chains = useMemo(() => chainOf(ring), [ring]);
  const rows = useVirtualizer({ count: ring.descriptors.length, getScrollElement: () => scroller.current, estimateSize: () => ROW_H, overscan: 12 });
  return (
    <div className="desc-table" role="table" aria-label="Descriptor table">
      <div className="desc-row desc-head" role="row">
        <span role="columnheader">#</span>
        <span role="columnheader">addr</span>
        <span role="columnheader">len</span>
        <span role="columnheader">flags</span>
        <span role="columnheader">next</span>
        <span role="columnheader">chain</span>
      </div>
      <div ref={scroller} className="desc-scroll">
        <div style={{ height: rows.getTotalSize(), position: 'relative' }}>
          {rows.getVirtualItems().map((v) => {
            const d = ring.descriptors[v.index]!;
            const head = chains.get(d.index);
            return (
              <div
                key={d.index}
                role="row"
                data-desc={d.index}
                className={head !== undefined ? 'desc-row in-chain' : 'desc-row'}
                style={{ position: 'absolute', top: 0, left: 0, right: 0, height: ROW_H, transform: `translateY(${v.start}px)` }}
              >
                <span role="cell">{d.index}</span>
                <span role="cell">{d.addr}</span>
                <span role="cell">{d.len}</span>
                <span role="cell">{d.flags || '—'}</span>
                <span role="cell">{d.flags.includes('NEXT') ? d.next : ''}</span>
                <span role="cell">{head !== undefined ? `head ${head}` : ''}</span>
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}

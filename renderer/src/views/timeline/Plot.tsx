/**
 * One uPlot chart (docs/stack.md §6 rule 5: uPlot, fed decimated buckets). Created when mounted (and
 * again when `options` changes identity), resized to its box, and given new data without being
 * rebuilt. uPlot draws on canvas; its stylesheet is a file (the CSP forbids inline styles).
 */
import { useEffect, useLayoutEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

interface PlotProps {
  options: Omit<uPlot.Options, 'width' | 'height'>;
  data: uPlot.AlignedData;
  width: number;
  height: number;
}

export function Plot({ options, data, width, height }: PlotProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(data);
  latest.current = data;

  useLayoutEffect(() => {
    if (!box.current) return;
    const u = new uPlot({ ...options, width: Math.max(1, width), height }, latest.current, box.current);
    plot.current = u;
    return () => {
      u.destroy();
      plot.current = null;
    };
    // Width and height changes resize the chart (below) instead of rebuilding it.
  }, [options]);

  useEffect(() => plot.current?.setData(data), [data]);
  useEffect(() => plot.current?.setSize({ width: Math.max(1, width), height }), [width, height]);

  return <div ref={box} className="timeline-plot" />;
}

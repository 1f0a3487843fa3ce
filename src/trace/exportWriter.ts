/**
 * What every streaming exporter (Perfetto, JSONL, CSV) shares: the begin/write/end shape, a
 * driver over record blocks, and a text buffer that hands out UTF-8 chunks of bounded size so
 * an export of 10 M records never holds the whole file.
 */
import type { RecordBlock } from './block';
import { forEachRecord } from './block';
import type { CaptureMeta } from './meta';
import type { RecordView } from './record';

/** The formats a capture exports to, one writer each (pcapng.ts, perfetto.ts, jsonl.ts, csv.ts). */
export const EXPORT_FORMATS = ['pcapng', 'perfetto', 'jsonl', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Where an exporter's output goes: the exported file's bytes, piece by piece, in order. */
export type ExportByteSink = (chunk: Uint8Array) => void;

export interface TraceWriter {
  begin(meta: CaptureMeta): void;
  /** One record; the view is only valid during the call. */
  write(view: RecordView): void;
  /** Flushes everything still buffered. */
  end(): void;
}

/** Runs `writer` over every record of `blocks`; returns the number of records written. */
export function exportRecords(writer: TraceWriter, meta: CaptureMeta, blocks: Iterable<RecordBlock>): number {
  let n = 0;
  writer.begin(meta);
  forEachRecord(blocks, (v) => {
    writer.write(v);
    n++;
  });
  writer.end();
  return n;
}

export const DEFAULT_CHUNK_CHARS = 1 << 16;

/** Collects text and emits it as UTF-8 chunks of about `chunkChars` characters. */
export class TextChunker {
  private text = '';
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly emit: ExportByteSink,
    private readonly chunkChars = DEFAULT_CHUNK_CHARS,
  ) {}

  push(s: string): void {
    this.text += s;
    if (this.text.length >= this.chunkChars) this.flush();
  }

  flush(): void {
    if (this.text.length === 0) return;
    this.emit(this.encoder.encode(this.text));
    this.text = '';
  }
}

/**
 * What one view asks of the shell: show a record in the Trace view, apply a filter there, or
 * open the export dialog on a scope (a filter, a time range, chosen records).
 */
export interface ExportScope {
  /** Shown in the dialog: "records matching …", "the visible range", "3 selected records". */
  label: string;
  filter?: string;
  fromNs?: number;
  toNs?: number;
  seqs?: number[];
}

export interface ViewNav {
  /** Switch to the Trace view with record `seq` selected and scrolled into view. */
  jump(seq: number): void;
  /** Switch to the Trace view with `filter` applied (follow a device, a token, a queue). */
  follow(filter: string): void;
  /** Open the export dialog on this scope. */
  exportScope(scope: ExportScope): void;
}

/** A request the Trace view carries out once per change of `nonce`. */
export interface TraceRequest {
  nonce: number;
  seq?: number;
  filter?: string;
}

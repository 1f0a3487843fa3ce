/**
 * pcapng export and import (block layouts: docs/formats.md §1, from draft-ietf-opsawg-pcapng).
 *
 * The file is one little-endian section: a Section Header Block whose comments carry the
 * CaptureMeta (`amp-trace-meta=<json>`) and the session notes, three Interface Description
 * Blocks (driver→device queue, device→driver queue, session: markers, conformance findings, vq
 * indexes, queue state),
 * then one Enhanced Packet Block per record. Packet data is link type 252 WIRESHARK_UPPER_PDU:
 * big-endian exported-PDU TLVs naming the `virtio_msg` dissector and the direction (optionally
 * the Info text), then the encoded trace record itself (record.ts) — so an import gives
 * back every record byte for byte, and the Lua dissector (dissector.ts) decodes it.
 *
 * The writer streams: records go in one at a time and bytes come out in chunks through a
 * callback. The reader takes the file's bytes and keeps every record before any damage.
 */
import type { RecordBlock } from './block';
import type { AbsentField } from './conformance';
import { describeRecord } from './describe';
import type { ExportByteSink, TraceWriter } from './exportWriter';
import { CAPTURE_FORMAT, metaFromJson, metaToJson, type CaptureMeta } from './meta';
import { kindCode, RECORD_HEADER_SIZE, readRecord, RecordView, soundRecordLength } from './record';
import { bytesSource, ignore, readWhole, StreamedSource, type ByteSource, type SourceOpen, type Walk, type WholeCapture } from './source';
import type { Result } from '../util/result';
import { hex32 } from '../util/hex';

export const LINKTYPE_WIRESHARK_UPPER_PDU = 252;
/** DLT_USER0: packet data is the bare record (the dissector claims it when its USER0 preference is on). */
export const LINKTYPE_USER0 = 147;
/** The Lua dissector's registered name (Proto("virtio_msg") registers it lower-cased). */
export const DISSECTOR_NAME = 'virtio_msg';
export const META_COMMENT_PREFIX = 'amp-trace-meta=';

const BLOCK_SHB = 0x0a0d0d0a;
const BLOCK_IDB = 0x00000001;
const BLOCK_EPB = 0x00000006;
const BLOCK_ISB = 0x00000005;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

const OPT_ENDOFOPT = 0;
const OPT_COMMENT = 1;
const SHB_HARDWARE = 2;
const SHB_OS = 3;
const SHB_USERAPPL = 4;
const IF_NAME = 2;
const IF_DESCRIPTION = 3;
const IF_TSRESOL = 9;
const EPB_FLAGS = 2;
const EPB_PACKETID = 5;

/** wiretap/exported_pdu_tlvs.h */
const EXP_PDU_TAG_END_OF_OPT = 0;
const EXP_PDU_TAG_DISSECTOR_NAME = 12;
const EXP_PDU_TAG_P2P_DIRECTION = 35;
const EXP_PDU_TAG_COL_INFO_TEXT = 36;
/** epan/packet_info.h P2P_DIR_SENT / P2P_DIR_RECV, seen from the driver. */
const P2P_DIR_SENT = 0;
const P2P_DIR_RECV = 1;
/** epb_flags bits 0–1: 01 inbound (device→driver), 10 outbound (driver→device). */
const EPB_INBOUND = 1;
const EPB_OUTBOUND = 2;

const MARKER_KIND = kindCode('marker');
const FINDING_KIND = kindCode('finding');

/** Comment and Info text caps, in UTF-16 units (option and TLV lengths are 16-bit byte counts). */
const MAX_INFO_CHARS = 1000;
const MAX_COMMENT_CHARS = 16000;

/** The fixed interface set, indexed by the record's direction code (record.ts `dir`): 1, 2, then 0. */
export const PCAPNG_INTERFACES = [
  { suffix: 'to-device', description: 'driver-to-device queue (outbound)' },
  { suffix: 'to-driver', description: 'device-to-driver queue (inbound)' },
  { suffix: 'session', description: 'session markers, conformance findings, virtqueue indexes and queue state' },
] as const;

/** Interface id of a record with direction code `dir` (0 none, 1 driver→device, 2 device→driver). */
const interfaceOf = (dir: number): number => (dir === 1 ? 0 : dir === 2 ? 1 : 2);

export interface PcapngWriterOptions {
  /** 'exported-pdu' (default, link type 252) or 'user0' (link type 147, bare records). */
  encapsulation?: 'exported-pdu' | 'user0';
  /** shb_os, e.g. "Linux 6.8.0 x64"; omitted when not given (src/ knows no OS). */
  os?: string;
  /** Bytes per emitted chunk (default 1 MiB). */
  chunkBytes?: number;
  /**
   * Add the EXP_PDU_TAG_COL_INFO_TEXT tag (describeRecord's summary) to every packet. Off by
   * default: Wireshark applies it only when the virtio_msg dissector is present, which sets the
   * Info column itself, and describing every record triples the export time.
   */
  infoText?: boolean;
}

const encoder = new TextEncoder();
const pad4 = (n: number): number => (n + 3) & ~3;

/** The exported-PDU dissector-name TLV, NUL-padded to 4 with the padding counted (epan/exported_pdu.c). */
const DISSECTOR_TLV: Uint8Array = (() => {
  const name = encoder.encode(DISSECTOR_NAME);
  const out = new Uint8Array(4 + pad4(name.length));
  new DataView(out.buffer).setUint16(0, EXP_PDU_TAG_DISSECTOR_NAME);
  new DataView(out.buffer).setUint16(2, pad4(name.length));
  out.set(name, 4);
  return out;
})();

/**
 * Streaming pcapng writer: `begin(meta)`, then `write(view)` per record in capture order, then
 * `end()` (or exportRecords from exportWriter.ts). Bytes reach `emit` in chunks of about `chunkBytes`; each chunk is a fresh buffer the
 * consumer may keep.
 */
export class PcapngWriter implements TraceWriter {
  private buf: Uint8Array;
  private dv: DataView;
  private pos = 0;
  private readonly chunkBytes: number;
  private readonly user0: boolean;
  private readonly infoText: boolean;
  private state: 'new' | 'open' | 'ended' = 'new';
  /** Fields the capture never held: no problem about them is written (docs/formats.md §5). */
  private absent: readonly AbsentField[] = [];

  constructor(
    private readonly emit: ExportByteSink,
    private readonly opts: PcapngWriterOptions = {},
  ) {
    this.chunkBytes = opts.chunkBytes ?? 1 << 20;
    this.user0 = opts.encapsulation === 'user0';
    this.infoText = !this.user0 && opts.infoText === true;
    this.buf = new Uint8Array(this.chunkBytes);
    this.dv = new DataView(this.buf.buffer);
  }

  /** Whether begin() was called (a live stream begins once it knows the capture's metadata). */
  get begun(): boolean {
    return this.state !== 'new';
  }

  /** The section header and interface descriptions. */
  begin(meta: CaptureMeta): void {
    this.absent = meta.absent ?? [];
    if (this.state !== 'new') throw new Error('PcapngWriter.begin: called twice');
    this.state = 'open';
    const shbOptions: [number, string][] = [
      [SHB_HARDWARE, meta.board],
      ...(this.opts.os === undefined ? [] : [[SHB_OS, this.opts.os] as [number, string]]),
      [SHB_USERAPPL, meta.app],
      [OPT_COMMENT, metaComment(meta)],
      ...meta.notes.map((n): [number, string] => [OPT_COMMENT, n.slice(0, MAX_COMMENT_CHARS)]),
    ];
    const start = this.open(BLOCK_SHB, 16 + optionsBound(shbOptions));
    this.u32(BYTE_ORDER_MAGIC);
    this.u16(1); // major
    this.u16(0); // minor
    this.u32(0xffffffff); // section length -1: not known while streaming
    this.u32(0xffffffff);
    for (const [code, text] of shbOptions) this.textOption(code, text);
    this.close(start);

    const linkType = this.user0 ? LINKTYPE_USER0 : LINKTYPE_WIRESHARK_UPPER_PDU;
    for (const i of PCAPNG_INTERFACES) {
      const idbOptions: [number, string][] = [
        [IF_NAME, `vmsg-${meta.board}-${i.suffix}`],
        [IF_DESCRIPTION, `${meta.boardDescription}: ${i.description}`],
      ];
      const at = this.open(BLOCK_IDB, 8 + optionsBound(idbOptions) + 8);
      this.u16(linkType);
      this.u16(0); // reserved
      this.u32(0); // snaplen 0: no limit
      for (const [code, text] of idbOptions) this.textOption(code, text);
      this.u16(IF_TSRESOL);
      this.u16(1);
      this.u32(9); // 10^-9 s, then 3 pad bytes (zero)
      this.close(at);
    }
  }

  /** One Enhanced Packet Block for the record under `v`. */
  write(v: RecordView): void {
    if (this.state !== 'open') throw new Error(`PcapngWriter.write: call begin() first${this.state === 'ended' ? ' (writer ended)' : ''}`);
    const raw = v.raw();
    const dir = v.dirCode;
    // Describing is the costly part: only for the Info tag, markers, findings and records with problems.
    const marker = v.kindCode === MARKER_KIND || v.kindCode === FINDING_KIND;
    const d = this.infoText || marker || v.problems !== 0 ? describeRecord(v, this.absent) : null;
    const info = d === null ? '' : d.summary.slice(0, MAX_INFO_CHARS);
    const comments = d === null ? [] : d.problems.map((p) => `${p.code}: ${p.reason}`.slice(0, MAX_COMMENT_CHARS));
    if (marker && d !== null) comments.unshift(d.summary.slice(0, MAX_COMMENT_CHARS));

    let bound = 28 + raw.length + 3 + 12 + 4 + 8 + 12 + 4 + 4;
    if (!this.user0) bound += DISSECTOR_TLV.length + 8 + 4 + 3 * info.length + 3;
    for (const c of comments) bound += 4 + 3 * c.length + 3;
    const start = this.open(BLOCK_EPB, bound);
    this.u32(interfaceOf(dir));
    this.u32(le32(raw, 28)); // timestamp high: wallNs in ns (if_tsresol 9)
    this.u32(le32(raw, 24)); // timestamp low
    const lengthsAt = this.pos;
    this.pos += 8; // captured and original length, filled below
    const dataAt = this.pos;
    if (!this.user0) {
      this.buf.set(DISSECTOR_TLV, this.pos);
      this.pos += DISSECTOR_TLV.length;
      if (dir !== 0) {
        this.dv.setUint16(this.pos, EXP_PDU_TAG_P2P_DIRECTION);
        this.dv.setUint16(this.pos + 2, 4);
        this.dv.setInt32(this.pos + 4, dir === 1 ? P2P_DIR_SENT : P2P_DIR_RECV);
        this.pos += 8;
      }
      if (this.infoText) {
        this.dv.setUint16(this.pos, EXP_PDU_TAG_COL_INFO_TEXT);
        const n = this.text(this.pos + 4, info);
        this.buf.fill(0, this.pos + 4 + n, this.pos + 4 + pad4(n));
        this.dv.setUint16(this.pos + 2, pad4(n));
        this.pos += 4 + pad4(n);
      }
      this.u32(EXP_PDU_TAG_END_OF_OPT); // tag 0, length 0
    }
    this.buf.set(raw, this.pos);
    this.pos += raw.length;
    const caplen = this.pos - dataAt;
    this.dv.setUint32(lengthsAt, caplen, true);
    this.dv.setUint32(lengthsAt + 4, caplen, true);
    this.zeroPad(caplen);
    if (dir !== 0) {
      this.u16(EPB_FLAGS);
      this.u16(4);
      this.u32(dir === 1 ? EPB_OUTBOUND : EPB_INBOUND);
    }
    const seq = v.seq;
    this.u16(EPB_PACKETID);
    this.u16(8);
    this.u32(seq >>> 0);
    this.u32(Math.floor(seq / 0x1_0000_0000));
    for (const c of comments) this.textOption(OPT_COMMENT, c);
    this.close(start);
  }

  /** Emits what is buffered; the writer takes no more records. */
  end(): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.flush();
  }

  /**
   * An Interface Statistics Block with no statistics for the session interface at `wallNs`: a
   * live stream's keep-alive, valid pcapng that readers skip, so a writer learns that the reader
   * went away even while the bus is silent.
   */
  keepAlive(wallNs: bigint): void {
    if (this.state !== 'open') throw new Error('PcapngWriter.keepAlive: call begin() first');
    const start = this.open(BLOCK_ISB, 12);
    this.u32(interfaceOf(0));
    this.u32(Number(wallNs >> 32n));
    this.u32(Number(wallNs & 0xffffffffn));
    this.close(start);
  }

  /** Emits what is buffered now (a live stream, once per batch of records, so none waits for the chunk to fill). */
  flush(): void {
    if (this.pos === 0) return;
    this.emit(this.buf.subarray(0, this.pos));
    this.buf = new Uint8Array(this.chunkBytes);
    this.dv = new DataView(this.buf.buffer);
    this.pos = 0;
  }

  // ---- block assembly ----

  /** Starts a block of at most `bodyBound` body bytes (options included, terminator and trailer added here). */
  private open(type: number, bodyBound: number): number {
    const need = 8 + bodyBound + 4 + 4;
    if (this.pos + need > this.buf.length) {
      this.flush();
      if (need > this.buf.length) {
        this.buf = new Uint8Array(need);
        this.dv = new DataView(this.buf.buffer);
      }
    }
    const start = this.pos;
    this.u32(type);
    this.pos += 4; // block_total_length, filled by close()
    return start;
  }

  /** Ends the options list and the block: opt_endofopt, then the total length at both ends. */
  private close(start: number): void {
    this.u32(OPT_ENDOFOPT);
    const total = this.pos + 4 - start;
    this.dv.setUint32(start + 4, total, true);
    this.u32(total);
  }

  private u16(v: number): void {
    this.dv.setUint16(this.pos, v, true);
    this.pos += 2;
  }

  private u32(v: number): void {
    this.dv.setUint32(this.pos, v, true);
    this.pos += 4;
  }

  /** UTF-8 `s` at `at`; returns its byte length (the caller reserved 3 bytes per UTF-16 unit). */
  private text(at: number, s: string): number {
    return encoder.encodeInto(s, this.buf.subarray(at)).written;
  }

  private zeroPad(n: number): void {
    const end = this.pos + pad4(n) - n;
    this.buf.fill(0, this.pos, end);
    this.pos = end;
  }

  private textOption(code: number, s: string): void {
    const n = this.text(this.pos + 4, s);
    this.dv.setUint16(this.pos, code, true);
    this.dv.setUint16(this.pos + 2, n, true);
    this.pos += 4 + n;
    this.zeroPad(n);
  }
}

/** The metadata comment; notes that would overflow the 16-bit option length stay out of it (each is its own comment). */
function metaComment(meta: CaptureMeta): string {
  const notes = [...meta.notes];
  for (;;) {
    const text = META_COMMENT_PREFIX + JSON.stringify(metaToJson({ ...meta, notes }));
    if (encoder.encode(text).length <= 0xffff || notes.length === 0) return text;
    notes.pop();
  }
}

function optionsBound(options: readonly [number, string][]): number {
  let n = 0;
  for (const [, s] of options) n += 4 + 3 * s.length + 3;
  return n;
}

const le32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

// ---- import -----------------------------------------------------------------------------------

const decoder = new TextDecoder();

interface Section {
  le: boolean;
  linkTypes: number[];
}

/** Where a walk over the file stands: resuming from it reads on exactly as the first walk did. */
interface WalkState {
  off: number;
  section: Section;
  /** Enhanced packet blocks seen so far (notes count packets from 1). */
  packet: number;
  skipped: number;
}

/** Bytes read per positioned read (more when one pcapng block is larger). */
const PIECE_BYTES = 4 << 20;
/** Record bytes per block handed out. */
const BLOCK_BYTES = 1 << 20;

/**
 * One walk over a pcapng file, a piece at a time: sections of either byte order, IDBs and EPBs;
 * other block types are skipped. Damage (a block running past the end, a wrong trailing length,
 * a record that does not parse) ends the walk or skips the packet, with a note saying where.
 */
class PcapngWalk implements Walk<WalkState> {
  private window: Uint8Array = new Uint8Array(0);
  /** The memory pieces are read into: a record is copied out of a piece before the next is read. */
  private scratch: Uint8Array = new Uint8Array(0);
  private dv = new DataView(this.window.buffer);
  /** File offset of window[0]. */
  private at = 0;
  readonly st: WalkState;
  hardware = '';
  userappl = '';
  meta: CaptureMeta | null = null;
  ended = false;

  constructor(
    private readonly file: ByteSource,
    from: WalkState,
    private readonly note: (text: string) => void,
  ) {
    this.st = { ...from, section: { le: from.section.le, linkTypes: [...from.section.linkTypes] } };
  }

  /** Makes file bytes [off, off + n) addressable; false when the file ends first. */
  private have(off: number, n: number): boolean {
    if (off >= this.at && off + n <= this.at + this.window.length) return true;
    if (off + n > this.file.size) return false;
    const want = Math.max(Math.min(PIECE_BYTES, this.file.size - off), n);
    if (this.scratch.length < want) this.scratch = new Uint8Array(want);
    this.window = this.file.read(off, want, this.scratch);
    this.dv = new DataView(this.window.buffer, this.window.byteOffset, this.window.byteLength);
    this.at = off;
    return this.window.length >= n;
  }

  state(): WalkState {
    return { ...this.st, section: { le: this.st.section.le, linkTypes: [...this.st.section.linkTypes] } };
  }

  /** Records of about BLOCK_BYTES as one block (its bytes its own), or null at the end. */
  next(kept: number): RecordBlock | null {
    let bytes = new Uint8Array(BLOCK_BYTES + (64 << 10));
    // Every record is at least a record header long.
    let offsets = new Uint32Array(Math.ceil(bytes.length / HEADER_SIZE));
    let n = 0;
    let used = 0;
    while (used < BLOCK_BYTES && !this.ended) {
      const rec = this.step(() => kept + n);
      if (!rec) continue;
      if (used + rec.length > bytes.length) {
        const grown = new Uint8Array(Math.max(2 * bytes.length, used + rec.length));
        grown.set(bytes.subarray(0, used));
        bytes = grown;
        const more = new Uint32Array(Math.ceil(bytes.length / HEADER_SIZE));
        more.set(offsets.subarray(0, n));
        offsets = more;
      }
      bytes.set(rec, used);
      offsets[n++] = used;
      used += rec.length;
    }
    if (n === 0) return null;
    return { bytes: bytes.subarray(0, used), offsets: offsets.slice(0, n) };
  }

  /** Walks one pcapng block; returns the trace record it carries, if any. */
  private step(kept: () => number): Uint8Array | null {
    const st = this.st;
    const off = st.off;
    const left = this.file.size - off;
    if (left <= 0) return this.end();
    if (left < 12) {
      this.note(`truncated pcapng block at offset ${off}: ${left} bytes left, a block needs at least 12; stopped here, ${kept()} records kept`);
      return this.end();
    }
    this.have(off, 12);
    let r = off - this.at;
    const type = this.dv.getUint32(r, st.section.le);
    if (type === BLOCK_SHB) {
      const magic = this.dv.getUint32(r + 8, true);
      if (magic !== BYTE_ORDER_MAGIC && magic !== 0x4d3c2b1a) {
        this.note(`damaged section header at offset ${off}: byte-order magic 0x1a2b3c4d expected, saw ${hex32(magic)}; stopped here`);
        return this.end();
      }
      st.section = { le: magic === BYTE_ORDER_MAGIC, linkTypes: [] };
    }
    const le = st.section.le;
    const total = this.dv.getUint32(r + 4, le);
    if (total < 12 || total % 4 !== 0 || total > left) {
      const why = total > left ? `it needs ${total} bytes but ${left} are left` : `block_total_length ${total} is not a multiple of 4 of at least 12`;
      this.note(`truncated or damaged pcapng block (type ${hex32(type)}) at offset ${off}: ${why}; stopped here, ${kept()} records kept`);
      return this.end();
    }
    this.have(off, total);
    r = off - this.at;
    const dv = this.dv;
    const trailer = dv.getUint32(r + total - 4, le);
    if (trailer !== total) {
      this.note(`damaged pcapng block (type ${hex32(type)}) at offset ${off}: trailing length ${trailer} differs from leading length ${total}; stopped here, ${kept()} records kept`);
      return this.end();
    }
    st.off += total;
    const body = r + 8;
    const bodyEnd = r + total - 4;
    switch (type) {
      case BLOCK_SHB: {
        if (total < 28) {
          this.note(`damaged section header at offset ${off}: ${total} bytes, 28 minimum; stopped here`);
          return this.end();
        }
        const major = dv.getUint16(body + 4, le);
        if (major !== 1) {
          this.note(`section at offset ${off} is pcapng version ${major}, only 1 is understood; stopped here`);
          return this.end();
        }
        for (const [code, value] of options(dv, body + 16, bodyEnd, le)) {
          const text = decoder.decode(value);
          if (code === SHB_HARDWARE) this.hardware = text;
          else if (code === SHB_USERAPPL) this.userappl = text;
          else if (code === OPT_COMMENT && this.meta === null && text.startsWith(META_COMMENT_PREFIX)) this.meta = parseMeta(text, off, this.note);
        }
        return null;
      }
      case BLOCK_IDB:
        st.section.linkTypes.push(total >= 20 ? dv.getUint16(body, le) : -1);
        return null;
      case BLOCK_EPB: {
        if (total < 32) {
          this.note(`damaged enhanced packet block at offset ${off}: ${total} bytes, 32 minimum; skipped`);
          return null;
        }
        const packet = ++st.packet;
        const ifId = dv.getUint32(body, le);
        const caplen = dv.getUint32(body + 12, le);
        const data = body + 20;
        if (data + caplen > bodyEnd) {
          this.note(`damaged packet ${packet} at offset ${off}: captured length ${caplen} runs past its block; skipped`);
          return null;
        }
        const linkType = st.section.linkTypes[ifId];
        let rec = data;
        if (linkType === LINKTYPE_WIRESHARK_UPPER_PDU) {
          rec = ourPdu(dv, data, data + caplen);
          if (rec < 0) {
            st.skipped++;
            return null;
          }
        } else if (linkType !== LINKTYPE_USER0) {
          if (linkType === undefined) this.note(`packet ${packet} at offset ${off} names interface ${ifId}, which was not described; skipped`);
          else st.skipped++;
          return null;
        }
        const bad = checkRecord(this.window, dv, rec, data + caplen, this.at);
        if (bad !== null) {
          this.note(`packet ${packet} at offset ${off}: damaged trace record (starting at offset ${rec + this.at}): ${bad}; skipped`);
          return null;
        }
        return this.window.subarray(rec, data + caplen);
      }
      default:
        return null; // name resolution, interface statistics, custom blocks: nothing to import
    }
  }

  private end(): null {
    this.ended = true;
    if (this.st.skipped > 0) this.note(`${this.st.skipped} packets are not virtio_msg trace records; skipped`);
    return null;
  }
}

const START: WalkState = { off: 0, section: { le: true, linkTypes: [] }, packet: 0, skipped: 0 };

/**
 * Opens a pcapng capture for streaming: the header is read now (the metadata from the first
 * section's comment, else derived from the section header and the first record, with a note);
 * the records as the source is read.
 */
export function openPcapng(file: ByteSource, path: string): SourceOpen {
  const head = file.read(0, Math.min(file.size, 12));
  const hv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (head.length < 12 || hv.getUint32(0, true) !== BLOCK_SHB) {
    const saw = head.length < 4 ? `${head.length} bytes` : hex32(hv.getUint32(0, true));
    return { ok: false, error: `not a pcapng file: expected a section header block (type 0x0a0d0d0a) at offset 0, saw ${saw}` };
  }
  // The metadata comment sits in the first section header.
  const walk = (from: WalkState, note: (text: string) => void): PcapngWalk => new PcapngWalk(file, from, note);
  const probe = walk(START, ignore);
  probe.next(0);
  if (probe.meta !== null) return { ok: true, value: new StreamedSource(path, probe.meta, [], START, walk) };
  const first = walk(START, ignore);
  const b = first.next(0);
  if (b === null) return { ok: false, error: `no capture metadata (an SHB comment starting "${META_COMMENT_PREFIX}") and no virtio_msg records: not an AMP Workbench pcapng file` };
  const v = new RecordView(b.bytes).at(b.bytes, b.offsets[0]!);
  const meta: CaptureMeta = {
    format: CAPTURE_FORMAT,
    app: first.userappl,
    board: first.hardware,
    boardDescription: '',
    revision: null,
    queueFormat: null,
    link: '',
    startWallNs: v.wallNs,
    startMonoNs: v.monoNs,
    notes: [],
  };
  return { ok: true, value: new StreamedSource(path, meta, [`no "${META_COMMENT_PREFIX}" section comment: metadata derived from the section header and the first record`], START, walk) };
}

/** A whole pcapng file in memory, read through the streaming reader. */
export function importPcapng(bytes: Uint8Array): Result<WholeCapture> {
  return readWhole(openPcapng(bytesSource(bytes), ''));
}

function parseMeta(text: string, off: number, note: (text: string) => void): CaptureMeta | null {
  let json: unknown;
  try {
    json = JSON.parse(text.slice(META_COMMENT_PREFIX.length));
  } catch (e) {
    note(`section header at offset ${off}: capture metadata comment is not JSON (${(e as Error).message})`);
    return null;
  }
  const m = metaFromJson(json);
  if (!m.ok) {
    note(`section header at offset ${off}: ${m.error}`);
    return null;
  }
  return m.value;
}

/** Options in [from, to): code and value (a view), until opt_endofopt or the end of the body. */
function* options(dv: DataView, from: number, to: number, le: boolean): Generator<[number, Uint8Array]> {
  const bytes = new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength);
  let o = from;
  while (o + 4 <= to) {
    const code = dv.getUint16(o, le);
    const len = dv.getUint16(o + 2, le);
    if (code === OPT_ENDOFOPT || o + 4 + len > to) return;
    yield [code, bytes.subarray(o + 4, o + 4 + len)];
    o += 4 + pad4(len);
  }
}

/**
 * Walks the exported-PDU TLVs (always big-endian) in [from, to); returns where the payload
 * starts when the dissector-name tag names ours, else -1.
 */
function ourPdu(dv: DataView, from: number, to: number): number {
  let ours = false;
  let o = from;
  while (o + 4 <= to) {
    const tag = dv.getUint16(o);
    const len = dv.getUint16(o + 2);
    if (tag === EXP_PDU_TAG_END_OF_OPT) return ours ? o + 4 : -1;
    if (o + 4 + len > to) return -1;
    if (tag === EXP_PDU_TAG_DISSECTOR_NAME) ours = isName(dv, o + 4, len);
    o += 4 + len;
  }
  return -1;
}

/** The tag value is DISSECTOR_NAME followed by nothing but NUL padding. */
function isName(dv: DataView, at: number, len: number): boolean {
  if (len < DISSECTOR_NAME.length) return false;
  for (let i = 0; i < len; i++) {
    const c = dv.getUint8(at + i);
    if (c !== (i < DISSECTOR_NAME.length ? DISSECTOR_NAME.charCodeAt(i) : 0)) return false;
  }
  return true;
}

/** Module locals: an imported binding read per packet costs a getter call under tsx. */
const HEADER_SIZE = RECORD_HEADER_SIZE;
const sound = soundRecordLength;

/** Cheap validation of the record filling [at, end); null when good, else where (a file offset: `base` + offset) and why (readRecord's words). */
function checkRecord(bytes: Uint8Array, dv: DataView, at: number, end: number, base: number): string | null {
  const avail = end - at;
  if (sound(dv, at, avail) === avail) return null;
  const r = readRecord(bytes.subarray(0, end), at);
  return r.ok ? `record length ${r.length} but the packet carries ${avail} bytes` : `at offset ${r.offset + base}: ${r.error}`;
}

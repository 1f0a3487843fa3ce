/** A VirtioMsg as plain JSON (trace export, CLI output, web-mode transport). */
import { toHex } from '../util/hex';
import type { FieldValue, VirtioMsg } from './types';

/** bigint as "0x…" hex, byte runs as "00 01 …", numbers and number[] as they are. */
export type JsonFieldValue = number | string | number[];

export type VirtioMsgJson = Omit<VirtioMsg, 'fields'> & { fields: Record<string, JsonFieldValue> };

function jsonValue(v: FieldValue): JsonFieldValue {
  if (typeof v === 'bigint') return '0x' + v.toString(16);
  if (v instanceof Uint8Array) return toHex(v);
  return v;
}

export function msgToJson(msg: VirtioMsg): VirtioMsgJson {
  const fields: Record<string, JsonFieldValue> = {};
  for (const [name, v] of Object.entries(msg.fields)) fields[name] = jsonValue(v);
  const { revision, type, kind, bus, msgId, name, devNum, token, msgSize } = msg;
  return { revision, type, kind, bus, msgId, name, devNum, token, msgSize, fields };
}

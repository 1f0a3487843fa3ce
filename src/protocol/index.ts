/** The virtio-msg codec: everything outside src/protocol imports from here (or names.ts). */
export * from './types';
export { decode, decodeHeader, encode, layoutSize } from './codec';
export { detectRevision, XEN_MAX_MSG_SIZE, type RevisionGuess } from './detect';
export { msgToJson, type JsonFieldValue, type VirtioMsgJson } from './json';
export {
  HEADERS,
  HEADER_SIZE,
  MAX_MSG_SIZE,
  MESSAGES,
  MIN_BUS_MSG_SIZE,
  PRACTICAL_MIN_BUS_MSG_SIZE,
  R0_FRAME_SIZE,
  flagNames,
  lookupMessage,
  decodedLayout,
  type BitField,
  type FieldDef,
  type FieldType,
  type HeaderDef,
  type Layout,
  type MessageDef,
  type MessageFamily,
} from './messages';
export * from './names';
export * from './fields';

/**
 * TextEncoder/TextDecoder exist in every environment src/ runs in (Node, browsers, workers) but
 * belong to neither ES lib nor our empty `types`; declare the part we use.
 */
declare class TextEncoder {
  encode(input?: string): Uint8Array<ArrayBuffer>;
  encodeInto(source: string, destination: Uint8Array): { read: number; written: number };
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: Uint8Array): string;
}

/**
 * Where things are in a JSON text: the line and column of the value at a path such as
 * ['bus', 'maxMessageSize'], and of the first syntax error. JSON.parse says neither (and its
 * messages differ between engines), so profile errors could not point into the file without this.
 */

import type { Fail, Ok } from '../util/result';

export type JsonPath = readonly (string | number)[];

export interface JsonPosition {
  /** 1-based. */
  line: number;
  /** 1-based, in UTF-16 code units. */
  column: number;
}

/** The parsed value and where each path sits in the text, or the first syntax error and where it is. */
export type JsonScan = (Ok<unknown> & { locate(path: JsonPath): JsonPosition }) | (Fail & { position: JsonPosition });

class SyntaxFault extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

function positionOf(text: string, offset: number): JsonPosition {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

const pathKey = (path: JsonPath): string => path.map(String).join('\u0000');

/** Records the start offset of every value by its path while checking the syntax (RFC 8259). */
class Scanner {
  private i = 0;
  readonly starts = new Map<string, number>();

  constructor(private readonly text: string) {}

  run(): void {
    this.value([]);
    this.skipSpace();
    if (this.i < this.text.length) this.fail(`unexpected ${this.seen()} after the end of the document`);
  }

  private fail(message: string): never {
    throw new SyntaxFault(message, this.i);
  }

  private seen(): string {
    return this.i >= this.text.length ? 'end of file' : JSON.stringify(this.text[this.i]);
  }

  private skipSpace(): void {
    while (this.i < this.text.length && ' \t\n\r'.includes(this.text[this.i]!)) this.i++;
  }

  private expect(ch: string): void {
    if (this.text[this.i] !== ch) this.fail(`expected "${ch}", saw ${this.seen()}`);
    this.i++;
  }

  private value(path: (string | number)[]): void {
    this.skipSpace();
    this.starts.set(pathKey(path), this.i);
    const c = this.text[this.i];
    if (c === '{') this.object(path);
    else if (c === '[') this.array(path);
    else if (c === '"') this.string();
    else if (c !== undefined && /[-0-9]/.test(c)) this.number();
    else {
      for (const word of ['true', 'false', 'null']) {
        if (this.text.startsWith(word, this.i)) {
          this.i += word.length;
          return;
        }
      }
      this.fail(`expected a value, saw ${this.seen()}`);
    }
  }

  private object(path: (string | number)[]): void {
    this.i++;
    this.skipSpace();
    if (this.text[this.i] === '}') {
      this.i++;
      return;
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.i] !== '"') this.fail(`expected a field name in double quotes, saw ${this.seen()}`);
      const keyStart = this.i;
      this.string();
      const key = JSON.parse(this.text.slice(keyStart, this.i)) as string;
      this.skipSpace();
      this.expect(':');
      this.value([...path, key]);
      this.skipSpace();
      if (this.text[this.i] === ',') this.i++;
      else if (this.text[this.i] === '}') {
        this.i++;
        return;
      } else this.fail(`expected "," or "}", saw ${this.seen()}`);
    }
  }

  private array(path: (string | number)[]): void {
    this.i++;
    this.skipSpace();
    if (this.text[this.i] === ']') {
      this.i++;
      return;
    }
    for (let index = 0; ; index++) {
      this.value([...path, index]);
      this.skipSpace();
      if (this.text[this.i] === ',') this.i++;
      else if (this.text[this.i] === ']') {
        this.i++;
        return;
      } else this.fail(`expected "," or "]", saw ${this.seen()}`);
    }
  }

  private string(): void {
    this.i++;
    for (;;) {
      const c = this.text[this.i];
      if (c === undefined) this.fail('unterminated string');
      if (c === '"') {
        this.i++;
        return;
      }
      if (c < ' ') this.fail(`control character ${JSON.stringify(c)} inside a string`);
      if (c === '\\') {
        const e = this.text[this.i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(this.i + 2, this.i + 6))) this.fail('expected 4 hex digits after \\u');
          this.i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) this.fail(`invalid escape \\${e ?? ''}`);
        this.i += 2;
        continue;
      }
      this.i++;
    }
  }

  private number(): void {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/.exec(this.text.slice(this.i, this.i + 400));
    if (!m) this.fail(`expected a number, saw ${this.seen()}`);
    this.i += m[0].length;
  }
}

/**
 * Checks `text` as JSON and parses it. On success `locate(path)` gives the position of the value
 * at `path`, or of the nearest enclosing value that exists (a missing field points at its object).
 */
export function scanJson(text: string): JsonScan {
  const scanner = new Scanner(text);
  try {
    scanner.run();
  } catch (e) {
    if (e instanceof SyntaxFault) return { ok: false, error: e.message, position: positionOf(text, e.offset) };
    throw e;
  }
  return {
    ok: true,
    value: JSON.parse(text) as unknown,
    locate(path) {
      for (let n = path.length; n >= 0; n--) {
        const start = scanner.starts.get(pathKey(path.slice(0, n)));
        if (start !== undefined) return positionOf(text, start);
      }
      return { line: 1, column: 1 };
    },
  };
}

/** Line and column of the value at `path` in the JSON `text`; undefined if the text is not JSON. */
export function locateJson(text: string, path: JsonPath): JsonPosition | undefined {
  const s = scanJson(text);
  return s.ok ? s.locate(path) : undefined;
}

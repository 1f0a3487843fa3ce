/** The folder boundaries of docs/architecture.md are enforced by lint: a wrong import fails npm test. */
import { resolve } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../..');
const eslint = new ESLint({ cwd: root, overrideConfigFile: resolve(root, 'test/eslint.config.mjs') });

async function restricted(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: resolve(root, file) });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === '@typescript-eslint/no-restricted-imports').map((m) => m.message);
}

describe('layering lint', () => {
  it.each([
    ['src/protocol/x.ts', "import { readFileSync } from 'node:fs';"],
    ['src/protocol/x.ts', "import * as path from 'path';"],
    ['src/bus/x.ts', "import { app } from 'electron';"],
    ['src/devices/x.ts', "import { readFileSync } from 'node:fs';"],
    ['src/roles/driver/x.ts', "import { z } from 'zod';"],
    ['src/roles/driver/x.ts', "import { nodeRuntime } from '../../main/host/runtime';"],
    ['main/host/x.ts', "import { BrowserWindow } from 'electron';"],
    ['renderer/src/x.tsx', "import { Worker } from 'node:worker_threads';"],
    ['renderer/src/x.tsx', "import { ipcRenderer } from 'electron';"],
    ['main/host/x.ts', "import { startApp } from '../app/main';"],
    ['test/host/x.test.ts', "import { app } from 'electron';"],
    ['main/preload/x.ts', "import { parseRequest } from '../../src/api/workbench';"],
    ['main/preload/x.ts', "import { gateRequest } from '../host/desktop/gate';"],
    ['main/preload/x.ts', "import { CHANNELS } from '../host/desktop/bridge';"],
    ['main/preload/x.ts', "import { readFileSync } from 'node:fs';"],
  ])('rejects in %s: %s', async (file, source) => {
    expect((await restricted(file, `${source}\nexport {};\n`)).length).toBe(1);
  });

  it.each([
    ['src/roles/driver/x.ts', "import { toHex } from '../../util/hex';"],
    ['src/api/x.ts', "import { z } from 'zod';"],
    ['src/devices/x.ts', "import { z } from 'zod';"],
    ['main/host/x.ts', "import { Worker } from 'node:worker_threads';"],
    ['main/app/x.ts', "import { app } from 'electron';"],
    ['main/preload/x.ts', "import { contextBridge } from 'electron';"],
    ['main/preload/x.ts', "import type { WorkbenchApi } from '../../src/api/workbench';"],
    ['main/preload/x.ts', "import { CHANNELS } from '../../src/api/desktop';"],
  ])('allows in %s: %s', async (file, source) => {
    expect(await restricted(file, `${source}\nexport {};\n`)).toEqual([]);
  });
});

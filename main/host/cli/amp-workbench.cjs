#!/usr/bin/env node
// The amp-workbench command: TypeScript sources run through tsx, no build step needed.
require('tsx/cjs');
require('./main.ts');

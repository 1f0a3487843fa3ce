/**
 * JUnit XML, the report format Jenkins, GitLab and pytest share: <testsuites> with one
 * <testsuite> per command, a <testcase> per result with its <properties>, a <failure> or
 * <skipped> carrying the terminal's message, and <system-out> for what was reported beside it.
 */
import { hostname } from 'node:os';

import type { ResultCase, ResultSuite } from './results';

/** Characters XML 1.0 cannot hold at all (control characters other than tab, newline, return; lone surrogates). */
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Text for an attribute value or element content: markup characters escaped, impossible characters as U+FFFD. */
export function xmlText(text: string): string {
  return text.replace(NOT_XML, '\ufffd').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function attrs(values: Record<string, string | number>): string {
  return Object.entries(values)
    .map(([k, v]) => ` ${k}="${xmlText(String(v))}"`)
    .join('');
}

function propertiesXml(props: Record<string, string | number> | undefined, indent: string): string[] {
  const entries = Object.entries(props ?? {});
  if (entries.length === 0) return [];
  return [`${indent}<properties>`, ...entries.map(([name, value]) => `${indent}  <property${attrs({ name, value })}/>`), `${indent}</properties>`];
}

function caseXml(c: ResultCase, classname: string): string[] {
  const inner = [...propertiesXml(c.properties, '      ')];
  const message = c.message ?? '';
  const firstLine = message.split('\n')[0]!;
  if (c.status === 'fail') inner.push(`      <failure${attrs({ message: firstLine, type: 'failure' })}>${xmlText(message)}</failure>`);
  if (c.status === 'skip') inner.push(`      <skipped${attrs({ message: firstLine })}/>`);
  if (c.output && c.output.length > 0) inner.push(`      <system-out>${xmlText(c.output.join('\n'))}</system-out>`);
  const open = `    <testcase${attrs({ classname, name: c.name })}`;
  return inner.length === 0 ? [`${open}/>`] : [`${open}>`, ...inner, '    </testcase>'];
}

export function junitXml(suite: ResultSuite): string {
  const tests = suite.cases.length;
  const failures = suite.cases.filter((c) => c.status === 'fail').length;
  const skipped = suite.cases.filter((c) => c.status === 'skip').length;
  const time = suite.timeS.toFixed(3);
  const name = `amp-workbench.${suite.command}`;
  const classname = `${name}.${suite.board}`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({ name: 'amp-workbench', tests, failures, errors: 0, skipped, time })}>`,
    `  <testsuite${attrs({ name, tests, failures, errors: 0, skipped, time, timestamp: new Date().toISOString().slice(0, 19), hostname: hostname() })}>`,
    ...propertiesXml({ board: suite.board, ...suite.properties }, '    '),
    ...suite.cases.flatMap((c) => caseXml(c, classname)),
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

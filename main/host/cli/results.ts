/**
 * Results for board farms: what probe, exercise, capture and check found, as test cases a CI
 * reads — one per device bring-up, per workload, per conformance rule violated. The same cases
 * go to a JUnit XML file (`--junit FILE`, ./junit.ts) and to LAVA's test shell (`--lava`,
 * ./lava.ts). A case's message is the line the terminal prints for it, never a second wording.
 */
import { writeFileSync } from 'node:fs';

import { systemErrorText } from '../systemError';
import { UsageError } from './common';
import { junitXml } from './junit';
import { findLavaTestCase, reportToLava } from './lava';

export type CaseStatus = 'pass' | 'fail' | 'skip';

export interface ResultCase {
  /** What was tested, in words: "dev 1 virtio-rng bring-up", "dev 1 rng read", "bus", "R-MSG-SIZE". */
  name: string;
  status: CaseStatus;
  /** Why it failed or was skipped: the terminal's lines, first line first. */
  message?: string;
  /** Numbers and facts about the case (latency percentiles, counts, the rule's section). */
  properties?: Record<string, string | number>;
  /** The one number LAVA records with the case (a workload's median latency). */
  measurement?: { value: number; units: string };
  /** What the terminal printed beside it that is no failure (findings, warnings). */
  output?: string[];
}

export interface ResultSuite {
  /** The command: probe, exercise, capture, check. */
  command: string;
  /** The board the command ran on (or the board a checked capture was recorded from). */
  board: string;
  /** Wall time of the command, in seconds. */
  timeS: number;
  properties: Record<string, string | number>;
  cases: ResultCase[];
}

/** The options every result-reporting command takes. */
export const RESULT_OPTIONS = {
  junit: { type: 'string' },
  lava: { type: 'boolean' },
} as const;

/** Where a command's results go, checked before the command starts (a bad --lava is bad usage, exit 2). */
export interface ResultSinks {
  /** Writes the suite to every sink asked for; the lines saying what could not be delivered (stderr). */
  publish(suite: ResultSuite): string[];
}

export function resultSinks(values: { junit?: string | undefined; lava?: boolean | undefined }): ResultSinks {
  const lava = values.lava === true ? findLavaTestCase() : null;
  if (values.lava === true && lava === null) throw new UsageError('--lava reports through lava-test-case, which is not on PATH (run it in a LAVA test shell)');
  if (values.junit === '') throw new UsageError('--junit expects a FILE to write the JUnit XML to');
  return {
    publish(suite) {
      const undelivered: string[] = [];
      if (values.junit !== undefined) {
        try {
          writeFileSync(values.junit, junitXml(suite));
        } catch (e) {
          undelivered.push(`cannot write the JUnit results to ${values.junit}: ${systemErrorText(e)}`);
        }
      }
      if (lava !== null) undelivered.push(...reportToLava(lava, suite));
      return undelivered;
    },
  };
}

/**
 * Publishes a command's results and gives its exit status: the command's own, or 1 when a
 * successful command's results could not be delivered (a farm must not read "no results" as a pass).
 */
export function publishResults(sinks: ResultSinks, suite: ResultSuite, exitCode: number): number {
  const undelivered = sinks.publish(suite);
  for (const line of undelivered) process.stderr.write(line + '\n');
  return undelivered.length > 0 && exitCode === 0 ? 1 : exitCode;
}

/** A case that passes when `problems` is empty and otherwise fails with them as its message. */
export function caseOf(name: string, problems: readonly string[], extra: Omit<ResultCase, 'name' | 'status' | 'message'> = {}): ResultCase {
  return problems.length === 0 ? { name, status: 'pass', ...extra } : { name, status: 'fail', message: problems.join('\n'), ...extra };
}

/** Runs a command as a child under /usr/bin/time -v: its wall time and peak RSS, as the kernel counted them. */
import { spawnSync } from 'node:child_process';

export interface ChildRun {
  wallMs: number;
  peakRssMB: number;
  stdout: string;
}

export function childRun(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildRun {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-v', cmd, ...args], { encoding: 'utf8', env, maxBuffer: 64 << 20 });
  const wallMs = performance.now() - t0;
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  if (r.status !== 0 || !rss) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr.slice(-2000)}`);
  return { wallMs, peakRssMB: Math.round(Number(rss[1]) / 1024), stdout: r.stdout };
}

/** Runs `op` n times one after another: operations per second and each one's round trip in µs. */
export async function timed(n: number, op: (i: number) => Promise<unknown>): Promise<{ perSecond: number; us: number[] }> {
  const us: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await op(i);
    us.push((performance.now() - s) * 1000);
  }
  return { perSecond: Math.round((n / (performance.now() - t0)) * 1000), us };
}

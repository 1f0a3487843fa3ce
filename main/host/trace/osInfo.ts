import { arch, release, type } from 'node:os';

/** "Linux 6.8.0 x64": the capture host, for the pcapng section header. */
export function osDescription(): string {
  return `${type()} ${release()} ${arch()}`;
}

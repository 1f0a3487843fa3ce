/**
 * The board's side of a shm file as a misbehaving firmware would touch it, written from the
 * test process straight into the file: its queue head status (a restart to INIT, SHUTDOWN,
 * PEER_DEAD, docs/amp-bus.md §4.2).
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';

import type { BoardProfile } from '../../src/api/boardProfile';
import { validateVmampLayout, VMAMP_HEADER_SIZE } from '../../src/bus/formats/vmamp';
import { decodeShmHeader } from '../../main/host/links/shmFile';

/** Writes `status` into the device's vmamp queue head (byte 2 of the head, then a 0 flags byte). */
export function writeDeviceHeadStatus(path: string, profile: BoardProfile, status: number): void {
  const fd = openSync(path, 'r+');
  try {
    const header = new Uint8Array(0x1000);
    readSync(fd, header, 0, header.length, 0);
    const file = decodeShmHeader(header, path);
    if (!file.ok) throw new Error(file.error);
    const busAt = file.value.regions.find((r) => r.name === profile.bus.region)!.offset + profile.bus.offset;
    const bytes = new Uint8Array(VMAMP_HEADER_SIZE);
    readSync(fd, bytes, 0, bytes.length, busAt);
    const layout = validateVmampLayout(bytes, profile.bus.size);
    if (!layout.ok) throw new Error(layout.error.reason);
    writeSync(fd, Uint8Array.of(status, 0), 0, 2, busAt + layout.value.devQueueHead + 2);
  } finally {
    closeSync(fd);
  }
}

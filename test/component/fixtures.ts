/** Engine answers as the service gives them for the simulated board, trimmed to what views show. */
import type { DeviceJson, SessionStateJson, TraceInfo, WorkbenchResult } from '../../src/api/workbench';

export function device(over: Partial<DeviceJson> = {}): DeviceJson {
  return {
    devNum: 0,
    phase: 'ready',
    deviceId: 4,
    deviceType: 'rng',
    deviceName: 'entropy source',
    vendorId: '0x554d4551',
    uuid: null,
    status: 0x0f,
    statusNames: ['ACKNOWLEDGE', 'DRIVER', 'DRIVER_OK', 'FEATURES_OK'],
    featuresOffered: '0x100000000',
    featuresNegotiated: '0x100000000',
    features: [{ bit: 32, name: 'VIRTIO_F_VERSION_1', offered: true, negotiated: true }],
    configSize: 0,
    config: '',
    configFields: [],
    generation: 0,
    maxVirtqueues: 1,
    queues: [{ index: 0, name: 'requestq', size: 8, maxSize: 256, descAddr: '0x10000', driverAddr: '0x10080', deviceAddr: '0x100c0', usedEvents: 3 }],
    shm: [],
    error: null,
    findings: [],
    ...over,
  };
}

export function sessionState(devices: DeviceJson[], over: Partial<SessionStateJson> = {}): SessionStateJson {
  return { connected: true, role: 'driver', source: 'board', board: 'sim-qemu-amp-pci', link: 'sim-qemu-amp-pci (simulated, device side in a worker thread)', capture: '/tmp/cap', notices: [], findings: [], devices, ...over };
}

export const BOARDS: WorkbenchResult<'boards.list'>['boards'] = [
  { id: 'sim-qemu-amp-pci', description: 'Simulated QEMU AMP PCI board', format: 'spsc-v1', revision: 'r4', simulated: true, default: true, devices: [{ devNum: 0, kind: 'rng' }], presence: { state: 'present', reason: 'simulated inside the workbench: always there' } },
  { id: 'versal-vek280', description: 'AMD Versal VEK280', format: 'openamp-static-v1', revision: 'r3', simulated: false, default: false, devices: [], presence: { state: 'absent', reason: 'no PCI function 10ee:9038 in /sys/bus/pci/devices' } },
];

/** trace.info of a live session's capture; `over` makes it an opened file or another board's. */
export function traceInfo(over: Partial<TraceInfo> = {}): TraceInfo {
  return {
    source: 'live',
    path: '/var/captures/2026-01-01-sim',
    count: 1000,
    dropped: 0,
    board: 'sim',
    revision: 'r4',
    queueFormat: null,
    link: 'sim',
    startMonoNs: '0',
    startWallNs: '0',
    firstNs: 0,
    lastNs: 5e9,
    notes: [],
    residentBytes: 0,
    residentLimit: -1,
    ...over,
  };
}

/** The example profile of the README's ivshmem set-up: queues and buffers both in the shared memory. */
export const IVSHMEM_PROFILE = {
  schema: 'amp-board-profile/0',
  id: 'ivshmem-peer',
  description: 'A peer of a QEMU ivshmem-server: vmamp-shmem-v1 queues at the start of the shared memory, virtqueues in it at window offsets',
  hostRole: 'driver',
  access: { kind: 'ivshmem-server', path: '/tmp/ivshmem_socket' },
  regions: [
    { name: 'queues', source: { shm: '0x0' }, size: '0x2000' },
    { name: 'data', source: { shm: '0x10000' }, size: '0x100000', peerAddress: '0x10000' },
  ],
  bus: { format: 'vmamp-shmem-v1', region: 'queues', offset: '0x0', size: '0x2000', messageFormat: 'virtio-msg-r1', revision: 'r4', maxMessageSize: 64, handshake: 'vmamp-v1', timeouts: { layoutMs: 10000, peerMs: 10000, responseMs: 5000 } },
  doorbellOut: { kind: 'ivshmem', value: 0 },
  doorbellIn: { kind: 'eventfd', vector: 0 },
  dataMemory: { region: 'data', addressMode: 'window-offset', peerBase: '0x10000', size: '0x100000' },
  sim: { devices: [{ devNum: 0, kind: 'rng', seed: 5 }, { devNum: 1, kind: 'i2c' }] },
};

/**
 * QEMU's virtio-msg-amp-pci answer to GET_DEVICES (R3), byte for byte, bugs included: one
 * implementation for every double of QEMU (the fake QEMU of the tests, `sim --fault
 * qemu-get-devices`). From the QEMU field notes, checked against the real model built from the
 * sources they name (2026-12-07):
 * - num = MAX(count, 32) and msg_size = 14 + num (the bitmap counted in bytes, not bits);
 * - token 0 (not echoed), dev_num 0, next_offset 0;
 * - the message is QEMU's zeroed 48-byte VirtIOMSG: num/8 bitmap bytes are copied out of a
 *   4-byte array, so past its 4 bytes they are the stack behind it (phantom devices if read), as
 *   far as the 48 bytes reach; with count 32 nothing past the array is copied and the rest
 *   reads 0. Only those 48 bytes are written into the queue slot, whatever msg_size says.
 */

/** sizeof(VirtIOMSG) in QEMU. */
export const QEMU_VIRTIO_MSG_BYTES = 48;

/**
 * The bytes behind GET_DEVICES' 4-byte bitmap array in QEMU's stack frame: never zero (so a
 * driver that reads them sees phantom devices), the same in every answer (a fixed frame).
 */
export const QEMU_STACK_GARBAGE = Uint8Array.from({ length: QEMU_VIRTIO_MSG_BYTES }, (_, i) => ((i * 0x9e + 0x5b) ^ (i >> 3)) & 0xff || 0xa5);

/**
 * The 48 bytes QEMU writes for a GET_DEVICES request of `offset` and `count`; `bitmap` is its
 * 4-byte array (bit n: a device on bus n).
 */
export function qemuGetDevicesAnswer(offset: number, count: number, bitmap: Uint8Array): Uint8Array {
  const num = Math.max(count, 32);
  const out = new Uint8Array(QEMU_VIRTIO_MSG_BYTES);
  const v = new DataView(out.buffer);
  out[0] = 0x03; // bus response
  out[1] = 0x02; // GET_DEVICES
  v.setUint16(6, 14 + num, true);
  v.setUint16(8, offset, true);
  v.setUint16(10, num, true);
  const copied = Math.min(Math.floor(num / 8), QEMU_VIRTIO_MSG_BYTES - 14);
  out.set(bitmap.subarray(0, Math.min(4, copied)), 14);
  if (copied > 4) out.set(QEMU_STACK_GARBAGE.subarray(0, copied - 4), 18);
  return out;
}

/**
 * Sample logs in each import preset's format, written by hand the way each peer prints (the
 * print formats cited in src/trace/import/presets.ts), with the messages each must give back.
 */
import type { Direction, Revision } from '../../../../src/protocol/types';
import type { LogFormat } from '../../../../src/trace/import/presets';

export interface Sample {
  text: string;
  revision: Revision;
  /** The messages in log order: hex, direction, time in ns (null: the log has none). */
  messages: { hex: string; dir: Direction; timeNs: bigint | null }[];
}

const TO_DEV: Direction = 'driver-to-device';
const TO_DRV: Direction = 'device-to-driver';

/** An R2 FF-A bus bring-up as a debug build of the RFC kernel prints it (print_hex_dump, 16 bytes a row, offsets). */
const LINUX = `[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x410fd034]
[    1.100000] virtio-msg-ffa arm-ffa-8001: Continuing without reserved-memory block
[    1.200000] virtio-msg-ffa arm-ffa-8001: tx 00000000: 02 80 00 00 18 00 01 00 00 00 01 00 00 00 00 00
[    1.200000] virtio-msg-ffa arm-ffa-8001: tx 00000010: 00 00 0f 00 00 00 ff 00
[    1.200350] virtio-msg-ffa arm-ffa-8001: rx 00000000: 03 80 00 00 18 00 01 00 00 00 01 00 00 00 00 00
[    1.200350] virtio-msg-ffa arm-ffa-8001: rx 00000010: 00 00 05 00 00 00 10 00
[    1.200400] virtio-msg-ffa arm-ffa-8001: tx 00000000: 02 02 00 00 0a 00 00 00 ff 00
[    1.200700] virtio-msg-ffa arm-ffa-8001: rx 00000000: 03 02 00 00 0e 00 00 00 10 00 00 00 02 00
[    1.201000] usb 1-1: 00000000: 12 01 00 02 09 00 01 40
[    1.201100] virtio-msg-ffa arm-ffa-8001: tx 00000000: 02 81 00 00 20 00 01 00 11 22 33 44 55 66 77 88
[    1.201100] virtio-msg-ffa arm-ffa-8001: tx 00000010: 00 00 00 00 00 00 00 00 00 04 00 00 00 00 00 00
[    1.201500] virtio-msg-ffa arm-ffa-8001: rx 00000000: 03 81 00 00 0a 00 01 00 00 00
[    1.202000] virtio-msg: tx 00000000: 00 02 01 00 06 00
[    1.202250] virtio-msg: rx 00000000: 01 02 01 00 1e 00 04 00 00 00 51 45 4d 55 40 00
[    1.202250] virtio-msg: rx 00000010: 00 00 00 00 00 00 01 00 00 00 00 00 00 00
[    2.500000] virtio-msg-ffa arm-ffa-8001: tx 00000000: 02 82 00 00 08 00 01 00
[    2.500300] virtio-msg-ffa arm-ffa-8001: rx 00000000: 03 82 00 00 0a 00 01 00 02 00
`;

/** QEMU's virtio_msg_print (R3, 8-byte header; the print has no token, no time and no direction). */
const QEMU = `qemu-system-aarch64: -device virtio-msg-amp-pci: info: starting
virtio-msg: id DEVICE_INFO 0x2 type 0x0 dev_num 0x0 msg_size 0x8

virtio-msg: id DEVICE_INFO 0x2 type 0x1 dev_num 0x0 msg_size 0x20
22 00 00 00 51 45 4d 55 40 00 00 00 00 00 00 00 
01 00 00 00 00 00 00 00 

virtio-msg: id SET_DEVICE_STATUS 0x8 type 0x0 dev_num 0x0 msg_size 0xc
0f 00 00 00 status f ACKNOWLEDGE DRIVER DRIVER_OK FEATURES_OK

virtio-msg: id SET_DEVICE_STATUS 0x8 type 0x1 dev_num 0x0 msg_size 0xc
0f 00 00 00 

virtio-msg: id EVENT_USED 0x42 type 0x0 dev_num 0x0 msg_size 0xc
00 00 00 00 

`;

/** Xen's virtio_msg_print on the Xen console (R2-shaped, 6-byte header, at most 44 bytes), with console timestamps. */
const XEN = `(XEN) [   10.000000] d1v0 virtio-msg: bus up
(XEN) [   10.000100] virtio-msg: id DEVICE_INFO 0x2 type 0x0 dev_num 0x0 msg_size 0x6
(XEN) [   10.000100] 
(XEN) [   10.000250] virtio-msg: id DEVICE_INFO 0x2 type 0x1 dev_num 0x0 msg_size 0x1e
(XEN) [   10.000250] 22 00 00 00 51 45 4d 55 40 00 00 00 00 00 00 00 
(XEN) [   10.000250] 01 00 00 00 00 00 00 00 
(XEN) [   10.000250] 
(XEN) [   10.000400] virtio-msg: id SET_VQUEUE 0xa type 0x0 dev_num 0x0 msg_size 0x2a
(XEN) [   10.000400] 00 00 00 00 00 00 00 00 08 00 00 00 00 00 00 40 
(XEN) [   10.000400] 00 00 00 00 00 10 00 40 00 00 00 00 00 20 00 40 
(XEN) [   10.000400] 00 00 00 00 set-vqueue: index=0 size=8 desc-addr=40000000 driver-addr=40001000 device-addr=40002000
(XEN) [   10.000400] 
(XEN) [   10.000550] virtio-msg: id SET_VQUEUE 0xa type 0x1 dev_num 0x0 msg_size 0x6
(XEN) [   10.000550] 
(XEN) [   10.001000] virtio-msg: id EVENT_AVAIL 0x41 type 0x0 dev_num 0x0 msg_size 0xe
(XEN) [   10.001000] 00 00 00 00 00 00 00 00 
(XEN) [   10.001000] 
(XEN) [   10.001200] virtio-msg: id EVENT_USED 0x42 type 0x0 dev_num 0x0 msg_size 0xa
(XEN) [   10.001200] 00 00 00 00 
(XEN) [   10.001200] 
`;

/** OP-TEE's FF-A entry point logging each request's header (FMSG; %#x prints 0 as "0"). */
const OPTEE = `D/TC:0 0 call_entry_std:214 arg 0x1234
F/TC:0 0 virtio_msg_ffa_recv:412 caller 0x8001 type 0x2 msg_id 0x80 dev_id 0 msg_size 0x1a
F/TC:0 0 virtio_msg_ffa_recv:412 caller 0x8001 type 0x2 msg_id 0x2 dev_id 0 msg_size 0xc
F/TC:0 0 virtio_msg_ffa_recv:412 caller 0x8001 type 0 msg_id 0x2 dev_id 0x1 msg_size 0x8
`;

/** Any log with one message per line: time, direction, bytes (R4 here). */
const HEX = `# R4 GET_DEVICE_INFO and status from a firmware UART log
0.000100 > 00 02 01 00 01 00 08 00
0.000160 < 01 02 01 00 01 00 34 00 22 00 00 00 51 45 4d 55 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00
0.000200 > 00 07 01 00 02 00 08 00
0.000230 < 01 07 01 00 02 00 0c 00 0f 00 00 00
`;

const s = (sec: string): bigint => BigInt(Math.round(Number(sec) * 1e6)) * 1000n;

export const SAMPLES: Readonly<Record<LogFormat, Sample>> = {
  linux: {
    text: LINUX,
    revision: 'r2',
    messages: [
      { hex: '02 80 00 00 18 00 01 00 00 00 01 00 00 00 00 00 00 00 0f 00 00 00 ff 00', dir: TO_DEV, timeNs: s('1.2') },
      { hex: '03 80 00 00 18 00 01 00 00 00 01 00 00 00 00 00 00 00 05 00 00 00 10 00', dir: TO_DRV, timeNs: s('1.20035') },
      { hex: '02 02 00 00 0a 00 00 00 ff 00', dir: TO_DEV, timeNs: s('1.2004') },
      { hex: '03 02 00 00 0e 00 00 00 10 00 00 00 02 00', dir: TO_DRV, timeNs: s('1.2007') },
      { hex: '02 81 00 00 20 00 01 00 11 22 33 44 55 66 77 88 00 00 00 00 00 00 00 00 00 04 00 00 00 00 00 00', dir: TO_DEV, timeNs: s('1.2011') },
      { hex: '03 81 00 00 0a 00 01 00 00 00', dir: TO_DRV, timeNs: s('1.2015') },
      { hex: '00 02 01 00 06 00', dir: TO_DEV, timeNs: s('1.202') },
      { hex: '01 02 01 00 1e 00 04 00 00 00 51 45 4d 55 40 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00', dir: TO_DRV, timeNs: s('1.20225') },
      { hex: '02 82 00 00 08 00 01 00', dir: TO_DEV, timeNs: s('2.5') },
      { hex: '03 82 00 00 0a 00 01 00 02 00', dir: TO_DRV, timeNs: s('2.5003') },
    ],
  },
  qemu: {
    text: QEMU,
    revision: 'r3',
    messages: [
      { hex: '00 02 00 00 00 00 08 00', dir: TO_DEV, timeNs: null },
      { hex: '01 02 00 00 00 00 20 00 22 00 00 00 51 45 4d 55 40 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00', dir: TO_DRV, timeNs: null },
      { hex: '00 08 00 00 00 00 0c 00 0f 00 00 00', dir: TO_DEV, timeNs: null },
      { hex: '01 08 00 00 00 00 0c 00 0f 00 00 00', dir: TO_DRV, timeNs: null },
      { hex: '00 42 00 00 00 00 0c 00 00 00 00 00', dir: TO_DRV, timeNs: null },
    ],
  },
  xen: {
    text: XEN,
    revision: 'r2',
    messages: [
      { hex: '00 02 00 00 06 00', dir: TO_DEV, timeNs: s('10.0001') },
      { hex: '01 02 00 00 1e 00 22 00 00 00 51 45 4d 55 40 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00', dir: TO_DRV, timeNs: s('10.00025') },
      { hex: '00 0a 00 00 2a 00 00 00 00 00 00 00 00 00 08 00 00 00 00 00 00 40 00 00 00 00 00 10 00 40 00 00 00 00 00 20 00 40 00 00 00 00', dir: TO_DEV, timeNs: s('10.0004') },
      { hex: '01 0a 00 00 06 00', dir: TO_DRV, timeNs: s('10.00055') },
      { hex: '00 41 00 00 0e 00 00 00 00 00 00 00 00 00', dir: TO_DEV, timeNs: s('10.001') },
      { hex: '00 42 00 00 0a 00 00 00 00 00', dir: TO_DRV, timeNs: s('10.0012') },
    ],
  },
  optee: {
    text: OPTEE,
    revision: 'r3',
    messages: [
      { hex: '02 80 00 00 00 00 1a 00', dir: TO_DEV, timeNs: null },
      { hex: '02 02 00 00 00 00 0c 00', dir: TO_DEV, timeNs: null },
      { hex: '00 02 01 00 00 00 08 00', dir: TO_DEV, timeNs: null },
    ],
  },
  hex: {
    text: HEX,
    revision: 'r4',
    messages: [
      { hex: '00 02 01 00 01 00 08 00', dir: TO_DEV, timeNs: s('0.0001') },
      { hex: '01 02 01 00 01 00 34 00 22 00 00 00 51 45 4d 55 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00', dir: TO_DRV, timeNs: s('0.00016') },
      { hex: '00 07 01 00 02 00 08 00', dir: TO_DEV, timeNs: s('0.0002') },
      { hex: '01 07 01 00 02 00 0c 00 0f 00 00 00', dir: TO_DRV, timeNs: s('0.00023') },
    ],
  },
};

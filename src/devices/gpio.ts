/** virtio-gpio (device id 41): feature bits and config layout only (Appendix D); no driver or model. */
import { DEVICE_ID } from '../protocol/names';
import type { DeviceDescriptor } from './descriptor';

export const GPIO_DEVICE = {
  id: DEVICE_ID.GPIO,
  name: 'gpio',
  features: { IRQ: 0 },
  config: [
    { name: 'ngpio', offset: 0, size: 2, type: 'le16' },
    { name: 'padding', offset: 2, size: 2, type: 'padding' },
    { name: 'gpio_names_size', offset: 4, size: 4, type: 'le32' },
  ],
  workloads: [],
} satisfies DeviceDescriptor;

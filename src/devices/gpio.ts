/** virtio-gpio (device id 41): config layout only (Appendix D). */
import type { ConfigFieldSpec } from './config';

export const GPIO_CONFIG: readonly ConfigFieldSpec[] = [
  { name: 'ngpio', offset: 0, size: 2, type: 'le16' },
  { name: 'padding', offset: 2, size: 2, type: 'padding' },
  { name: 'gpio_names_size', offset: 4, size: 4, type: 'le32' },
];

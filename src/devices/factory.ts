import { ConsoleDeviceModel, type ConsoleModelOptions } from './console';
import { I2cDeviceModel, type I2cModelOptions } from './i2c';
import type { DeviceModel } from './model';
import { RngDeviceModel, type RngModelOptions } from './rng';

export interface DeviceModelOptions {
  i2c: I2cModelOptions;
  rng: RngModelOptions;
  console: ConsoleModelOptions;
}
export type DeviceKind = keyof DeviceModelOptions;

/** A simulated device of `kind` (the rng needs its seed; the others have defaults). */
export function createDeviceModel<K extends DeviceKind>(kind: K, options: DeviceModelOptions[K]): DeviceModel {
  switch (kind) {
    case 'i2c':
      return new I2cDeviceModel(options as I2cModelOptions);
    case 'rng':
      return new RngDeviceModel(options as RngModelOptions);
    case 'console':
      return new ConsoleDeviceModel(options as ConsoleModelOptions);
  }
  throw new RangeError(`unknown device kind ${String(kind)}`);
}

export * from './layout';
export * from './problem';
export * from './alloc';
export * from './chain';
export * from './driverRing';
export * from './deviceRing';
export * from './inspect';

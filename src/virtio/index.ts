export * from './layout';
export * from './problem';
export * from './alloc';
export * from './chain';
export * from './driver';
export * from './device';
export * from './inspect';

/** The AMP bus: memory windows, links, the four queue formats and the endpoint. */
export * from './window';
export * from './link';
export * from './queue';
export * from './formats/index';
export * from './endpoint';

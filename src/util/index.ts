export * from './errors.ts';
export * from './digest.ts';
export * from './events.ts';

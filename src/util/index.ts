export * from './errors.ts';
export * from './digest.ts';

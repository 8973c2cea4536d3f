export * from './mediatypes.ts';
export type * from './types.ts';
export * from './reference.ts';

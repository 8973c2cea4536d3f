/** Trust: signing keys, simple-signing payloads and their registry layout, policies, SBOMs and vulnerability scans. */
export * from './keys.ts';
export * from './payload.ts';
export * from './layout.ts';
export * from './sign.ts';
export * from './policy.ts';
export * from './evaluate.ts';
export * from './gpg.ts';

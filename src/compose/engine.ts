/** The engine-facing half of compose, loaded through `engine()` in index.ts. */
export { stopAndRemove, stopTimeout } from './remove.ts';
export { buildImage, ensureImages, pullImage } from './images.ts';
export { stopContainer } from './hooks.ts';
export { containerHealth } from './readiness.ts';
export { startServices, waitReady } from './start.ts';
export { create, listProjects, prepareRun, up } from './up.ts';
export { down } from './down.ts';

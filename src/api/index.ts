export { createApiServer, type ServerOptions } from './server.ts';
export { Router, type Handler } from './router.ts';
export { httpStatus } from './errors.ts';
export { API_VERSION, MIN_API_VERSION, MAX_API_VERSION, compareVersions } from './version.ts';
export { imageRoutes, type Archives, type ImageHandlerDeps } from './handlers/images.ts';
export { systemRoutes, type SystemDeps } from './handlers/system.ts';
export { containerRoutes, type ContainerHandlerDeps } from './handlers/containers.ts';
export { volumeRoutes } from './handlers/volumes.ts';
export { execRoutes } from './handlers/exec.ts';

/** The registry client: pull, push and login against OCI distribution / Docker registry v2 servers. */
export {
  DEFAULT_REGISTRY_CONFIG,
  type RegistryConfig,
  type RegistryAuth,
  type JSONMessage,
  type PullOptions,
  type PullResult,
  type PushOptions,
  type PushResult,
  type LoginResult,
} from './types.ts';
export { pullImage } from './pull.ts';
export { pushImage } from './push.ts';
export { checkLogin, registryOfAddress } from './login.ts';
export { RemoteRepository, withRepository } from './artifacts.ts';
export { inspectDistribution, searchRegistry, splitSearchTerm } from './inspect.ts';
export { openSession, Session, type FetchedManifest } from './client.ts';
export { Transport, type Endpoint, type RegistryResponse } from './transport.ts';
export { repoScope } from './auth.ts';

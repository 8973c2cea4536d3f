export { DEFAULT_REGISTRY_CONFIG, type RegistryConfig, type RegistryAuth, type JSONMessage, type PullOptions, type PullResult, type PushOptions, type PushResult, type LoginResult } from './types.ts';
export { pullImage } from './pull.ts';
export { pushImage } from './push.ts';
export { checkLogin } from './login.ts';

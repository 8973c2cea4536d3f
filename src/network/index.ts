/**
 * Networks: the predefined `bridge`, `host` and `none`, user-defined bridge networks, IPAM, published ports and
 * container DNS, driven through netavark (+ aardvark-dns). The container service calls `prepare` at create,
 * `setUp` before the runtime creates a container, `tearDown` when it stops and `release` when it is removed;
 * the API calls the `docker network` operations (list/inspect/create/remove/prune/connect/disconnect).
 */
export {
  NetworkService,
  type NetworkServiceDeps,
  type NetworkConfig,
  type ContainerLink,
  type ContainerLookup,
  type SandboxRequest,
  type Sandbox,
  type NetworkFilters,
} from './service.ts';
export type {
  Network,
  NetworkContainer,
  IPAMConfig,
  CreateNetworkRequest,
  ConnectRequest,
  EndpointRequest,
  EndpointSettings,
  NetworkSettings,
  PortBinding,
} from './types.ts';
export { parsePortKey, type PortMapping } from './ports.ts';
export { buildHosts, buildResolvConf } from './etc.ts';

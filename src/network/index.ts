/**
 * Networks: the predefined `bridge`, `host` and `none`, user-defined bridge networks, IPAM, published ports and
 * container DNS. `NetworkService` serves `docker network …`; its `sandboxes` are each container's side, which the
 * container service calls: `prepare` at create, `setUp` before the runtime creates a container, `tearDown` when it
 * stops and `release` when it is removed. The backend (Berth's own bridge backend, or netavark) is built by the
 * daemon and passed in.
 */
export {
  NetworkService,
  type NetworkServiceDeps,
  type NetworkConfig,
  type NetworkFilters,
} from './service.ts';
export type { ContainerLink, ContainerLookup, NamespaceRef, SandboxRequest, Sandbox } from './model.ts';
export { Sandboxes } from './sandbox.ts';
export type {
  NetworkBackend,
  ContainerNetworks,
  NetworkDefinition,
  EndpointOptions,
  PortForward,
  BackendRepair,
} from './backend.ts';
export { BridgeBackend, type BridgeBackendOptions } from './bridge.ts';
export { NetavarkBackend, findHelper, type NetavarkOptions } from './netavark.ts';
export type { PortMapping } from './ports.ts';

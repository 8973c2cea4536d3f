/** The registry server (`berth registry …`): its entry point for the CLI, and its parts for tests and benchmarks. */
export { registryMain, type RegistryCommandContext, type RegistryStreams } from './main.ts';

/**
 * The container record as the service stores it, and the shapes its parts share. Types only: every module of
 * this folder imports them from here, none from service.ts.
 */
import type { ContainerRow } from '../metadata/index.ts';
import type { ImageRunConfig } from '../oci/types.ts';
import type { HostConfig } from '../engine-api/containers.ts';
import type { ContainerState } from './state.ts';

/** A resolved mount of a container, in the shape of inspect's `Mounts`. */
export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
  /** tmpfs options (--tmpfs or --mount type=tmpfs). */
  TmpfsOptions?: string[];
  /** The volume was created for this container (anonymous): `rm -v` removes it. */
  Anonymous?: boolean;
}

/** What is stored per container besides its state. */
export interface StoredConfig {
  Config: ImageRunConfig & { StopTimeout?: number };
  Path: string;
  Args: string[];
  Mounts: MountPoint[];
}

/** One container: its record with the config, host config and state as this folder writes them. */
export type Row = ContainerRow<StoredConfig, HostConfig, ContainerState>;

/** `POST /containers/{id}/wait`'s `condition`. */
export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

/** What `/wait` answers. */
export interface WaitResult {
  StatusCode: number;
  Error: { Message: string } | null;
}

export interface LogsOptions {
  follow?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  since?: bigint;
  until?: bigint;
  tail?: number;
  signal?: AbortSignal;
}

/**
 * The Docker Engine API's exec shapes (`POST /containers/{id}/exec`, `/exec/{id}/start`, `/exec/{id}/json`), as
 * moby's `api/swagger.yaml` (v1.50) names them. Types only, imported with `import type`.
 */

/** The body of `POST /containers/{id}/exec`. */
export interface ExecConfig {
  User?: string;
  Privileged?: boolean;
  Tty?: boolean;
  ConsoleSize?: [number, number] | null;
  AttachStdin?: boolean;
  AttachStderr?: boolean;
  AttachStdout?: boolean;
  Detach?: boolean;
  DetachKeys?: string;
  Env?: string[] | null;
  WorkingDir?: string;
  Cmd: string[];
}

/** The body of `POST /exec/{id}/start`. */
export interface ExecStartConfig {
  Detach?: boolean;
  Tty?: boolean;
  ConsoleSize?: [number, number] | null;
}

/** `GET /exec/{id}/json`. */
export interface ExecInspect {
  ID: string;
  Running: boolean;
  ExitCode: number | null;
  ContainerID: string;
  Pid?: number;
  [key: string]: unknown;
}

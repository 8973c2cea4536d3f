/**
 * The Docker Engine API's image shapes, as moby's `api/swagger.yaml` (v1.50) names them: what berthd writes and
 * what the client reads. Types only: both sides import them with `import type`, so no code crosses.
 * Fields older API versions had are optional and marked with the version that dropped them.
 */

/** One entry of `GET /images/json`. */
export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  /** Seconds since the epoch. */
  Created: number;
  Size: number;
  SharedSize: number;
  /** Before API 1.44. */
  VirtualSize?: number;
  Labels: Record<string, string> | null;
  Containers: number;
}

/** An image's run configuration, as `GET /images/{name}/json` shows it (every field, with nulls). */
export interface ImageInspectConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: Record<string, object> | null;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | null;
  /** Durations in nanoseconds; `Test: ["NONE"]` turns a base image's check off. */
  Healthcheck?: {
    Test?: string[] | null;
    Interval?: number;
    Timeout?: number;
    StartPeriod?: number;
    StartInterval?: number;
    Retries?: number;
  } | null;
  ArgsEscaped?: boolean;
  Image?: string;
  Volumes?: Record<string, object> | null;
  WorkingDir?: string;
  Entrypoint?: string[] | null;
  OnBuild?: string[] | null;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  Shell?: string[] | null;
}

/** `GET /images/{name}/json`. */
export interface ImageInspect {
  Id: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Parent?: string;
  Comment?: string;
  /** RFC 3339. */
  Created?: string;
  DockerVersion?: string;
  Author?: string;
  Config?: ImageInspectConfig | null;
  Architecture?: string;
  Variant?: string;
  Os?: string;
  OsVersion?: string;
  Size?: number;
  /** Before API 1.44. */
  VirtualSize?: number;
  GraphDriver?: { Name: string; Data: Record<string, string> | null };
  RootFS?: { Type: string; Layers?: string[] };
  Metadata?: { LastTagTime?: string };
  /** Before API 1.45. */
  Container?: string;
  /** Before API 1.45. */
  ContainerConfig?: ImageInspectConfig | null;
  /** API 1.48 on: the manifest's descriptor. */
  Descriptor?: { mediaType: string; digest: string; size: number };
  [key: string]: unknown;
}

/** One entry of `GET /images/{name}/history`, newest first. */
export interface ImageHistoryItem {
  Id: string;
  /** Seconds since the epoch. */
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

/** One entry of `DELETE /images/{name}` and of a prune report. */
export interface ImageDeleteItem {
  Untagged?: string;
  Deleted?: string;
}

/** `POST /images/prune`. */
export interface ImagePruneReport {
  ImagesDeleted: ImageDeleteItem[] | null;
  SpaceReclaimed: number;
}

/** Berth addition: `POST /images/{name}/rollback?to=DIGEST`. */
export interface ImageRollbackResult {
  Name: string;
  From: string | null;
  To: string;
}

/** Berth addition: one entry of `GET /images/{name}/taghistory`, newest first. */
export interface TagHistoryEntry {
  Digest: string | null;
  ImageID: string | null;
  /** RFC 3339. */
  Time: string;
  Action: string;
  /** Whether the image of that version is still stored. */
  Exists?: boolean;
}

/** The progress part of a JSON message. */
export interface JSONProgress {
  current?: number;
  total?: number;
  start?: number;
  hidecounts?: boolean;
  units?: string;
}

/** A progress or result message of a JSON-lines stream (load, import, pull, push, build). */
export interface JSONMessage {
  stream?: string;
  status?: string;
  progressDetail?: JSONProgress;
  /** Deprecated pre-formatted progress text. */
  progress?: string;
  id?: string;
  from?: string;
  time?: number;
  timeNano?: number;
  errorDetail?: { code?: number; message?: string };
  /** Deprecated; same as errorDetail.message. */
  error?: string;
  aux?: unknown;
}

/**
 * Credentials as the Engine API carries them (`X-Registry-Auth`, the body of `POST /auth`): Docker's AuthConfig.
 */
export interface AuthConfig {
  username?: string;
  password?: string;
  /** base64 of `username:password` (config.json's form). */
  auth?: string;
  /** A refresh token from an earlier login, used to get bearer tokens. */
  identitytoken?: string;
  /** A bearer token to send as is. */
  registrytoken?: string;
  serveraddress?: string;
  email?: string;
}

/** `POST /auth`'s answer. */
export interface AuthResponse {
  Status: string;
  IdentityToken?: string;
}

/** `GET /distribution/{name}/json`: the manifest a registry serves for a name, and the platforms it covers. */
export interface DistributionInspect {
  Descriptor: { mediaType: string; digest: string; size: number; urls?: string[] };
  Platforms: { architecture: string; os: string; 'os.version'?: string; variant?: string; 'os.features'?: string[] }[];
}

/** One entry of `GET /images/search` (swagger's `ImageSearchResponseItem`, moby's `registry.SearchResult`). */
export interface SearchResult {
  description: string;
  is_official: boolean;
  is_automated: boolean;
  name: string;
  star_count: number;
}

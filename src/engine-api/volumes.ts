/**
 * The Docker Engine API's volume shapes, as moby's `api/swagger.yaml` (v1.50) names them: what berthd writes and
 * what the client reads. Types only, imported with `import type`.
 */

/** `GET /volumes/{name}`, the entries of `GET /volumes`, and the answer of `POST /volumes/create`. */
export interface Volume {
  Name: string;
  Driver: string;
  Mountpoint: string;
  /** RFC 3339 with the local offset. */
  CreatedAt?: string;
  Labels: Record<string, string> | null;
  Scope: string;
  Options: Record<string, string> | null;
  Status?: Record<string, unknown> | null;
  UsageData?: { Size: number; RefCount: number } | null;
  [key: string]: unknown;
}

/** `GET /volumes`. */
export interface VolumeListResponse {
  Volumes: Volume[] | null;
  Warnings: string[] | null;
}

/** The body of `POST /volumes/create`. */
export interface VolumeCreateRequest {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string>;
  Labels?: Record<string, string>;
}

/** `POST /volumes/prune`. */
export interface VolumePruneReport {
  VolumesDeleted: string[] | null;
  SpaceReclaimed: number;
}

/** The registry client's configuration, credentials and progress messages: what the daemon and the API hand in. */
import type { AuthConfig, AuthResponse, JSONMessage } from '../../engine-api/images.ts';

export type { JSONMessage };
import type { Reference } from '../../oci/reference.ts';
import type { ProxySettings } from '../../util/proxy.ts';
import type { RemoteRepository } from './artifacts.ts';

/**
 * How berthd talks to registries (daemon.json's `insecure-registries`, `registry-mirrors`, certs.d, proxies).
 * The daemon builds one and passes it to every pull, push and login; nothing here reads `process.env`.
 */
export interface RegistryConfig {
  /**
   * Registries that may be reached without verified TLS: `host[:port]` or a CIDR (`10.0.0.0/8`). For these,
   * https is tried first (without verifying the certificate) and plain http after, as Docker does.
   * 127.0.0.0/8 and ::1 are always insecure, as in Docker.
   */
  insecureRegistries: string[];
  /**
   * Pull-through mirrors, tried in order before the registry itself (pulls only). A list mirrors Docker Hub
   * only (Docker's `registry-mirrors`); a record maps a registry host (`docker.io`, `127.0.0.1:5000`) to its
   * mirrors, so Berth mirrors any registry. A mirror is a URL (`http://127.0.0.1:5001`, `https://m.example`);
   * a bare `host[:port]` means https.
   */
  mirrors: Record<string, string[]> | string[];
  /** certs.d root: `<certsDir>/<host[:port]>/*.crt` are CAs, `client.cert` + `client.key` a client certificate. */
  certsDir: string;
  /**
   * Blob downloads at once in one pull (default 3). Blobs up to 1 MiB, bound by round trips rather than
   * bandwidth, download in a pool of their own four times as wide.
   */
  maxConcurrentDownloads: number;
  /** Blob uploads at once in one push (default 5). */
  maxConcurrentUploads: number;
  /** A connection that cannot be made in this time fails (default 10 000 ms). */
  connectTimeoutMs?: number;
  /** A response (headers or body) that sends nothing for this long fails (default 60 000 ms; tests use 2 000). */
  idleTimeoutMs?: number;
  /**
   * Proxies, as the daemon reads them from HTTP_PROXY/HTTPS_PROXY/NO_PROXY. `noProxy` is a comma list of
   * hosts, domain suffixes (`.example.com`), IPs, CIDRs or `*`; loopback never goes through a proxy (util/proxy.ts
   * holds the rule).
   */
  proxy?: ProxySettings;
  /** Blobs up to this size are uploaded in one PUT; larger ones in PATCH chunks (default 8 MiB). */
  monolithicMax?: number;
  /** Size of each PATCH of a chunked upload (default 64 MiB). */
  chunkSize?: number;
}

/** The defaults dockerd uses. */
export const DEFAULT_REGISTRY_CONFIG: RegistryConfig = {
  insecureRegistries: [],
  mirrors: [],
  certsDir: '/etc/berth/certs.d',
  maxConcurrentDownloads: 3,
  maxConcurrentUploads: 5,
};

/** Credentials as the Engine API carries them (`X-Registry-Auth`, `POST /auth`): Docker's AuthConfig. */
export type RegistryAuth = AuthConfig;

/** Options of a pull. */
export interface PullOptions {
  /** `os/arch[/variant]`; the host's platform when absent. */
  platform?: string;
  /** Pull every tag of the repository (`docker pull -a`). */
  allTags?: boolean;
  auth?: RegistryAuth;
  signal?: AbortSignal;
  onProgress?: (m: JSONMessage) => void;
  /**
   * Called with each reference's top manifest (an index's, for a multi-platform image) before anything of it
   * is downloaded, and the repository over the pull's own connection (for reading signatures); a rejection fails
   * the pull and nothing of the image is stored (berthd's signature policy).
   */
  verify?: (
    ref: Reference,
    manifest: { digest: string; mediaType: string; size: number },
    repository: RemoteRepository,
  ) => Promise<void>;
}

/** What a pull made: each image pulled, its ID (config digest), the name pulled and the digest pulled by. */
export interface PullResult {
  images: { id: string; name: string; digest: string }[];
}

/** Options of a push. */
export interface PushOptions {
  /** Push every tag of the repository held locally (`docker push -a`). */
  allTags?: boolean;
  auth?: RegistryAuth;
  signal?: AbortSignal;
  onProgress?: (m: JSONMessage) => void;
}

/** What a push sent: each tag with the manifest digest and size the registry now has. */
export interface PushResult {
  pushed: { tag: string; digest: string; size: number }[];
}

/** `POST /auth`'s answer. */
export type LoginResult = AuthResponse;

/**
 * Which endpoint of a group of a registry's endpoints last answered `/v2/` (its index), when, and the challenge it
 * gave, by the group (distribution/remote/client.ts `openSession`): one map for the daemon's life, for its pulls.
 */
export type KeptPings = Map<string, { at: number; index: number; challenge: string | string[] | undefined }>;

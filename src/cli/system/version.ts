import { errorMessage } from '../../util/errors.ts';
import { MAX_API_VERSION, negotiateVersion, type EngineClient, type SystemVersion } from '../../client/index.ts';
import type { OutStream } from '../command.ts';
import { TabWriter } from '../format/tabwriter.ts';
import { reformatDate } from '../units.ts';

export interface VersionOptions {
  format: string;
}

/** The client half of `berth version` (Berth's own fields where docker shows Go's). */
export interface ClientVersion {
  Version: string;
  ApiVersion: string;
  DefaultAPIVersion: string;
  NodeVersion: string;
  Os: string;
  Arch: string;
}

export interface VersionData {
  Client: ClientVersion;
  Server: (SystemVersion & { APIVersion?: string }) | null;
}

/** Node's names for architectures, spelled as Go's GOARCH (docker prints those). */
export function goArch(arch: string = process.arch): string {
  const map: Record<string, string> = {
    x64: 'amd64',
    ia32: '386',
    arm64: 'arm64',
    arm: 'arm',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
  };
  return map[arch] ?? arch;
}

/** Makes sure there is an `Engine` component, synthesised from top-level fields as docker does. */
export function withEngineComponent(sv: SystemVersion): SystemVersion {
  const components = [...(sv.Components ?? [])].map((c) => ({
    ...c,
    Details: c.Details === undefined || c.Details === null ? {} : { ...c.Details },
  }));
  const engine = components.find((c) => c.Name === 'Engine');
  if (engine !== undefined) {
    const bt = engine.Details.BuildTime;
    if (bt !== undefined) engine.Details.BuildTime = reformatDate(bt);
  } else {
    components.push({
      Name: 'Engine',
      Version: sv.Version ?? '',
      Details: {
        ApiVersion: sv.ApiVersion ?? '',
        MinAPIVersion: sv.MinAPIVersion ?? '',
        GitCommit: sv.GitCommit ?? '',
        GoVersion: sv.GoVersion ?? '',
        Os: sv.Os ?? '',
        Arch: sv.Arch ?? '',
        BuildTime: reformatDate(sv.BuildTime ?? ''),
        Experimental: String(sv.Experimental ?? false),
      },
    });
  }
  return { ...sv, Components: components };
}

/** docker's default version template, drawn directly (tab-separated, aligned by the tabwriter). */
export function defaultVersionText(v: VersionData): string {
  const c = v.Client;
  let s = 'Client:\n';
  s += ` Version:\t${c.Version}\n`;
  s += ` API version:\t${c.ApiVersion}${c.ApiVersion !== c.DefaultAPIVersion ? ` (downgraded from ${c.DefaultAPIVersion})` : ''}\n`;
  s += ` Node version:\t${c.NodeVersion}\n`;
  s += ` OS/Arch:\t${c.Os}/${c.Arch}`;
  const server = v.Server;
  if (server !== null) {
    const platform = server.Platform?.Name ?? '';
    s += `\n\nServer:${platform !== '' ? ` ${platform}` : ''}`;
    for (const comp of server.Components ?? []) {
      const d = comp.Details ?? {};
      s += `\n ${comp.Name}:`;
      if (comp.Name === 'Engine') {
        s += `\n  Version:\t${comp.Version}`;
        s += `\n  API version:\t${d.ApiVersion ?? ''} (minimum version ${d.MinAPIVersion ?? ''})`;
        s += `\n  Go version:\t${d.GoVersion ?? ''}`;
        s += `\n  Git commit:\t${d.GitCommit ?? ''}`;
        s += `\n  Built:\t${d.BuildTime ?? ''}`;
        s += `\n  OS/Arch:\t${d.Os ?? ''}/${d.Arch ?? ''}`;
        s += `\n  Experimental:\t${d.Experimental ?? ''}`;
      } else {
        s += `\n  Version:\t${comp.Version}`;
        for (const key of Object.keys(d).sort()) s += `\n  ${key}:\t${d[key] ?? ''}`;
      }
    }
  }
  return s;
}

/**
 * `berth version`: the client section always prints; the server section when the engine answers.
 * An unreachable engine is still an error (exit 1) after the client part, as with docker.
 */
export async function showVersion(
  client: EngineClient,
  out: OutStream,
  clientVersion: string,
  opts: VersionOptions,
  signal?: AbortSignal,
): Promise<void> {
  // The template code is loaded only for --format: the plain output is drawn by defaultVersionText.
  const output = opts.format === '' ? undefined : await import('../output.ts');
  const template =
    output === undefined
      ? undefined
      : await output.compileFormat(opts.format === 'json' ? '{{json .}}' : opts.format, {
          name: 'version',
          execPrefix: '',
        });
  let apiVersion = MAX_API_VERSION;
  let server: SystemVersion | null = null;
  let failure: unknown;
  try {
    // One request where docker's CLI makes two (a ping to negotiate, then /v1.xx/version): the unversioned
    // /version is answered at the engine's own API version, the one its ping reports, so the negotiated
    // version follows from the answer. A start-up cost of every `berth version` (bench/README.md, issue 9).
    const answer = await client.version({ signal, versioned: false });
    apiVersion = negotiateVersion(answer.ApiVersion);
    server = withEngineComponent(answer);
  } catch (err) {
    failure = err;
  }
  const data: VersionData = {
    Client: {
      Version: clientVersion,
      ApiVersion: apiVersion,
      DefaultAPIVersion: MAX_API_VERSION,
      NodeVersion: process.version,
      Os: process.platform,
      Arch: goArch(),
    },
    // Docker's Go struct calls the field APIVersion (its JSON name is ApiVersion); templates use the Go name.
    Server: server === null ? null : { ...server, APIVersion: server.ApiVersion ?? '' },
  };
  let text: string;
  try {
    text =
      template === undefined
        ? defaultVersionText(data)
        : template(
            await output!.asGoStruct(
              { ...data, Client: await output!.asGoStruct(data.Client, 'system.clientVersion') },
              'system.versionInfo',
            ),
          );
  } catch (err) {
    failure ??= err;
    text = '';
  }
  out.write(TabWriter.format(`${text}\n`, { minWidth: 20, padding: 1 }));
  if (failure !== undefined) throw failure instanceof Error ? failure : new Error(errorMessage(failure));
}

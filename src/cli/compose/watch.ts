import { existsSync, statSync, watch } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';
import { containerName, projectContainers, type Project, type WatchRule, engine } from '../../compose/index.ts';
import { BerthError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../../util/errors.ts';
import { ExitStatusError } from '../errors.ts';
import { type PackEntry, pack } from '../../util/tar/index.ts';
import type { ComposeInvocation } from './main.ts';

/**
 * `watch`: the `develop.watch` rules of the services: `sync` copies changed files into the running containers
 * (and removes deleted ones), `sync+restart` also restarts them, `sync+exec` then runs the rule's `exec` command in
 * each of them (at once, output to this terminal), `restart` only restarts, `rebuild` builds the image and
 * recreates the service. Changes are gathered for 300 ms before they are applied. A sync rule with `initial_sync`
 * first copies the files of its path changed since the service's image was made, as Docker Compose does, before
 * watching starts.
 */

const DEBOUNCE_MS = 300;

const SYNC_ACTIONS: ReadonlySet<WatchRule['action']> = new Set(['sync', 'sync+restart', 'sync+exec']);

/** A path (relative to the rule's path, `/`-separated) the rule leaves alone: its `ignore` list, and `.git`. */
function ignored(rule: WatchRule, rel: string): boolean {
  if (rel.split('/').includes('.git')) return true;
  return rule.ignore.some((i) => rel === i.replace(/\/$/, '') || rel.startsWith(`${i.replace(/\/$/, '')}/`));
}

/** Runs a command in a container and waits for it to end. */
async function execWait(inv: ComposeInvocation, id: string, cmd: string[]): Promise<void> {
  const exec = await inv.compose.client.execCreate(id, { Cmd: cmd });
  await inv.compose.client.execStart(exec.Id, { Detach: true });
  const deadline = Date.now() + 10_000;
  while ((await inv.compose.client.execInspect(exec.Id)).Running && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function syncFile(
  inv: ComposeInvocation,
  project: Project,
  service: string,
  rule: WatchRule,
  file: string,
): Promise<void> {
  if (rule.target === undefined) return;
  const rel = relative(rule.path, file).split(sep).join('/');
  const target = rel === '' ? rule.target : posix.join(rule.target, rel);
  const containers = await projectContainers(inv.compose, project.name, { services: [service], all: false });
  for (const c of containers) {
    if (existsSync(file) && statSync(file).isFile()) {
      const body = await readFile(file);
      const chunks: Buffer[] = [];
      for await (const chunk of pack([
        { header: { name: posix.basename(target), mode: statSync(file).mode & 0o7777 }, body },
      ]))
        chunks.push(chunk);
      const tar = Buffer.concat(chunks);
      try {
        await inv.compose.client.containerArchivePut(c.Id, posix.dirname(target), tar);
      } catch (err) {
        // A file in a directory the container does not have yet: make the directory, then copy.
        if (!(err instanceof NotFoundError)) throw err;
        await execWait(inv, c.Id, ['mkdir', '-p', posix.dirname(target)]);
        await inv.compose.client.containerArchivePut(c.Id, posix.dirname(target), tar);
      }
    } else if (!existsSync(file)) {
      await execWait(inv, c.Id, ['rm', '-rf', target]);
    }
  }
  inv.compose.reporter.event('Sync', service, 'Synced', target);
}

async function restart(inv: ComposeInvocation, project: Project, service: string): Promise<void> {
  for (const c of await projectContainers(inv.compose, project.name, { services: [service], all: false })) {
    await inv.compose.client.containerRestart(c.Id);
    inv.compose.reporter.event('Container', containerName(c), 'Restarted');
  }
}

/** `sync+exec`: the rule's command in every running container of the service, as `exec -T` would run it. */
async function execHook(inv: ComposeInvocation, project: Project, service: string, rule: WatchRule): Promise<void> {
  const hook = rule.exec!;
  const { execInContainer } = await import('../container/exec.ts');
  const containers = await projectContainers(inv.compose, project.name, { services: [service], all: false });
  await Promise.all(
    containers.map(async (c) => {
      try {
        await execInContainer(inv.ctx.client(), inv.ctx.streams, {
          container: c.Id,
          command: hook.command,
          detach: false,
          interactive: false,
          tty: false,
          user: hook.user ?? '',
          privileged: hook.privileged ?? false,
          env: Object.entries(hook.environment ?? {})
            .filter((e): e is [string, string] => e[1] !== null)
            .map(([k, v]) => `${k}=${v}`),
          workdir: hook.working_dir ?? '',
          detachKeys: '',
        });
      } catch (err) {
        if (!(err instanceof ExitStatusError)) throw err;
        throw new BerthError(`exec in ${containerName(c)} exited with ${err.status}`);
      }
    }),
  );
}

/**
 * The tar entries of a rule's path as they go in at the parent of its target: the target (a file, or a directory
 * with the files below it changed after `since` in ms, and the directories that lead to them), ignored paths left
 * out. Empty when nothing is newer.
 */
export async function initialEntries(rule: WatchRule, target: string, since: number): Promise<PackEntry[]> {
  const top = posix.basename(target);
  const st = await lstat(rule.path).catch(() => undefined);
  if (st === undefined) return [];
  if (st.isFile()) {
    if (st.mtimeMs <= since) return [];
    return [
      { header: { name: top, mode: st.mode & 0o7777, mtime: st.mtimeMs / 1000 }, body: await readFile(rule.path) },
    ];
  }
  if (!st.isDirectory()) return [];
  const files: PackEntry[] = [];
  const dirs = new Map<string, PackEntry>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (ignored(rule, r)) continue;
      const host = join(dir, e.name);
      if (e.isDirectory()) {
        await walk(host, r);
        continue;
      }
      if (!e.isFile()) continue;
      const fst = await lstat(host);
      if (fst.mtimeMs <= since) continue;
      // The directories leading to the file, each once, before it.
      const parts = r.split('/');
      for (let i = 0; i < parts.length; i++) {
        const d = parts.slice(0, i).join('/');
        if (dirs.has(d)) continue;
        const dst = await lstat(join(rule.path, d));
        const entry = {
          header: { name: `${posix.join(top, d)}/`, type: 'directory' as const, mode: dst.mode & 0o7777 },
        };
        dirs.set(d, entry);
        files.push(entry);
      }
      files.push({
        header: { name: posix.join(top, r), mode: fst.mode & 0o7777, mtime: fst.mtimeMs / 1000 },
        body: await readFile(host),
      });
    }
  };
  await walk(rule.path, '');
  return files;
}

/** `initial_sync`: copies what changed since the image was made into each running container of the service. */
async function initialSync(inv: ComposeInvocation, project: Project, service: string, rule: WatchRule): Promise<void> {
  if (rule.target === undefined) return;
  const containers = await projectContainers(inv.compose, project.name, { services: [service], all: false });
  if (containers.length === 0) return;
  const image = await inv.compose.client.imageInspect(containers[0]!.ImageID);
  const since = Date.parse(image.Created ?? '') || 0;
  const entries = await initialEntries(rule, rule.target, since);
  if (entries.length === 0) return;
  const chunks: Buffer[] = [];
  for await (const chunk of pack(entries)) chunks.push(chunk);
  const tar = Buffer.concat(chunks);
  const parent = posix.dirname(rule.target);
  for (const c of containers) {
    try {
      await inv.compose.client.containerArchivePut(c.Id, parent, tar);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      await execWait(inv, c.Id, ['mkdir', '-p', parent]);
      await inv.compose.client.containerArchivePut(c.Id, parent, tar);
    }
  }
  const count = entries.filter((e) => e.header.type !== 'directory').length;
  inv.compose.reporter.event('Sync', service, 'Synced', `${rule.target} (${count} file${count === 1 ? '' : 's'})`);
}

export async function runWatch(inv: ComposeInvocation): Promise<void> {
  const { project } = inv.load(inv.args);
  const names = (inv.args.length > 0 ? inv.args : Object.keys(project.services)).filter(
    (n) => (project.services[n]?.develop?.watch.length ?? 0) > 0,
  );
  if (names.length === 0) {
    throw new FailedPreconditionError(
      "none of the selected services is configured for watch, consider setting a 'develop' section",
    );
  }
  for (const n of names) {
    for (const rule of project.services[n]!.develop!.watch) {
      if (rule.action === 'sync+exec' && (rule.exec?.command.length ?? 0) === 0) {
        throw new InvalidArgumentError(`can't watch with action "sync+exec" on service ${n} without a command`);
      }
    }
  }
  if (!inv.flags.bool('no-up')) await (await engine()).up(inv.compose, project, { services: names });
  for (const service of names) {
    for (const rule of project.services[service]!.develop!.watch) {
      if (rule.initial_sync === true && SYNC_ACTIONS.has(rule.action)) await initialSync(inv, project, service, rule);
    }
  }
  const watchers: ReturnType<typeof watch>[] = [];
  const pending = new Map<string, { service: string; rule: WatchRule; files: Set<string> }>();
  let timer: NodeJS.Timeout | undefined;
  let chain = Promise.resolve();
  const flush = () => {
    const batch = [...pending.values()];
    pending.clear();
    chain = chain.then(async () => {
      for (const { service, rule, files } of batch) {
        try {
          if (rule.action === 'rebuild') {
            await (await engine()).buildImage(inv.compose, project, project.services[service]!, {});
            await (await engine()).up(inv.compose, project, { services: [service], noDeps: true });
          } else {
            if (rule.action === 'sync' || rule.action === 'sync+restart' || rule.action === 'sync+exec') {
              for (const f of files) await syncFile(inv, project, service, rule, f);
            }
            if (rule.action === 'sync+restart' || rule.action === 'restart') await restart(inv, project, service);
            if (rule.action === 'sync+exec') await execHook(inv, project, service, rule);
          }
        } catch (err) {
          inv.compose.reporter.warn(`watch: ${service}: ${(err as Error).message}`);
        }
      }
    });
  };
  for (const service of names) {
    for (const rule of project.services[service]!.develop!.watch) {
      const w = watch(rule.path, { recursive: true }, (_event, name) => {
        const file = name === null ? rule.path : `${rule.path}${sep}${name}`;
        const rel = relative(rule.path, file).split(sep).join('/');
        if (ignored(rule, rel)) return;
        const key = `${service}\0${rule.path}\0${rule.action}`;
        const entry = pending.get(key) ?? { service, rule, files: new Set<string>() };
        entry.files.add(file);
        pending.set(key, entry);
        clearTimeout(timer);
        timer = setTimeout(flush, DEBOUNCE_MS);
      });
      watchers.push(w);
    }
  }
  inv.ctx.streams.err.write('Watch enabled\n');
  await new Promise<void>((resolve) => inv.ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
  for (const w of watchers) w.close();
  clearTimeout(timer);
  await chain;
}

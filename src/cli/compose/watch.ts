import { existsSync, statSync, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { posix, relative, sep } from 'node:path';
import { containerName, projectContainers, type Project, type WatchRule, engine } from '../../compose/index.ts';
import { BerthError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../../util/errors.ts';
import { ExitStatusError } from '../errors.ts';
import { pack } from '../../util/tar/index.ts';
import type { ComposeInvocation } from './main.ts';

/**
 * `watch`: the `develop.watch` rules of the services: `sync` copies changed files into the running containers
 * (and removes deleted ones), `sync+restart` also restarts them, `sync+exec` then runs the rule's `exec` command in
 * each of them (at once, output to this terminal), `restart` only restarts, `rebuild` builds the image and
 * recreates the service. Changes are gathered for 300 ms before they are applied.
 */

const DEBOUNCE_MS = 300;

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
        if (rule.ignore.some((i) => rel === i || rel.startsWith(`${i.replace(/\/$/, '')}/`))) return;
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

import type { ExecManager } from '../../containers/index.ts';
import type { ExecConfig, ExecStartConfig } from '../../engine-api/exec.ts';
import { InvalidArgumentError, errorMessage } from '../../util/errors.ts';
import { intParam, readJSONBody, sendJSON } from '../http.ts';
import type { Router } from '../router.ts';
import { parseDetachKeys, pipeSession } from '../session.ts';
import { frame, STDOUT } from '../stdcopy.ts';
import { versionAtLeast } from '../version.ts';

export function execRoutes(router: Router, execs: ExecManager): void {
  router
    .add('POST', '/containers/{id}/exec', async (req, res) => {
      const body = await readJSONBody<ExecConfig>(req.raw);
      if (!body) throw new InvalidArgumentError('exec config is empty');
      sendJSON(res, 201, execs.create(req.params.id!, body));
    })
    .add('POST', '/exec/{id}/start', async (req, res) => {
      const body = (await readJSONBody<ExecStartConfig>(req.raw)) ?? {};
      const id = req.params.id!;
      const info = execs.inspect(id);
      const tty = (info.ProcessConfig as { tty: boolean }).tty;
      if (body.Detach) {
        await execs.start(id, { detach: true });
        res.writeHead(200);
        res.end();
        return;
      }
      const multiplexed = !tty;
      // Hijack first, as dockerd does: a process that cannot start is reported on the stream (and in the exec's
      // exit code, which the CLI reads next), not as an HTTP error the CLI would not show.
      const { stream } = req.hijack(
        multiplexed && versionAtLeast(req.version, '1.42')
          ? 'application/vnd.docker.multiplexed-stream'
          : 'application/vnd.docker.raw-stream',
      );
      try {
        const started = await execs.start(id, { detach: false, consoleSize: body.ConsoleSize ?? undefined });
        if (!started.attach) {
          await started.exit;
          stream.end();
          return;
        }
        await pipeSession(started.attach, stream, {
          multiplexed,
          stdout: info.OpenStdout as boolean,
          stderr: info.OpenStderr as boolean,
          stdin: info.OpenStdin as boolean,
          detachKeys: tty ? parseDetachKeys((info.DetachKeys as string) || 'ctrl-p,ctrl-q') : [],
          beforeEnd: () => started.exit,
        });
      } catch (err) {
        const text = Buffer.from(`${errorMessage(err)}\r\n`);
        if (!stream.destroyed) stream.end(multiplexed ? frame(STDOUT, text) : text);
      }
    })
    .add('POST', '/exec/{id}/resize', async (req, res) => {
      const h = intParam(req.query, 'h');
      const w = intParam(req.query, 'w');
      if (h === undefined || w === undefined) throw new InvalidArgumentError('resize needs h and w');
      await execs.resize(req.params.id!, h, w);
      res.writeHead(200);
      res.end();
    })
    .add('GET', '/exec/{id}/json', (req, res) => sendJSON(res, 200, execs.inspect(req.params.id!)));
}

/**
 * The differential test: every scenario of test/differential/scenarios runs against a berthd and against Debian's
 * dockerd 20.10 (both started here, each seeded with the same busybox image), and what the clients saw is
 * compared. A difference not listed in test/differential/known.ts fails its scenario, with a readable diff.
 */
import { writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { api, run } from './harness.ts';
import { formatDifferences } from './differential/compare.ts';
import { busyboxArchive, referenceMissing, startBerth, startDocker, type Engine } from './differential/engines.ts';
import { DATA_DEPENDENT, DELIBERATE, GAPS } from './differential/known.ts';
import { runScenarios, type Outcome } from './differential/runner.ts';
import { SCENARIOS } from './differential/scenarios/index.ts';
import { DIFF_BRIDGE } from './differential/scenarios/resources.ts';

const missing = referenceMissing();

describe('differential: berthd against dockerd 20.10', {
  skip: missing && `reference engine unavailable: ${missing}`,
}, () => {
  let berth: Engine | undefined;
  let docker: Engine | undefined;
  let outcomes = new Map<string, Outcome>();

  before(async () => {
    const archive = await busyboxArchive();
    [berth, docker] = await Promise.all([startBerth(archive), startDocker(archive)]);
    const only = process.env.BERTH_DIFF_ONLY;
    const chosen = only ? SCENARIOS.filter((s) => s.name.includes(only)) : SCENARIOS;
    outcomes = await runScenarios(chosen, berth, docker, {
      deliberate: DELIBERATE,
      dataDependent: DATA_DEPENDENT,
      gaps: GAPS,
    });
    // Every difference, explained or not, as JSON lines: for working on the lists of known ones.
    const report = process.env.BERTH_DIFF_REPORT;
    if (report) {
      await writeFile(report, [...outcomes.values()].map((o) => `${JSON.stringify(o)}\n`).join(''));
      await writeFile(`${report}.berthd.log`, berth.log());
    }
  });

  after(async () => {
    for (const e of [berth, docker]) {
      if (!e) continue;
      // Containers outlive berthd (conmon): remove every one before the daemons stop.
      const r = await api(e.socket, 'GET', '/containers/json?all=1').catch(() => undefined);
      for (const ctr of r && r.status === 200 ? (JSON.parse(r.body) as { Id: string }[]) : [])
        await api(e.socket, 'DELETE', `/containers/${ctr.Id}?force=1&v=1`).catch(() => undefined);
    }
    await Promise.all([berth?.stop(), docker?.stop()]);
    // dockerd makes a user network's bridge at create and leaves it behind when it stops: a run that ended before
    // the networks scenario removed its network would leave the device on the host.
    await run('ip', ['link', 'del', DIFF_BRIDGE]);
  });

  it('berthd is still running after every scenario, and logged no leaked file handle', () => {
    if (!berth) throw new Error('berthd did not start');
    const log = berth.log();
    if (!berth.alive()) throw new Error(`berthd exited during the scenarios:\n${log.slice(-4000)}`);
    const leak = log.split('\n').find((l) => l.includes('on garbage collection'));
    if (leak) throw new Error(`berthd closed a FileHandle nobody closed: ${leak}`);
  });

  for (const s of SCENARIOS) {
    it(s.name, (t) => {
      const o = outcomes.get(s.name);
      if (!o) return t.skip('not selected (BERTH_DIFF_ONLY)');
      for (const { d, reason } of o.deliberate) t.diagnostic(`deliberate: ${d.step} › ${d.key} (${reason})`);
      for (const { d, reason } of o.dataDependent) t.diagnostic(`data-dependent: ${d.step} › ${d.key} (${reason})`);
      if (o.unexplained.length > 0) {
        // The diff is the message; a stack trace would only bury it.
        const err = new Error(`berthd and dockerd differ in ${s.name}:\n${formatDifferences(o.unexplained)}`);
        err.stack = err.message;
        throw err;
      }
      if (o.gaps.length > 0) {
        const ids = [...new Set(o.gaps.map((g) => g.id))].sort();
        t.diagnostic(formatDifferences(o.gaps.map((g) => g.d)));
        t.todo(`recorded gaps ${ids.join(', ')} (test/differential/GAPS.md)`);
      }
    });
  }
});

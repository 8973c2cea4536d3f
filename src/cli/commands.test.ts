import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { COMMANDS, TABLES } from './commands.ts';
import { WHERE } from './where.ts';

describe('the root of the command tree', () => {
  it('names every top-level command of every table, with the table that defines it', async () => {
    for (const [table, load] of Object.entries(TABLES)) {
      const defined = (await load()).TOP.map((c) => c.name).sort();
      const listed = Object.keys(WHERE)
        .filter((name) => WHERE[name] === table)
        .sort();
      assert.deepEqual(defined, listed, `table ${table}`);
    }
  });

  it('finds a command by name, loading only its table, and nothing for an unknown name', async () => {
    assert.equal((await COMMANDS.find('run'))?.use, 'run [OPTIONS] IMAGE [COMMAND] [ARG...]');
    assert.deepEqual((await COMMANDS.find('image'))?.subcommands?.map((c) => c.name).slice(0, 3), [
      'build',
      'history',
      'import',
    ]);
    assert.equal(await COMMANDS.find('bogus'), undefined);
    assert.equal(await COMMANDS.find('toString'), undefined);
  });

  it('lists every command once for the help, in name order', async () => {
    const names = (await COMMANDS.all()).map((c) => c.name);
    assert.deepEqual(names, [...new Set(names)].sort());
    assert.equal(names.length, Object.keys(WHERE).length);
  });
});

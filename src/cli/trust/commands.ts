import type { Command } from '../command.ts';
import { bool, list, str } from '../flags.ts';

/**
 * `berth trust …` (keys, signing, verification, inspection), `berth sbom` and `berth scan`: Berth's own commands.
 * Each `run` maps flags to options; the logic, and the trust code it uses, is imported when a command runs.
 */

const keys = () => import('./sign.ts');
const scans = () => import('./scan.ts');

export const trustGroup: Command = {
  name: 'trust',
  use: 'trust COMMAND',
  short: 'Sign images and verify their signatures',
  subcommands: [
    {
      name: 'key',
      use: 'key COMMAND',
      short: 'Manage signing keys',
      subcommands: [
        {
          name: 'generate',
          use: 'generate [OPTIONS]',
          short: 'Generate a cosign-format key pair (NAME.key, encrypted, and NAME.pub)',
          args: { none: true },
          flags: [str('output-key-prefix', 'Name of the key files', { defaultText: '"cosign"' })],
          run: async (ctx, inv) =>
            (await keys()).generateKey(ctx, { prefix: inv.flags.string('output-key-prefix') || 'cosign' }),
        },
        {
          name: 'import',
          use: 'import [OPTIONS] KEY_FILE',
          short: 'Import a PEM ECDSA P-256 private key as a cosign-format key pair',
          args: { exact: 1 },
          flags: [str('output-key-prefix', 'Name of the key files', { defaultText: '"import-cosign"' })],
          run: async (ctx, inv) =>
            (await keys()).importKey(ctx, inv.args[0]!, {
              prefix: inv.flags.string('output-key-prefix') || 'import-cosign',
            }),
        },
      ],
    },
    {
      name: 'sign',
      use: 'sign [OPTIONS] IMAGE[@DIGEST]',
      short: 'Sign an image in its registry',
      args: { exact: 1 },
      flags: [
        str('key', 'Cosign private key file'),
        str('gpg-key', 'Sign with this GPG key (fingerprint) through gpg, into the lookaside store'),
        list('annotation', 'Annotation to sign (key=value)', { short: 'a' }),
      ],
      run: async (ctx, inv) =>
        (await keys()).sign(ctx, inv.args[0]!, {
          key: inv.flags.string('key'),
          gpgKey: inv.flags.string('gpg-key'),
          annotations: inv.flags.list('annotation'),
        }),
    },
    {
      name: 'verify',
      use: 'verify [OPTIONS] IMAGE',
      short: 'Verify every signature of an image and show who signed what',
      args: { exact: 1 },
      flags: [
        str('key', 'Cosign public key file'),
        str('gpg-key-file', 'GPG public key file (verifies GPG simple signatures)'),
        str('format', 'Output format: "text" or "json"', { defaultText: '"text"' }),
      ],
      run: async (ctx, inv) =>
        (await keys()).verify(ctx, inv.args[0]!, {
          key: inv.flags.string('key'),
          gpgKeyFile: inv.flags.string('gpg-key-file'),
          format: inv.flags.string('format') || 'text',
        }),
    },
    {
      name: 'inspect',
      use: 'inspect [OPTIONS] IMAGE',
      short: 'List the signatures, SBOMs, scan reports and other referrers of an image',
      args: { exact: 1 },
      flags: [str('format', 'Output format: "text" or "json"', { defaultText: '"text"' })],
      run: async (ctx, inv) =>
        (await keys()).inspect(ctx, inv.args[0]!, { format: inv.flags.string('format') || 'text' }),
    },
  ],
};

export const sbomCommand: Command = {
  name: 'sbom',
  use: 'sbom [OPTIONS] IMAGE',
  short: "Show an image's software bill of materials",
  args: { exact: 1 },
  flags: [
    str('format', 'Document format: "spdx-json" or "cyclonedx-json"', { defaultText: '"spdx-json"' }),
    str('output', 'Write the document to a file', { short: 'o' }),
    bool('attach', 'Store the SBOM in the registry as a referrer of the image'),
  ],
  run: async (ctx, inv) =>
    (await scans()).sbom(ctx, inv.args[0]!, {
      format: inv.flags.string('format') || 'spdx-json',
      output: inv.flags.string('output'),
      attach: inv.flags.bool('attach'),
    }),
};

export const scanCommand: Command = {
  name: 'scan',
  use: 'scan [OPTIONS] IMAGE | scan db import DIR|ZIP | scan db info',
  short: 'Scan an image for known vulnerabilities (offline OSV database)',
  args: { min: 1, max: 3 },
  flags: [
    list('severity', 'Severities to report (CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN)'),
    str('format', 'Output format: "table", "json" or "sarif"', { defaultText: '"table"' }),
    { name: 'exit-code', kind: 'int', usage: 'Exit code when vulnerabilities are found', defaultText: '0' },
    bool('attach', 'Store the report in the registry as a referrer of the image'),
  ],
  run: async (ctx, inv) => {
    const s = await scans();
    if (inv.args[0] === 'db') return s.db(ctx, inv.args.slice(1));
    return s.scan(ctx, inv.args[0]!, {
      severities: inv.flags.list('severity').flatMap((v) => v.split(',')),
      format: inv.flags.string('format') || 'table',
      exitCode: inv.flags.int('exit-code') ?? 0,
      attach: inv.flags.bool('attach'),
    });
  },
};

export const TOP: readonly Command[] = [trustGroup, sbomCommand, scanCommand];

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultConfig, parseConfig, parseFeatures } from '@ts-oci/spec';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

// The built CLI, exactly as users and engines run it.
const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const tsoci = (args: string[], cwd?: string) =>
  execa(process.execPath, [BIN, ...args], { reject: false, cwd, env: { PATH: process.env.PATH } });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsoci-cli-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('tsoci --version / --help', () => {
  it('prints the version lines engines parse', async () => {
    const r = await tsoci(['--version']);
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^tsoci version \d+\.\d+\.\d+/);
    expect(lines[1]).toMatch(/^commit: ([0-9a-f]{40}|unknown)$/);
    expect(lines[2]).toBe('spec: 1.3.0');
    expect((await tsoci(['-v'])).stdout).toBe(r.stdout);
  });

  it("prints help in runc's layout, listing real commands and global options", async () => {
    const r = await tsoci(['--help']);
    expect(r.exitCode).toBe(0);
    for (const section of ['NAME:', 'USAGE:', 'VERSION:', 'COMMANDS:', 'GLOBAL OPTIONS:']) {
      expect(r.stdout).toContain(`\n${section}\n`.slice(section === 'NAME:' ? 1 : 0));
    }
    expect(r.stdout).toMatch(/^ {3}spec +create a new specification file$/m);
    expect(r.stdout).toMatch(/^ {3}--root <dir> +root directory .*\(default: "\/run\/tsoci"\)$/m);
    const sub = await tsoci(['spec', '--help']);
    expect(sub.stdout).toMatch(/^NAME:\n {3}tsoci spec - create a new specification file/);
    expect(sub.stdout).toMatch(
      /^ {3}--rootless +generate a configuration for a rootless container$/m,
    );
  });

  it('rejects an unknown command and an unknown global flag with a non-zero exit', async () => {
    const r = await tsoci(['bogus']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/^tsoci: unknown command 'bogus'/);
    const f = await tsoci(['--bogus', 'spec']);
    expect(f.exitCode).not.toBe(0);
    expect(f.stderr).toMatch(/^tsoci: unknown option '--bogus'/);
    const extra = await tsoci(['state', 'a', 'b']);
    expect(extra.exitCode).not.toBe(0);
    expect(extra.stderr).toMatch(/^tsoci: too many arguments/);
    const fmt = await tsoci(['--log-format', 'xml', 'spec']);
    expect(fmt.exitCode).not.toBe(0);
    expect(fmt.stderr).toMatch(/xml/);
  });

  it('says clearly that a runc command is not implemented yet, and logs it as JSON', async () => {
    const log = join(dir, 'log.json');
    const r = await tsoci(['--log', log, '--log-format', 'json', 'checkpoint', 'x']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe('tsoci: checkpoint is not implemented yet');
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(1);
    const rec = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    expect(rec).toMatchObject({ level: 'error', msg: 'checkpoint is not implemented yet' });
    expect(Number.isNaN(Date.parse(String(rec.time)))).toBe(false);
  });
});

describe('tsoci features', () => {
  it('prints a valid features document, indented as runc does', async () => {
    const r = await tsoci(['features']);
    expect(r.exitCode).toBe(0);
    expect(
      r.stdout.startsWith('{\n    "ociVersionMin": "1.0.0",\n    "ociVersionMax": "1.3.0"'),
    ).toBe(true);
    const doc = parseFeatures(r.stdout);
    expect(doc.linux?.namespaces).toContain('user');
    expect(doc.linux?.seccomp?.enabled).toBe(true);
  });
});

describe('tsoci spec', () => {
  it('writes the default config.json into the bundle, which parses', async () => {
    const r = await tsoci(['spec', '--bundle', dir]);
    expect(r.exitCode).toBe(0);
    const text = await readFile(join(dir, 'config.json'), 'utf8');
    expect(text.startsWith('{\n\t"ociVersion": "1.3.0"')).toBe(true);
    expect(parseConfig(text)).toEqual(defaultConfig({ rootless: false }));
  });

  it('writes into the current directory by default, and a rootless config on request', async () => {
    const r = await tsoci(['spec', '--rootless'], dir);
    expect(r.exitCode).toBe(0);
    const cfg = parseConfig(await readFile(join(dir, 'config.json'), 'utf8'));
    expect(cfg).toEqual(defaultConfig({ rootless: true }));
    expect(cfg.linux?.namespaces?.some((n) => n.type === 'user')).toBe(true);
  });

  it('refuses to overwrite an existing config.json and leaves it untouched', async () => {
    await writeFile(join(dir, 'config.json'), 'precious');
    const r = await tsoci(['spec', '-b', dir]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe(`tsoci: ${join(dir, 'config.json')} exists: remove it first`);
    expect(await readFile(join(dir, 'config.json'), 'utf8')).toBe('precious');
  });

  it('names a missing bundle directory', async () => {
    const r = await tsoci(['spec', '--bundle', join(dir, 'nope')]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe(`tsoci: bundle directory ${join(dir, 'nope')} does not exist`);
  });
});

describe('process exit', () => {
  // The CLI ends with process.exit() once main() resolves (a natural exit
  // tears the V8 heap down first). Output to a pipe is asynchronous on POSIX,
  // so it must wait for what is still queued: here 10,000 error lines, far
  // more than a pipe holds, read only after the CLI has finished its work.
  it('writes all of a large output to a pipe that is read late', async () => {
    const { mkdir } = await import('node:fs/promises');
    const { spawn } = await import('node:child_process');
    const config = defaultConfig();
    config.mounts = Array.from({ length: 10_000 }, (_, i) => ({
      destination: `/m${i}`,
      type: 5 as unknown as string,
      source: '/x',
    }));
    await mkdir(join(dir, 'rootfs'));
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    const child = spawn(process.execPath, [BIN, 'validate', '--bundle', dir], {
      env: { PATH: process.env.PATH },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pause();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stdout.resume();
    child.stderr.resume();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const lines = Buffer.concat(chunks).toString().trimEnd().split('\n');
    expect(lines).toHaveLength(10_000);
    expect(lines[9_999]).toBe('mounts[9999].type: expected a string, got 5');
    expect(code).not.toBe(0);
  }, 20_000);
});

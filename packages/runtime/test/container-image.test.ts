/**
 * Containers from image references: an OCI layout made by umoci (a third
 * party's layout, read by @ts-oci/image), the store path (overlay as root),
 * progress events, the image config merged with the caller's overrides, and
 * the bundle's life: removed with the container (by any Runtime, through
 * the state), on a failed create, kept when the caller named it.
 */
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { ImageStore } from '@ts-oci/image';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ContainerError, type ImageProgressEvent, Runtime } from '../src/index.js';
import { readAll, tempRoot, uniqueId } from './fixtures.js';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const haveUmoci = (() => {
  try {
    execFileSync('umoci', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

let layout: string;
const work = tempRoot();
afterAll(() => work.cleanup());
beforeAll(() => {
  if (!haveUmoci) return;
  const rootfs = join(work.root, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'));
  for (const applet of ['sh', 'cat', 'echo', 'hostname', 'id', 'pwd', 'sleep']) {
    symlinkSync('busybox', join(rootfs, 'bin', applet));
  }
  writeFileSync(
    join(rootfs, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/:/bin/sh\n',
  );
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\nuser:x:1000:\n');
  writeFileSync(join(rootfs, 'etc/motd'), 'from the image\n');
  layout = join(work.root, 'layout');
  const umoci = (...args: string[]) => execFileSync('umoci', args, { stdio: 'pipe' });
  umoci('init', '--layout', layout);
  umoci('new', '--image', `${layout}:v1`);
  umoci('insert', '--image', `${layout}:v1`, rootfs, '/');
  umoci(
    'config',
    '--image',
    `${layout}:v1`,
    '--config.entrypoint',
    '/bin/sh',
    '--config.entrypoint=-c',
    '--config.cmd',
    'echo default cmd',
    '--config.env',
    'PATH=/bin',
    '--config.env',
    'FROM_IMAGE=yes',
    '--config.workingdir',
    '/etc',
  );
});

function setup(opts: { store?: boolean } = {}) {
  const state = tempRoot();
  const store = opts.store ? join(state.root, 'images') : undefined;
  const rt = new Runtime({
    root: join(state.root, 'run'),
    ...(store ? { imageStore: store } : {}),
  });
  const id = uniqueId('img');
  cleanups.push(state.cleanup, () => rt.delete(id, { force: true }).catch(() => {}));
  return { rt, id, root: rt.root, store, dir: state.root };
}

function mountsUnder(prefix: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(prefix));
}

function ownedBundles(root: string): string[] {
  const dir = join(root, '@bundles');
  return existsSync(dir) ? readdirSync(dir) : [];
}

describe.skipIf(!haveUmoci)('containers from image references (root)', () => {
  it('oci: layout: the image config with overrides, progress, the bundle removed on delete', async () => {
    const { rt, id, root } = setup();
    const events: ImageProgressEvent[] = [];
    const ref = `oci:${layout}:v1`;
    const c = await rt.runContainer(
      {
        id,
        image: ref,
        overrides: {
          args: ['echo "$FROM_IMAGE $EXTRA $(pwd) $(hostname)"; cat motd'],
          env: ['EXTRA=1'],
        },
        configure: (config) => {
          config.hostname = 'from-configure';
          return undefined;
        },
      },
      { stdio: ['ignore', 'pipe', 'pipe'], onProgress: (e) => events.push(e) },
    );
    const [out, err, status] = await Promise.all([readAll(c.stdout), readAll(c.stderr), c.wait()]);
    expect(err).toBe('');
    expect(out).toBe('yes 1 /etc from-configure\nfrom the image\n');
    expect(status).toEqual({ exitCode: 0, signal: null });
    // The events: resolving, resolved, one layer unpacked (umoci made one), done.
    expect(events.map((e) => e.type).filter((t) => t !== 'layer-unpack-progress')).toEqual([
      'resolving',
      'resolved',
      'layer-unpack-start',
      'layer-unpack-done',
      'done',
    ]);
    expect(events[0]).toEqual({ type: 'resolving', reference: ref });
    const state = await c.state();
    expect(state.bundle.startsWith(join(root, '@bundles', `${id}.`))).toBe(true);
    expect(JSON.parse(readFileSync(join(state.bundle, 'config.json'), 'utf8')).hostname).toBe(
      'from-configure',
    );
    await c.delete();
    expect(existsSync(state.bundle)).toBe(false);
    expect(ownedBundles(root)).toEqual([]);
  });

  it('a store image gets an overlay rootfs; the mount and lease go with the container', async () => {
    const { rt, id, root, store } = setup({ store: true });
    await new ImageStore(store as string).import(`oci:${layout}:v1`, 'test/busybox:v1');
    const c = await rt.runContainer(
      { id, image: 'test/busybox:v1', overrides: { args: ['echo $FROM_IMAGE; exec sleep 30'] } },
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const { bundle } = await c.state();
    expect(mountsUnder(bundle)).toEqual([join(bundle, 'rootfs')]);
    expect(readdirSync(join(store as string, 'tsoci/leases'))).toHaveLength(1);
    const first = await new Promise<string>((resolve) =>
      c.stdout?.once('data', (d) => resolve(String(d))),
    );
    expect(first).toBe('yes\n');
    // A second container of the same image shares the unpacked layers (nothing unpacked again).
    const events: ImageProgressEvent[] = [];
    const id2 = uniqueId('img');
    const c2 = await rt.runContainer(
      { id: id2, image: 'test/busybox:v1', overrides: { args: ['exit 4'] } },
      { stdio: 'ignore', onProgress: (e) => events.push(e) },
    );
    expect(events.map((e) => e.type)).toEqual([
      'resolving',
      'resolved',
      'layer-unpack-done',
      'done',
    ]);
    expect(events[2]).toMatchObject({ cached: true });
    expect(await c2.wait()).toEqual({ exitCode: 4, signal: null });
    await c2.delete();
    await c.delete({ force: true });
    expect(mountsUnder(root)).toEqual([]);
    expect(ownedBundles(root)).toEqual([]);
    expect(readdirSync(join(store as string, 'tsoci/leases'))).toEqual([]);
  });

  it('a bundle dir given by the caller is kept; the state records no owned bundle', async () => {
    const { rt, id, dir } = setup();
    const bundle = join(dir, 'kept');
    const c = await rt.runContainer(
      { id, image: `oci:${layout}:v1`, bundle, overlay: false },
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    // The image's own Entrypoint + Cmd.
    expect(await readAll(c.stdout)).toBe('default cmd\n');
    expect(await c.wait()).toEqual({ exitCode: 0, signal: null });
    expect((await c.state()).bundle).toBe(bundle);
    const stored = JSON.parse(readFileSync(join(rt.root, id, 'state.json'), 'utf8'));
    expect(stored.ownedBundle).toBeUndefined();
    await c.delete();
    expect(existsSync(join(bundle, 'config.json'))).toBe(true);
    expect(existsSync(join(bundle, 'rootfs/bin/busybox'))).toBe(true);
  });

  it('deleting through another Runtime (as the CLI would) removes the owned bundle too', async () => {
    const { rt, id, root } = setup();
    const c = await rt.createContainer({ id, image: `oci:${layout}:v1` }, { stdio: 'ignore' });
    const { bundle } = await c.state();
    const stored = JSON.parse(readFileSync(join(root, id, 'state.json'), 'utf8'));
    expect(stored.ownedBundle).toBe(bundle);
    await new Runtime({ root }).delete(id, { force: true });
    expect(existsSync(bundle)).toBe(false);
    expect(await c.wait()).toMatchObject({ signal: 'SIGKILL' });
  });

  it('a failed create removes the bundle it made and leaves no container', async () => {
    const { rt, id, root } = setup();
    const err = await rt
      .runContainer(
        {
          id,
          image: `oci:${layout}:v1`,
          configure: (config) => {
            if (config.process) config.process.cwd = 'relative';
            return config;
          },
        },
        { stdio: 'ignore' },
      )
      .catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('ESPEC_INVALID');
    expect(ownedBundles(root)).toEqual([]);
    await expect(rt.state(id)).rejects.toMatchObject({ code: ContainerError.NOT_FOUND });
  });

  it('an image that does not exist: a typed error, nothing made', async () => {
    const { rt, id, root, store } = setup({ store: true });
    // Not in the store and not a registry reference: no network is tried.
    const err = await rt.runContainer({ id, image: 'Not_A/Reference' }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('EIMAGE_NOT_FOUND');
    expect((err as Error).message).toContain(store as string);
    const missing = await rt
      .runContainer({ id, image: `oci:${layout}:nope` })
      .catch((e: unknown) => e);
    expect((missing as { code?: string }).code).toBe('EIMAGE_NOT_FOUND');
    expect(ownedBundles(root)).toEqual([]);
  });

  it('an existing id is refused before the image is read', async () => {
    const { rt, id } = setup();
    const c = await rt.createContainer({ id, image: `oci:${layout}:v1` }, { stdio: 'ignore' });
    const events: ImageProgressEvent[] = [];
    await expect(
      rt.createContainer({ id, image: `oci:${layout}:v1` }, { onProgress: (e) => events.push(e) }),
    ).rejects.toMatchObject({ code: ContainerError.EXISTS });
    expect(events).toEqual([]);
    await c.delete({ force: true });
  });

  it('runs an image on a pty: TERM is set, the terminal works', async () => {
    const { rt, id } = setup();
    const c = await rt.runContainer(
      { id, image: `oci:${layout}:v1`, overrides: { args: ['echo "$TERM"; busybox stty size'] } },
      { stdio: 'pty', terminalSize: { columns: 81, rows: 25 } },
    );
    const out = await readAll(c.stdout);
    expect(out).toBe('xterm\r\n25 81\r\n');
    expect(await c.wait()).toEqual({ exitCode: 0, signal: null });
    await c.delete();
  });
});

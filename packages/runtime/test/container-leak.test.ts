import { readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Runtime } from '../src/index.js';
import { busyboxBundle, tempRoot, zombieChildren } from './fixtures.js';

// 1000 lifecycles take about 25 s here (≈ 20 ms each), inside the 60 s the
// suite allows a test: the count is kept.
const CONTAINERS = 1000;

function openFds(): string[] {
  return readdirSync('/proc/self/fd');
}

const bundle = busyboxBundle((c) => {
  if (c.process) c.process.args = ['/bin/true'];
});
const state = tempRoot();
afterAll(() => {
  bundle.cleanup();
  state.cleanup();
});

describe('no leaks (root)', () => {
  it(`${CONTAINERS} sequential create+start+wait+delete leave no fd and no zombie`, async () => {
    const rt = new Runtime({ root: state.root });
    // One lifecycle first, so that what is opened once per process (the
    // addon, its watcher's epoll fd, libuv's signal pipe) is in the baseline.
    const warm = await rt.runContainer(
      { id: `leak-${process.pid}-warm`, bundle: bundle.dir },
      { stdio: 'ignore' },
    );
    await warm.wait();
    await warm.delete();
    const fdsBefore = openFds();
    expect(zombieChildren()).toEqual([]);

    for (let i = 0; i < CONTAINERS; i++) {
      const c = await rt.runContainer(
        { id: `leak-${process.pid}-${i}`, bundle: bundle.dir },
        { stdio: i % 2 === 0 ? 'ignore' : 'pipe' },
      );
      const status = await c.wait();
      if (status.exitCode !== 0) throw new Error(`container ${i} exited ${status.exitCode}`);
      await c[Symbol.asyncDispose]();
    }
    // Streams close their fds on the next turns of the event loop.
    await new Promise((r) => setTimeout(r, 50));

    expect(openFds()).toEqual(fdsBefore);
    expect(zombieChildren()).toEqual([]);
    expect(readdirSync(state.root)).toEqual([]);
  }, 120_000);
});

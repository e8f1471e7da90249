import type { Config } from '@ts-oci/spec';
import { describe, expect, it } from 'vitest';
import { liveStatus, type StoredState, toOciState } from '../src/state.js';

const base: StoredState = {
  ociVersion: '1.3.0',
  id: 'c1',
  status: 'created',
  pid: 100,
  startTime: 5,
  initPid: 90,
  initStartTime: 4,
  bundle: '/b',
  rootfs: '/b/rootfs',
  created: '2026-01-01T00:00:00.000Z',
  annotations: {},
  owner: '',
  config: { ociVersion: '1.3.0' } as Config,
};

const probe = (alive: Record<number, number>, fifo: boolean) => ({
  isAlive: (pid: number, st: number) => alive[pid] === st,
  fifoExists: () => fifo,
});

describe('liveStatus', () => {
  it('is created while the process lives and the fifo exists, running once it is gone', () => {
    expect(liveStatus(base, probe({ 100: 5 }, true))).toBe('created');
    expect(liveStatus({ ...base, status: 'running' }, probe({ 100: 5 }, false))).toBe('running');
  });

  it('is stopped when the pid is dead or was reused by another process', () => {
    expect(liveStatus(base, probe({}, true))).toBe('stopped');
    expect(liveStatus(base, probe({ 100: 6 }, true))).toBe('stopped');
  });

  it('follows the stage-0 init while create has no container process yet', () => {
    const creating: StoredState = { ...base, status: 'creating', pid: 0, startTime: 0 };
    expect(liveStatus(creating, probe({ 90: 4 }, true))).toBe('creating');
    expect(liveStatus(creating, probe({}, true))).toBe('stopped');
    expect(liveStatus({ ...creating, pid: 100, startTime: 5 }, probe({ 100: 5 }, true))).toBe(
      'creating',
    );
  });

  it('never revives a container recorded as stopped', () => {
    expect(liveStatus({ ...base, status: 'stopped' }, probe({ 100: 5 }, true))).toBe('stopped');
  });
});

describe('toOciState', () => {
  it("has runc's shape: pid 0 when stopped, annotations only when present", () => {
    expect(Object.keys(toOciState(base, 'created'))).toEqual([
      'ociVersion',
      'id',
      'pid',
      'status',
      'bundle',
      'rootfs',
      'created',
      'owner',
    ]);
    expect(toOciState(base, 'stopped').pid).toBe(0);
    expect(toOciState({ ...base, annotations: { a: 'b' } }, 'running').annotations).toEqual({
      a: 'b',
    });
  });
});

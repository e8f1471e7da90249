import type { CgroupPaths } from '@ts-oci/cgroups';
import type { Config } from '@ts-oci/spec';

/** The statuses of runtime.md, plus `paused` (an allowed extension, used once cgroups land). */
export type ContainerStatus = 'creating' | 'created' | 'running' | 'stopped' | 'paused';

/**
 * What tsoci keeps in `<root>/<id>/state.json`. The OCI state is a subset; the
 * rest lets later commands work without the bundle: liveness (pid + start
 * time), the interrupted-create cleanup (the stage-0 init pid, recorded before
 * the plan is sent), and the config (hooks for start and delete, namespaces
 * for exec). The Rust state store reads `pid` and `startTime` from it.
 */
export interface StoredState {
  ociVersion: string;
  id: string;
  /** The last status an operation recorded; the live status is derived (see liveStatus). */
  status: 'creating' | 'created' | 'running' | 'stopped';
  pid: number;
  startTime: number;
  initPid: number;
  initStartTime: number;
  bundle: string;
  rootfs: string;
  created: string;
  annotations: Record<string, string>;
  owner: string;
  config: Config;
  /** Where the container's cgroups are (CgroupManager.paths()); absent before cgroups existed. */
  cgroup?: CgroupPaths;
  /** A bundle made for the container (@ts-oci/image createBundle) that `delete` removes. */
  ownedBundle?: string;
}

/** The runtime-spec state document, in runc's field order. */
export interface OciState {
  ociVersion: string;
  id: string;
  pid: number;
  status: ContainerStatus;
  bundle: string;
  rootfs: string;
  created: string;
  annotations?: Record<string, string>;
  owner: string;
}

export function toOciState(s: StoredState, status: ContainerStatus): OciState {
  const out: OciState = {
    ociVersion: s.ociVersion,
    id: s.id,
    pid: status === 'stopped' ? 0 : s.pid,
    status,
    bundle: s.bundle,
    rootfs: s.rootfs,
    created: s.created,
    owner: s.owner,
  };
  if (Object.keys(s.annotations).length > 0) out.annotations = s.annotations;
  return out;
}

export interface LivenessProbe {
  isAlive(pid: number, startTime: number): boolean;
  fifoExists(): boolean;
}

/** The status a container is in now, from what was recorded and what the kernel says. */
export function liveStatus(s: StoredState, probe: LivenessProbe): ContainerStatus {
  if (s.status === 'stopped') return 'stopped';
  if (s.pid === 0) {
    // Create was interrupted before the container process existed.
    return s.initPid !== 0 && probe.isAlive(s.initPid, s.initStartTime) ? 'creating' : 'stopped';
  }
  if (!probe.isAlive(s.pid, s.startTime)) return 'stopped';
  if (s.status === 'creating') return 'creating';
  return probe.fifoExists() ? 'created' : 'running';
}

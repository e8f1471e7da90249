/**
 * The `linux.cgroup` object of `tsoci features` (features-linux.md), taken
 * from the drivers this package implements so it never claims more.
 */
export const CGROUP_DRIVERS = {
  cgroupfs: { v1: true, v2: true },
  systemd: { v1: false, v2: false },
  systemdUser: { v1: false, v2: false },
} as const;

export interface CgroupFeatures {
  v1: boolean;
  v2: boolean;
  systemd: boolean;
  systemdUser: boolean;
  rdma: boolean;
}

export function cgroupFeatures(): CgroupFeatures {
  const any = (d: { v1: boolean; v2: boolean }) => d.v1 || d.v2;
  return {
    v1: CGROUP_DRIVERS.cgroupfs.v1,
    v2: CGROUP_DRIVERS.cgroupfs.v2,
    systemd: any(CGROUP_DRIVERS.systemd),
    systemdUser: any(CGROUP_DRIVERS.systemdUser),
    // rdma.max is written on both versions (RESOURCE_TABLE.rdma).
    rdma: true,
  };
}

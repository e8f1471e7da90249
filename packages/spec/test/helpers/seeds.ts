/**
 * Valid documents to mutate and to test against: the specs' own examples and
 * fixtures, plus "kitchen sink" documents that set every field the schemas
 * define, so that mutations reach every part of every schema.
 */
import { join } from 'node:path';
import { defaultConfig } from '../../src/defaults.js';
import {
  configMdExample,
  IMAGE_SPEC_DIR,
  type Json,
  markdownDocument,
  markdownExamples,
  RUNTIME_SPEC_DIR,
  testDocuments,
} from './specs.js';

/** A Linux config.json using every field of config.md and config-linux.md. */
export function kitchenSinkConfig(): { [key: string]: Json } {
  return {
    ociVersion: '1.3.0',
    process: {
      terminal: true,
      consoleSize: { height: 25, width: 80 },
      user: { uid: 1, gid: 1, umask: 63, additionalGids: [5, 6], username: 'alice' },
      args: ['sh', '-c', 'true'],
      commandLine: 'sh -c true',
      env: ['PATH=/usr/bin:/bin', 'TERM=xterm'],
      cwd: '/root',
      capabilities: {
        bounding: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
        permitted: ['CAP_AUDIT_WRITE', 'CAP_KILL'],
        inheritable: ['CAP_KILL'],
        effective: ['CAP_KILL'],
        ambient: ['CAP_NET_BIND_SERVICE'],
      },
      rlimits: [
        { type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 },
        // RLIM_INFINITY: JSON.parse reads 18446744073709551615 as 2 ** 64.
        { type: 'RLIMIT_CORE', hard: 2 ** 64, soft: 0 },
      ],
      noNewPrivileges: true,
      apparmorProfile: 'acme_secure_profile',
      oomScoreAdj: -500,
      scheduler: {
        policy: 'SCHED_DEADLINE',
        nice: -5,
        priority: 10,
        flags: ['SCHED_FLAG_RESET_ON_FORK', 'SCHED_FLAG_RECLAIM'],
        runtime: 10000000,
        deadline: 20000000,
        period: 30000000,
      },
      selinuxLabel: 'system_u:system_r:svirt_lxc_net_t:s0:c124,c675',
      ioPriority: { class: 'IOPRIO_CLASS_BE', priority: 4 },
      execCPUAffinity: { initial: '7', final: '0-3,7' },
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'slartibartfast',
    domainname: 'foobarbaz.test',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/data',
        type: 'none',
        source: '/volumes/testing',
        options: ['rbind', 'rw', 'idmap'],
        uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
        gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      },
    ],
    hooks: {
      prestart: [{ path: '/usr/bin/fix-mounts', args: ['fix-mounts', 'arg1'], env: ['k=v'] }],
      createRuntime: [{ path: '/usr/bin/setup-network', timeout: 3 }],
      createContainer: [{ path: '/usr/bin/mount-hook' }],
      startContainer: [{ path: '/usr/bin/refresh-ldcache' }],
      poststart: [{ path: '/usr/bin/notify-start', timeout: 5 }],
      poststop: [{ path: '/usr/sbin/cleanup.sh', args: ['cleanup.sh', '-f'] }],
    },
    annotations: { 'com.example.key1': 'value1', 'com.example.key2': '' },
    linux: {
      namespaces: [
        { type: 'pid' },
        { type: 'network', path: '/var/run/netns/neta' },
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'mount' },
        { type: 'user' },
        { type: 'cgroup' },
        { type: 'time' },
      ],
      uidMappings: [{ containerID: 0, hostID: 1000, size: 32000 }],
      gidMappings: [{ containerID: 0, hostID: 1000, size: 32000 }],
      timeOffsets: {
        monotonic: { secs: 172800, nanosecs: 0 },
        boottime: { secs: -1, nanosecs: 5 },
      },
      devices: [
        { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 438, uid: 0, gid: 0 },
        { path: '/dev/fifo', type: 'p' },
        { path: '/dev/sda', type: 'b', major: 8, minor: 0 },
      ],
      netDevices: { eth0: { name: 'container_eth0' }, ens4: {} },
      cgroupsPath: '/myRuntime/myContainer',
      resources: {
        devices: [
          { allow: false, access: 'rwm' },
          { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' },
          { allow: true, type: 'a' },
        ],
        memory: {
          limit: 536870912,
          reservation: 536870912,
          swap: -1,
          kernel: -1,
          kernelTCP: -1,
          swappiness: 0,
          disableOOMKiller: false,
          useHierarchy: true,
          checkBeforeUpdate: true,
        },
        cpu: {
          shares: 1024,
          quota: 1000000,
          burst: 1000000,
          period: 500000,
          realtimeRuntime: 950000,
          realtimePeriod: 1000000,
          cpus: '2-3',
          mems: '0-7',
          idle: 1,
        },
        pids: { limit: 32771 },
        blockIO: {
          weight: 10,
          leafWeight: 10,
          weightDevice: [
            { major: 8, minor: 0, weight: 500, leafWeight: 300 },
            { major: 8, minor: 16, leafWeight: 500 },
          ],
          throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 600 }],
          throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 700 }],
          throttleReadIOPSDevice: [{ major: 8, minor: 16, rate: 300 }],
          throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 400 }],
        },
        hugepageLimits: [
          { pageSize: '2MB', limit: 9223372036854772000 },
          { pageSize: '1GB', limit: 0 },
        ],
        network: { classID: 1048577, priorities: [{ name: 'eth0', priority: 500 }] },
        rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 }, rxe3: {} },
        unified: { 'io.max': '8:0 rbps=1048576', 'memory.high': '1G' },
      },
      intelRdt: {
        closID: 'guaranteed_group',
        schemata: ['L3:0=7f0;1=1f', 'MB:0=20;1=70'],
        l3CacheSchema: 'L3:0=7f0;1=1f',
        memBwSchema: 'MB:0=20;1=70',
        enableMonitoring: true,
      },
      memoryPolicy: { mode: 'MPOL_INTERLEAVE', nodes: '2-3', flags: ['MPOL_F_STATIC_NODES'] },
      sysctl: { 'net.ipv4.ip_forward': '1', 'net.core.somaxconn': '256' },
      seccomp: {
        defaultAction: 'SCMP_ACT_ERRNO',
        defaultErrnoRet: 1,
        architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
        flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
        listenerPath: '/run/seccomp-agent.sock',
        listenerMetadata: 'MKNOD=/dev/null',
        syscalls: [
          { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
          {
            names: ['personality'],
            action: 'SCMP_ACT_ALLOW',
            args: [{ index: 0, value: 8, valueTwo: 0, op: 'SCMP_CMP_EQ' }],
          },
          { names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' },
          { names: ['chmod'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
        ],
      },
      rootfsPropagation: 'slave',
      maskedPaths: ['/proc/kcore', '/proc/keys'],
      readonlyPaths: ['/proc/sys', '/proc/sysrq-trigger'],
      mountLabel: 'system_u:object_r:svirt_sandbox_file_t:s0:c715,c811',
      personality: { domain: 'LINUX32', flags: [] },
    },
  };
}

/** Configs for the other platforms, so that their schemas are exercised too. */
export function otherPlatformConfigs(): { [key: string]: Json }[] {
  return [
    {
      ociVersion: '1.3.0',
      process: { cwd: 'C:\\foo', user: { username: 'containeradministrator' }, commandLine: 'cmd' },
      root: { path: '\\\\?\\Volume{ec84d99e-3f02-11e7-ac6c-00155d7682cf}\\' },
      windows: {
        layerFolders: ['C:\\Layers\\layer1', 'C:\\Layers\\layer2'],
        devices: [{ id: '24E552D7-6523-47F7-A647-D3465BF1F5CA', idType: 'class' }],
        resources: {
          memory: { limit: 2097152 },
          cpu: { count: 2, shares: 256, maximum: 5000, affinity: { mask: 3, group: 0 } },
          storage: { iops: 50, bps: 1000, sandboxSize: 100 },
        },
        network: {
          endpointList: ['7a010682-17e0-4455-a838-02e5d9655fe6'],
          allowUnqualifiedDNSQuery: true,
          DNSSearchList: ['a.com'],
          networkSharedContainerName: 'c',
          networkNamespace: 'ns',
        },
        credentialSpec: { a: 1 },
        servicing: false,
        ignoreFlushesDuringBoot: true,
        hyperv: { utilityVMPath: 'C:\\path\\to\\utilityvm' },
      },
    },
    {
      ociVersion: '1.3.0',
      root: { path: 'rootfs' },
      vm: {
        hypervisor: { path: '/path/to/vmm', parameters: ['opts1=foo'] },
        kernel: {
          path: '/path/to/vmlinuz',
          parameters: ['foo=bar'],
          initrd: '/path/to/initrd.img',
        },
        image: { path: '/path/to/vm/rootfs.img', format: 'raw' },
        hwConfig: {
          deviceTree: '/path/to/dt.dtb',
          vcpus: 2,
          memory: 1024,
          dtdevs: ['/dev/a'],
          iomems: [
            { firstGFN: 0, firstMFN: 1, nrMFNs: 2 },
            { firstMFN: 3, nrMFNs: 4 },
          ],
          irqs: [1, 2],
        },
      },
    },
    {
      ociVersion: '1.3.0',
      root: { path: 'rootfs' },
      process: { cwd: '/', args: ['/usr/bin/bash'], user: { uid: 0, gid: 0 } },
      solaris: {
        milestone: 'svc:/milestone/container:default',
        limitpriv: 'default',
        maxShmMemory: '512m',
        cappedCPU: { ncpus: '8' },
        cappedMemory: { physical: '512m', swap: '512m' },
        anet: [
          {
            linkname: 'net0',
            lowerLink: 'net2',
            allowedAddress: '172.17.0.2/16',
            configureAllowedAddress: 'true',
            defrouter: '172.17.0.1/16',
            macAddress: '02:42:f8:52:c7:16',
            linkProtection: 'mac-nospoof, ip-nospoof',
          },
        ],
      },
    },
    {
      ociVersion: '1.3.0',
      root: { path: 'rootfs' },
      freebsd: {
        devices: [{ path: 'pf', mode: 448 }],
        jail: {
          parent: 'p',
          host: 'inherit',
          ip4: 'disable',
          ip4Addr: ['10.0.0.1'],
          ip6: 'new',
          ip6Addr: ['::1'],
          vnet: 'new',
          interface: 'em0',
          vnetInterfaces: ['epair0b'],
          sysvmsg: 'new',
          sysvsem: 'inherit',
          sysvshm: 'disable',
          enforceStatfs: 2,
          allow: {
            setHostname: true,
            rawSockets: true,
            chflags: false,
            mount: ['tmpfs'],
            quotas: false,
            socketAf: true,
            mlock: false,
            reservedPorts: true,
            suser: false,
          },
        },
      },
    },
  ];
}

function fixtures(kind: string): Json[] {
  return testDocuments(RUNTIME_SPEC_DIR)
    .filter((d) => d.kind === kind && d.verdict === 'good')
    .map((d) => JSON.parse(d.file.text) as Json);
}

export function configSeeds(): Json[] {
  return [
    configMdExample(),
    kitchenSinkConfig(),
    ...otherPlatformConfigs(),
    ...fixtures('config'),
    defaultConfig() as Json,
    defaultConfig({ rootless: true }) as Json,
  ];
}

export function stateSeeds(): Json[] {
  return [
    markdownDocument(join(RUNTIME_SPEC_DIR, 'runtime.md'), 'status'),
    ...fixtures('state'),
    {
      ociVersion: '1.3.0',
      id: 'c1',
      status: 'stopped',
      bundle: '/run/bundle',
      annotations: { a: 'b' },
    },
    { ociVersion: '1.3.0', id: 'c2', status: 'creating', pid: 0, bundle: '/b' },
  ];
}

export function featuresSeeds(): Json[] {
  const full = markdownDocument(join(RUNTIME_SPEC_DIR, 'features.md'), 'ociVersionMin');
  return [
    full,
    ...fixtures('features'),
    {
      ociVersionMin: '1.0.0',
      ociVersionMax: '1.3.0',
      potentiallyUnsafeConfigAnnotations: ['com.example.foo.bar', 'org.systemd.property.'],
      linux: {
        mountExtensions: { idmap: { enabled: true } },
        intelRdt: { enabled: true },
        netDevices: { enabled: false },
      },
    },
  ];
}

const DIGEST_A = 'sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b';
const DIGEST_B = 'sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270';

/** The image-spec examples annotated with a media type, parsed, by media type. */
export function imageExamples(mediaType: string): Json[] {
  const docs: Json[] = [];
  for (const file of [
    'descriptor.md',
    'manifest.md',
    'image-index.md',
    'image-layout.md',
    'config.md',
  ]) {
    for (const e of markdownExamples(join(IMAGE_SPEC_DIR, file))) {
      if (e.mediaType === mediaType) docs.push(JSON.parse(e.text) as Json);
    }
  }
  if (docs.length === 0) throw new Error(`no image-spec example of ${mediaType}`);
  return docs;
}

export function descriptorSeeds(): Json[] {
  return [
    ...imageExamples('application/vnd.oci.descriptor.v1+json'),
    {
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      size: 2,
      digest: DIGEST_A,
      urls: ['https://example.com/blob', 'http://[::1]:5000/v2/x'],
      annotations: { 'org.opencontainers.image.title': 'x' },
      data: 'e30=',
      artifactType: 'application/vnd.example.sbom.v1',
    },
  ];
}

export function manifestSeeds(): Json[] {
  return [
    ...imageExamples('application/vnd.oci.image.manifest.v1+json'),
    {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/vnd.example.sbom.v1',
      config: {
        mediaType: 'application/vnd.oci.empty.v1+json',
        digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
        size: 2,
        data: 'e30=',
      },
      layers: [{ mediaType: 'application/spdx+json', digest: DIGEST_A, size: 123 }],
      subject: {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: DIGEST_B,
        size: 7682,
      },
      annotations: { 'org.opencontainers.image.created': '2023-01-02T03:04:05Z' },
    },
    {
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: {
        mediaType: 'application/vnd.docker.container.image.v1+json',
        digest: DIGEST_A,
        size: 1469,
      },
      layers: [
        {
          mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
          digest: DIGEST_B,
          size: 3370706,
        },
      ],
    },
  ];
}

export function indexSeeds(): Json[] {
  return [
    ...imageExamples('application/vnd.oci.image.index.v1+json'),
    {
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
      manifests: [
        {
          mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
          digest: DIGEST_A,
          size: 528,
          platform: { architecture: 'arm', os: 'linux', variant: 'v7', 'os.features': ['x'] },
        },
      ],
    },
    {
      schemaVersion: 2,
      manifests: [],
      artifactType: 'application/vnd.example+type',
      subject: { mediaType: 'application/vnd.oci.image.index.v1+json', digest: DIGEST_B, size: 1 },
      annotations: { a: 'b' },
    },
  ];
}

export function imageConfigSeeds(): Json[] {
  return [
    ...imageExamples('application/vnd.oci.image.config.v1+json'),
    {
      architecture: 'arm64',
      os: 'windows',
      'os.version': '10.0.14393.1066',
      'os.features': ['win32k'],
      variant: 'v8',
      author: 'someone',
      created: '2015-10-31T22:22:56+01:00',
      config: {
        User: '1000:1000',
        Entrypoint: null,
        Cmd: null,
        Volumes: null,
        Labels: null,
        StopSignal: 'SIGRTMIN+3',
        ArgsEscaped: true,
        Memory: 2048,
      },
      rootfs: { type: 'layers', diff_ids: [] },
      history: [
        {
          created: '2015-10-31T22:22:54Z',
          comment: 'c',
          empty_layer: true,
          author: 'a',
          created_by: 'b',
        },
      ],
    },
  ];
}

export function layoutSeeds(): Json[] {
  return [...imageExamples('application/vnd.oci.layout.header.v1+json')];
}

/**
 * The non-Linux platform sections of config.json. tsoci only runs Linux
 * containers, but a config naming another platform is still a valid document
 * (the spec's own test fixtures include FreeBSD and z/OS ones), so these are
 * validated to the level of their JSON schemas and no further.
 */
import * as z from '../internal/z.js';
import { uint8, uint16, uint32, uint64 } from '../internal/zod.js';
import { fileMode } from './defs.js';

const SHARING_MODES = ['disable', 'new', 'inherit'] as const;
const SHARING_MODES_NO_DISABLE = ['new', 'inherit'] as const;

export const FreeBsdSchema = z.looseObject({
  devices: z
    .array(z.looseObject({ path: z.string().optional(), mode: fileMode().optional() }))
    .optional(),
  jail: z
    .looseObject({
      parent: z.string().optional(),
      host: z.enum(SHARING_MODES_NO_DISABLE).optional(),
      ip4: z.enum(SHARING_MODES).optional(),
      ip4Addr: z.array(z.string()).optional(),
      ip6: z.enum(SHARING_MODES).optional(),
      ip6Addr: z.array(z.string()).optional(),
      vnet: z.enum(SHARING_MODES_NO_DISABLE).optional(),
      interface: z.string().optional(),
      vnetInterfaces: z.array(z.string()).optional(),
      sysvmsg: z.enum(SHARING_MODES).optional(),
      sysvsem: z.enum(SHARING_MODES).optional(),
      sysvshm: z.enum(SHARING_MODES).optional(),
      enforceStatfs: uint8().optional(),
      allow: z
        .looseObject({
          setHostname: z.boolean().optional(),
          rawSockets: z.boolean().optional(),
          chflags: z.boolean().optional(),
          mount: z.array(z.string()).optional(),
          quotas: z.boolean().optional(),
          socketAf: z.boolean().optional(),
          mlock: z.boolean().optional(),
          reservedPorts: z.boolean().optional(),
          suser: z.boolean().optional(),
        })
        .optional(),
    })
    .optional(),
});

export const SolarisSchema = z.looseObject({
  milestone: z.string().optional(),
  limitpriv: z.string().optional(),
  maxShmMemory: z.string().optional(),
  cappedCPU: z.looseObject({ ncpus: z.string().optional() }).optional(),
  cappedMemory: z
    .looseObject({ physical: z.string().optional(), swap: z.string().optional() })
    .optional(),
  anet: z
    .array(
      z.looseObject({
        linkname: z.string().optional(),
        lowerLink: z.string().optional(),
        allowedAddress: z.string().optional(),
        configureAllowedAddress: z.string().optional(),
        defrouter: z.string().optional(),
        macAddress: z.string().optional(),
        linkProtection: z.string().optional(),
      }),
    )
    .optional(),
});

export const WindowsSchema = z.looseObject({
  layerFolders: z.array(z.string()).min(1),
  devices: z.array(z.looseObject({ id: z.string(), idType: z.enum(['class']) })).optional(),
  resources: z
    .looseObject({
      memory: z.looseObject({ limit: uint64().optional() }).optional(),
      cpu: z
        .looseObject({
          count: uint64().optional(),
          shares: uint16().optional(),
          maximum: uint16().optional(),
          affinity: z
            .looseObject({ mask: uint64().optional(), group: uint32().optional() })
            .optional(),
        })
        .optional(),
      storage: z
        .looseObject({
          iops: uint64().optional(),
          bps: uint64().optional(),
          sandboxSize: uint64().optional(),
        })
        .optional(),
    })
    .optional(),
  network: z
    .looseObject({
      endpointList: z.array(z.string()).optional(),
      allowUnqualifiedDNSQuery: z.boolean().optional(),
      DNSSearchList: z.array(z.string()).optional(),
      networkSharedContainerName: z.string().optional(),
      networkNamespace: z.string().optional(),
    })
    .optional(),
  credentialSpec: z.looseObject({}).optional(),
  servicing: z.boolean().optional(),
  ignoreFlushesDuringBoot: z.boolean().optional(),
  hyperv: z.looseObject({ utilityVMPath: z.string().optional() }).optional(),
});

const IoMemEntrySchema = z.looseObject({
  firstGFN: uint64().optional(),
  firstMFN: uint64(),
  nrMFNs: uint64(),
});

export const VmSchema = z.looseObject({
  hypervisor: z
    .looseObject({ path: z.string(), parameters: z.array(z.string()).optional() })
    .optional(),
  kernel: z.looseObject({
    path: z.string(),
    parameters: z.array(z.string()).optional(),
    initrd: z.string().optional(),
  }),
  image: z
    .looseObject({ path: z.string(), format: z.enum(['raw', 'qcow2', 'vdi', 'vmdk', 'vhd']) })
    .optional(),
  hwConfig: z
    .looseObject({
      deviceTree: z.string().optional(),
      vcpus: uint32().optional(),
      memory: uint64().optional(),
      dtdevs: z.array(z.string()).optional(),
      // config-vm.json writes `items` in tuple form, which only constrains the
      // first entry; config-vm.md describes an array of entries, so every
      // entry is checked here.
      iomems: z.array(IoMemEntrySchema).optional(),
      irqs: z.array(uint32()).optional(),
    })
    .optional(),
});

export const ZosSchema = z.looseObject({
  namespaces: z
    .array(
      z.looseObject({
        type: z.enum(['mount', 'pid', 'uts', 'ipc']),
        path: z.string().optional(),
      }),
    )
    .optional(),
});

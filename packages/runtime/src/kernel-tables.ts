/**
 * Kernel ABI numbers the init plan carries. The init receives numbers, not
 * names, so that every name is resolved (and rejected) in TypeScript before
 * any side effect.
 */

import { readFileSync } from 'node:fs';

/** Capability numbers from linux/capability.h, in kernel order (CAP_CHOWN = 0). */
export const CAPABILITY_NUMBERS: Readonly<Record<string, number>> = Object.freeze(
  Object.fromEntries(
    [
      'CHOWN',
      'DAC_OVERRIDE',
      'DAC_READ_SEARCH',
      'FOWNER',
      'FSETID',
      'KILL',
      'SETGID',
      'SETUID',
      'SETPCAP',
      'LINUX_IMMUTABLE',
      'NET_BIND_SERVICE',
      'NET_BROADCAST',
      'NET_ADMIN',
      'NET_RAW',
      'IPC_LOCK',
      'IPC_OWNER',
      'SYS_MODULE',
      'SYS_RAWIO',
      'SYS_CHROOT',
      'SYS_PTRACE',
      'SYS_PACCT',
      'SYS_ADMIN',
      'SYS_BOOT',
      'SYS_NICE',
      'SYS_RESOURCE',
      'SYS_TIME',
      'SYS_TTY_CONFIG',
      'MKNOD',
      'LEASE',
      'AUDIT_WRITE',
      'AUDIT_CONTROL',
      'SETFCAP',
      'MAC_OVERRIDE',
      'MAC_ADMIN',
      'SYSLOG',
      'WAKE_ALARM',
      'BLOCK_SUSPEND',
      'AUDIT_READ',
      'PERFMON',
      'BPF',
      'CHECKPOINT_RESTORE',
    ].map((name, n) => [`CAP_${name}`, n]),
  ),
);

/** RLIMIT_* numbers from asm-generic/resource.h (x86_64 and most arches). */
export const RLIMIT_NUMBERS: Readonly<Record<string, number>> = Object.freeze(
  Object.fromEntries(
    [
      'CPU',
      'FSIZE',
      'DATA',
      'STACK',
      'CORE',
      'RSS',
      'NPROC',
      'NOFILE',
      'MEMLOCK',
      'AS',
      'LOCKS',
      'SIGPENDING',
      'MSGQUEUE',
      'NICE',
      'RTPRIO',
      'RTTIME',
    ].map((name, n) => [`RLIMIT_${name}`, n]),
  ),
);

/** personality(2) domains the spec allows (config-linux.md "Personality"). */
export const PERSONALITY_DOMAINS: Readonly<Record<string, number>> = Object.freeze({
  LINUX: 0x0000,
  LINUX32: 0x0008,
});

/**
 * The last capability number this kernel knows, from the text of
 * /proc/sys/kernel/cap_last_cap (`undefined`: unreadable). The rule, which
 * the native front end applies too (crates/tsoci-cli/src/features.rs):
 * trailing newlines removed, the text must be decimal digits; anything else
 * means every capability of the table.
 */
export function lastCapFromText(text: string | undefined): number {
  const digits = text?.replace(/\n+$/, '');
  if (digits !== undefined && /^[0-9]+$/.test(digits)) return Number(digits);
  return Math.max(...Object.values(CAPABILITY_NUMBERS));
}

/** This kernel's last capability, by {@link lastCapFromText}: what `features` lists and the planner accepts. */
export function hostLastCap(): number {
  let text: string | undefined;
  try {
    text = readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8');
  } catch {
    text = undefined;
  }
  return lastCapFromText(text);
}

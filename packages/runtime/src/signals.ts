import { constants } from 'node:os';
import { ContainerError } from './errors.js';

const SIGNALS = constants.signals as Readonly<Record<string, number>>;
const SIGRTMIN = 34;
const SIGRTMAX = 64;

/**
 * Parses a signal as runc accepts it: a name with or without `SIG`
 * (`KILL`, `SIGKILL`, case-insensitive), `RTMIN+n` / `RTMAX-n`, or a number.
 * Returns the signal number; anything else is an ECONTAINER_SIGNAL error.
 */
export function parseSignal(input: string | number): number {
  if (typeof input === 'number') return checkNumber(input, String(input));
  const text = input.trim();
  if (/^\d+$/.test(text)) return checkNumber(Number(text), input);
  const upper = text.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  const direct = SIGNALS[name];
  if (direct !== undefined && name !== 'SIGUNUSED') return direct;
  const rt = /^SIGRT(MIN|MAX)(?:([+-])(\d+))?$/.exec(name);
  if (rt) {
    const base = rt[1] === 'MIN' ? SIGRTMIN : SIGRTMAX;
    const off = rt[3] === undefined ? 0 : Number(rt[3]) * (rt[2] === '-' ? -1 : 1);
    const n = base + off;
    if (n >= SIGRTMIN && n <= SIGRTMAX) return n;
  }
  throw new ContainerError(
    ContainerError.INVALID_SIGNAL,
    `unknown signal ${JSON.stringify(input)}`,
  );
}

function checkNumber(n: number, shown: string): number {
  if (!Number.isInteger(n) || n < 1 || n > SIGRTMAX) {
    throw new ContainerError(
      ContainerError.INVALID_SIGNAL,
      `invalid signal number ${shown}: expected 1..${SIGRTMAX}`,
    );
  }
  return n;
}

/** `SIGKILL` for 9, `SIGRTMIN+3` for 37; used in messages. */
export function signalName(n: number): string {
  for (const [name, value] of Object.entries(SIGNALS)) if (value === n) return name;
  if (n >= SIGRTMIN && n <= SIGRTMAX)
    return n === SIGRTMIN ? 'SIGRTMIN' : `SIGRTMIN+${n - SIGRTMIN}`;
  return `signal ${n}`;
}

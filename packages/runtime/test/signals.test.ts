import { describe, expect, it } from 'vitest';
import { ContainerError } from '../src/errors.js';
import { parseSignal, signalName } from '../src/signals.js';

describe('parseSignal', () => {
  it.each([
    ['KILL', 9],
    ['SIGKILL', 9],
    ['sigterm', 15],
    ['term', 15],
    ['9', 9],
    [15, 15],
    ['HUP', 1],
    ['SIGUSR1', 10],
    ['WINCH', 28],
    ['RTMIN', 34],
    ['SIGRTMIN+3', 37],
    ['RTMAX-1', 63],
    ['64', 64],
  ])('%s is %d', (input, n) => {
    expect(parseSignal(input)).toBe(n);
  });

  it.each(['', 'SIGFOO', 'KILLL', '0', '65', '-9', '9.5', 'RTMIN+31', 'RTMAX+1', 'SIG'])(
    'rejects %j with a typed error naming it',
    (input) => {
      let err: unknown;
      try {
        parseSignal(input);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ContainerError);
      expect((err as ContainerError).code).toBe('ECONTAINER_SIGNAL');
      expect((err as ContainerError).message).toContain(input);
    },
  );
});

describe('signalName', () => {
  it('names standard and realtime signals', () => {
    expect(signalName(9)).toBe('SIGKILL');
    expect(signalName(34)).toBe('SIGRTMIN');
    expect(signalName(40)).toBe('SIGRTMIN+6');
  });
});

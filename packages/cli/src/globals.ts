/** Options that go before the subcommand, as in runc. */
export interface GlobalOptions {
  root: string;
  log?: string;
  logFormat: 'text' | 'json';
  debug: boolean;
  systemdCgroup?: boolean;
  rootless: 'true' | 'false' | 'auto';
}

export const DEFAULT_ROOT = '/run/tsoci';

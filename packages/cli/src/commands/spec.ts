import { writeDefaultConfig } from '@ts-oci/runtime';

export interface SpecCommandOptions {
  bundle?: string;
  rootless?: boolean;
}

export async function specCommand(opts: SpecCommandOptions): Promise<void> {
  await writeDefaultConfig(opts.bundle ?? '.', { rootless: opts.rootless === true });
}

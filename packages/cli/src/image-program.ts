import { type Command, Option } from 'commander';
import type { GlobalOptions } from './globals.js';

/**
 * `tsoci image …` and `tsoci bundle`. Registered here (not in program.ts) so
 * the image commands live in one place; their behaviour is in @ts-oci/image,
 * and their implementation (./commands/image.ts) is loaded only when one of
 * them runs, so `tsoci state` does not pay for it.
 */

const REFERENCES = `IMAGE is oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG], docker://[HOST/]NAME[:TAG|@DIGEST],
or NAME[:TAG] (a store image by name or digest prefix, else a registry).`;

const ENVIRONMENT = `Registries are spoken to over https with certificate verification: --insecure skips the
verification, --plain-http uses http (no fallback from one to the other).
Environment: TSOCI_STORE (the store), TSOCI_REGISTRY_PLAIN_HTTP and TSOCI_REGISTRY_INSECURE ("1" or a
comma list of HOST[:PORT]; used when the flag is absent, and by run --image), REGISTRY_AUTH_FILE.
Progress goes to stderr (plain lines when it is not a terminal); --quiet prints none.`;

const STORE_HELP =
  'the image store (an OCI image layout) (default: $TSOCI_STORE, else /var/lib/tsoci/images as root, ~/.local/share/tsoci/images otherwise)';

function withStore(cmd: Command): Command {
  return cmd.option('--store <dir>', STORE_HELP);
}

function withRegistry(cmd: Command, what = 'registry'): Command {
  return cmd
    .option('--creds <user:password>', `credentials for the ${what}`)
    .option(
      '--authfile <file>',
      'read credentials from this file only (Docker config.json or containers auth.json); default: $REGISTRY_AUTH_FILE, containers auth.json, ~/.docker/config.json',
    )
    .option('--plain-http', `talk to the ${what} over plain http (no TLS)`)
    .option('--insecure', `use https but do not verify the ${what}'s certificate`);
}

function withPlatform(cmd: Command): Command {
  return cmd.option(
    '--platform <os/arch[/variant]>',
    'which image of a multi-platform index (default: this host)',
  );
}

function withQuiet(cmd: Command, what = 'progress'): Command {
  return cmd.option('-q, --quiet', `print no ${what} on stderr`);
}

export function registerImageCommands(
  program: Command,
  globals: () => GlobalOptions,
  setResult: (code: number | undefined) => void,
): void {
  const impl = () => import('./commands/image.js');
  const image = withStore(
    program
      .command('image')
      .summary('manage images in the local store: pull, import, push, ls, inspect, rm, gc')
      .description(
        `manage images in the local store (an OCI image layout)\n\n${REFERENCES}\n\n${ENVIRONMENT}`,
      ),
  );
  // --store may be given before or after the subcommand; the subcommand's wins.
  const storeOf = <T extends { store?: string }>(f: T): T => ({
    ...f,
    store: f.store ?? image.opts<{ store?: string }>().store,
  });

  withQuiet(
    withPlatform(
      withRegistry(
        withStore(
          image
            .command('pull')
            .summary('copy an image into the store (a bare NAME[:TAG] comes from its registry)')
            .description(
              `copy an image into the store (a bare NAME[:TAG] is fetched from its registry)\n\n${REFERENCES}\nThe manifest digest is printed on stdout; NAME defaults to the normalised reference.`,
            )
            .argument('<image>', 'what to pull')
            .argument('[name]', 'the name in the store'),
        ),
      ),
    ),
  ).action(async (ref: string, name: string | undefined, f) =>
    setResult(await (await impl()).imagePullCommand(globals(), ref, name, storeOf(f), 'pull')),
  );

  withQuiet(
    withPlatform(
      withRegistry(
        withStore(
          image
            .command('import')
            .summary('copy an image from a layout, an archive or a registry into the store')
            .description(
              `copy an image from a layout, an archive or a registry into the store\n\n${REFERENCES}\nNAME defaults to the archive's NAME:TAG, a whole-name TAG, or <file or dir name>:<TAG or latest>.`,
            )
            .argument('<image>', 'oci:…, oci-archive:…, docker-archive:… or docker://…')
            .argument('[name]', 'the name in the store'),
        ),
      ),
    ),
  ).action(async (ref: string, name: string | undefined, f) =>
    setResult(await (await impl()).imagePullCommand(globals(), ref, name, storeOf(f), 'import')),
  );

  withQuiet(
    withPlatform(
      withRegistry(
        withStore(
          image
            .command('push')
            .summary('copy a store image to a registry')
            .description(
              'copy a store image (or any IMAGE) to a registry; without DESTINATION the name is the registry reference',
            )
            .argument('<image>', 'the store image (or any IMAGE reference)')
            .argument('[destination]', 'docker://[HOST/]NAME[:TAG] or [HOST/]NAME[:TAG]'),
        ),
      ),
    ),
  ).action(async (src: string, dest: string | undefined, f) =>
    setResult(await (await impl()).imagePushCommand(globals(), src, dest, storeOf(f))),
  );

  withStore(
    image
      .command('ls')
      .alias('list')
      .description('list the images in the store')
      .addOption(
        new Option('-f, --format <format>', 'table or json')
          .choices(['table', 'json'])
          .default('table'),
      )
      .option('-q, --quiet', 'print only the names'),
  ).action(async (f) => setResult(await (await impl()).imageListCommand(globals(), storeOf(f))));

  withPlatform(
    withRegistry(
      withStore(
        image
          .command('inspect')
          .summary('print the resolved manifest and config of an image as JSON')
          .description(
            `print the resolved manifest and config of an image as JSON (a registry image is not stored)\n\n${REFERENCES}`,
          )
          .argument('<image>'),
      ),
    ),
  ).action(async (ref: string, f) =>
    setResult(await (await impl()).imageInspectCommand(globals(), ref, storeOf(f))),
  );

  withStore(
    image
      .command('rm')
      .alias('remove')
      .description('remove images from the store by name or digest; their blobs go at the next gc')
      .argument('<image...>')
      .option('-f, --force', 'do not fail on images that are not there'),
  ).action(async (names: string[], f) =>
    setResult(await (await impl()).imageRemoveCommand(globals(), names, storeOf(f))),
  );

  withStore(
    image
      .command('gc')
      .description(
        'remove blobs and unpacked layers that no image and no bundle uses (younger than --grace are kept)',
      )
      .option('--grace <duration>', 'keep what is younger than this (e.g. 10m, 1h, 0)', '1h'),
  ).action(async (f) => setResult(await (await impl()).imageGcCommand(globals(), storeOf(f))));

  withQuiet(
    withPlatform(
      withRegistry(
        withStore(
          program
            .command('bundle')
            .summary('create a runtime bundle (DIR/config.json + DIR/rootfs) from an image')
            .description(
              `create a runtime bundle (DIR/config.json + DIR/rootfs) from an image, or remove one\n\n${REFERENCES}\nWith --overlay (root only) DIR/rootfs is an overlay mount of layers unpacked once in the store;\nremove such a bundle with "tsoci bundle --remove DIR" (it unmounts the rootfs).`,
            )
            .usage('[options] IMAGE DIR | --remove DIR')
            .argument('[args...]')
            .option(
              '--overlay',
              'mount the layers from the store instead of unpacking a copy (root)',
            )
            .option('--remove', 'remove a bundle made by tsoci (unmount, release, delete)'),
        ),
      ),
    ),
  ).action(async (args: string[], f) =>
    setResult(await (await impl()).bundleCommand(globals(), args, f)),
  );

  // Commander's own errors ("too many arguments", "unknown command") in runc's
  // `tsoci: ` form: subcommands keep the output settings they were created
  // with, so main()'s later configureOutput on the program does not reach them.
  const bundle = program.commands.find((c) => c.name() === 'bundle');
  for (const cmd of [image, ...image.commands, ...(bundle ? [bundle] : [])]) {
    cmd.configureOutput({
      outputError: (str, write) => write(str.replace(/^error: /, 'tsoci: ')),
    });
  }
}

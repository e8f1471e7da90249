import type { Command, Help } from 'commander';

// runc's (urfave/cli) help layout: NAME / USAGE / VERSION / COMMANDS / OPTIONS
// sections with three-space indents. Generated from the registered commands so
// it never lists something that does not exist.
export function formatRuncStyleHelp(cmd: Command, helper: Help, version: string): string {
  const root = !cmd.parent;
  const name = root ? cmd.name() : `${cmd.parent?.name()} ${cmd.name()}`;
  const out: string[] = ['NAME:', `   ${name} - ${cmd.summary() || cmd.description()}`, ''];
  if (root) {
    out.push('USAGE:', `   ${name} [global options] command [command options] [arguments...]`, '');
    out.push('VERSION:', `   ${version.replace(/^tsoci version /, '')}`, '');
  } else {
    out.push('USAGE:', `   ${name} ${cmd.usage()}`, '');
    if (cmd.summary() && cmd.description() !== cmd.summary()) {
      out.push('DESCRIPTION:', indent(cmd.description(), '   '), '');
    }
  }
  const commands = helper.visibleCommands(cmd).filter((c) => c.name() !== 'help');
  if (commands.length > 0) {
    const width = Math.max(...commands.map((c) => c.name().length));
    out.push('COMMANDS:');
    for (const c of commands)
      out.push(`   ${c.name().padEnd(width)}  ${c.summary() || c.description()}`);
    out.push(`   ${'help, h'.padEnd(width)}  Shows a list of commands or help for one command`, '');
  }
  const options = helper.visibleOptions(cmd);
  if (options.length > 0) {
    const terms = options.map((o) => helper.optionTerm(o));
    const width = Math.max(...terms.map((t) => t.length));
    out.push(root ? 'GLOBAL OPTIONS:' : 'OPTIONS:');
    options.forEach((o, i) => {
      const def =
        o.defaultValue === undefined ? '' : ` (default: ${JSON.stringify(o.defaultValue)})`;
      out.push(`   ${(terms[i] ?? '').padEnd(width)}  ${o.description}${def}`);
    });
    out.push('');
  }
  return `${out.join('\n')}\n`;
}

function indent(text: string, pad: string): string {
  return text
    .split('\n')
    .map((l) => (l === '' ? l : pad + l))
    .join('\n');
}

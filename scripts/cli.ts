#!/usr/bin/env node
/**
 * The installed package's command: `npx superposition-lab COMMAND [flags]` runs scripts/COMMAND.ts, compiled, as
 * `npx tsx scripts/COMMAND.ts [flags]` runs it from a checkout (the same flags, the same bytes).
 */
const COMMANDS = {
  'phase-diagram': 'train a phase-diagram sweep, label it, compare with theory, write a report (the main job)',
  paper: "the paper's figures beside its claims, with checks, in one report",
  train: "train one of the paper's toy-model experiments and print what each model learned",
  compare: 'train two variants on the same seeds and report paired differences',
  report: "draw a sweep's report again from its results file",
} as const;

const [command, ...rest] = process.argv.slice(2);
if (!command || command === '--help' || command === '-h' || !(command in COMMANDS)) {
  const list = Object.entries(COMMANDS).map(([name, what]) => `  ${name.padEnd(14)} ${what}`).join('\n');
  const known = !command || command.startsWith('-');
  (known ? console.log : console.error)(`${known ? '' : `superposition-lab: unknown command '${command}'\n\n`}usage: npx superposition-lab COMMAND [flags]   (COMMAND --help lists its flags)\n\n${list}`);
  process.exit(known ? 0 : 2);
}
// The script reads its flags from process.argv as if it had been started itself.
const script = new URL(`./${command}.js`, import.meta.url);
process.argv = [process.argv[0], script.pathname, ...rest];
await import(script.href);

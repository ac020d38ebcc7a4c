/**
 * Flag parsing for the scripts: `--name value` or `--name=value`, each flag declared with its kind, default,
 * range and help. A bad value is an error naming the flag, the value and what is allowed; `--help` prints the table.
 * A flag given twice is an error (which one should win is a guess, and one script's defaults can depend on
 * another flag), and numbers are decimal only (`0x10` is not 16, `Infinity` is not a number of steps).
 */
export type FlagSpec =
  | { kind: 'number'; default: number; min?: number; max?: number; integer?: boolean; help: string }
  | { kind: 'string'; default: string; choices?: readonly string[]; help: string }
  | { kind: 'boolean'; default: boolean; help: string };

export type Values<S extends Record<string, FlagSpec>> = {
  [K in keyof S]: S[K] extends { kind: 'number' } ? number : S[K] extends { kind: 'boolean' } ? boolean : string;
};

export class FlagError extends Error {
  override name = 'FlagError';
}

export function usage(specs: Record<string, FlagSpec>): string {
  return Object.entries(specs)
    .map(([name, s]) => {
      const range = s.kind === 'number' ? ` (${s.min ?? '-inf'}..${s.max ?? 'inf'}${s.kind === 'number' && s.integer ? ', integer' : ''})` : s.kind === 'string' && s.choices ? ` (${s.choices.join('|')})` : '';
      // An empty default is spelled out by the help itself ("default out/<experiment>", "'' for none") or as none.
      const fallback = s.default !== '' ? `; default ${s.default}` : /default|''/.test(s.help) ? '' : '; default none';
      return `  --${name.padEnd(14)} ${s.help}${range}${fallback}`;
    })
    .join('\n');
}

/**
 * Parse argv against specs; `--help` prints `synopsis` (the usage line and a sentence on what the script does:
 * every script has one) and the flag table, then exits.
 */
export function parseFlags<S extends Record<string, FlagSpec>>(argv: readonly string[], specs: S, synopsis: string): Values<S> {
  const values: Record<string, number | string | boolean> = {};
  for (const [name, s] of Object.entries(specs)) values[name] = s.default;
  const given = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      console.log(`${synopsis}\n\nflags:\n${usage(specs)}`);
      process.exit(0);
    }
    if (!arg.startsWith('--')) throw new FlagError(`unexpected argument '${arg}' (flags look like --name value; see --help)`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = specs[name];
    if (!spec) throw new FlagError(`unknown flag --${name} (known: ${Object.keys(specs).map((n) => `--${n}`).join(', ')})`);
    let raw: string;
    if (eq !== -1) raw = arg.slice(eq + 1);
    else if (spec.kind === 'boolean' && (argv[i + 1] === undefined || argv[i + 1].startsWith('--'))) raw = 'true';
    else if (argv[i + 1] === undefined) throw new FlagError(`flag --${name} needs a value`);
    // `--out --resume` means a forgotten value, not a folder named --resume.
    else if (/^--[a-z][\w-]*(=\S*)?$/i.test(argv[i + 1])) throw new FlagError(`flag --${name} needs a value, got the flag ${argv[i + 1]}`);
    else raw = argv[++i];
    if (given.has(name)) throw new FlagError(`--${name} is given twice (${given.get(name)}, then ${raw}); give it once`);
    given.set(name, raw);
    values[name] = parseValue(name, raw, spec);
  }
  return values as Values<S>;
}

/** A decimal number, optionally with an exponent: 3, -0.5, .25, 1e-3 (no hex, binary, octal, Infinity or separators). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function parseValue(name: string, raw: string, spec: FlagSpec): number | string | boolean {
  switch (spec.kind) {
    case 'number': {
      const v = DECIMAL.test(raw) ? Number(raw) : NaN;
      const lo = spec.min ?? -Infinity;
      const hi = spec.max ?? Infinity;
      if (raw.trim() === '' || !Number.isFinite(v) || v < lo || v > hi || (spec.integer && !Number.isInteger(v))) {
        throw new FlagError(`--${name} ${raw}: expected ${spec.integer ? 'an integer' : 'a number'} in ${lo}..${hi}`);
      }
      return v;
    }
    case 'boolean':
      if (raw !== 'true' && raw !== 'false') throw new FlagError(`--${name} ${raw}: expected true or false`);
      return raw === 'true';
    case 'string':
      if (spec.choices && !spec.choices.includes(raw)) throw new FlagError(`--${name} ${raw}: expected one of ${spec.choices.join(', ')}`);
      return raw;
  }
}

/** Run `parse` (flag parsing and checks); a FlagError becomes one line on stderr and exit status 2. */
export function flagsOrExit<T>(script: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
    console.error(`${script}: ${e.message}`);
    process.exit(2);
  }
}

/**
 * Run a script's main and end the process the way every script does: a FlagError is one line and exit status 2,
 * any other failure one line (its stack with DEBUG=1) and status 1; a number main returns is the exit status.
 */
export function runScript(script: string, main: (argv: string[]) => Promise<number | void>): void {
  main(process.argv.slice(2)).then(
    (code) => {
      if (typeof code === 'number') process.exit(code);
    },
    (e: unknown) => {
      const flag = e instanceof FlagError;
      console.error(`${script}: ${e instanceof Error ? (process.env.DEBUG && !flag ? e.stack : e.message) : String(e)}`);
      process.exit(flag ? 2 : 1);
    },
  );
}

// `tapwire <command>`: a table of subcommands and nothing else. The CLI only reads data: config/,
// exporters/ (the catalogue, naming) and core/'s tables; it never imports agent/, so running it
// measures nothing and starts no hooks (tests/cli.test.ts checks the bundle).
import { fileURLToPath } from 'node:url';
import { runConfig } from './config.js';
import type { CliContext } from './context.js';
import { runDocs } from './docs.js';
import { runRules } from './rules.js';

declare const __TAPWIRE_VERSION__: string;
// Defined by scripts/build.mjs; when the source runs unbundled (tests) there is no version.
const VERSION = typeof __TAPWIRE_VERSION__ === 'string' ? __TAPWIRE_VERSION__ : '0.0.0-dev';

type Command = (args: string[], context: CliContext) => Promise<number> | number;

const COMMANDS: Record<string, { run: Command; summary: string }> = {
  config: { run: runConfig, summary: 'print the effective configuration; exit 1 on any bad value' },
  // Loaded on demand: Grafana's dashboard builder is needed by no other command.
  dashboards: {
    run: (args) => import('./dashboards.js').then((m) => m.runDashboards(args)),
    summary: 'write Grafana dashboards (JSON, ConfigMaps, GrafanaDashboard resources)',
  },
  docs: {
    run: runDocs,
    summary: 'generate docs/metrics.md, configuration.md, log-codes.md, channels.md and dashboards.md',
  },
  // Loaded on demand, like the sidecar: the AI provider stand-in it serves is needed nowhere else.
  demo: {
    run: (args, context) => import('./demo/index.js').then((m) => m.runDemo(args, context)),
    summary: 'run a small service under the preload: its numbers as tables, and its live page',
  },
  // Loaded on demand: it only reads dist/ and hands it to Bun's bundler.
  precompile: {
    run: (args, context) => import('./precompile.js').then((m) => m.runPrecompile(args, context)),
    summary: "compile the preload to the bytecode of the Bun that runs it (Bun's start-up)",
  },
  rules: { run: runRules, summary: 'write Prometheus alert and recording rules (and promtool tests)' },
  // Loaded on demand: the sidecar brings the recorders and undici, which no other command needs.
  sidecar: {
    run: (args) => import('../sidecar/index.js').then((m) => m.runSidecar(args)),
    summary: 'proxy, AI gateway and metrics merge beside an app (configured by the environment)',
  },
};

export const USAGE = `Usage: tapwire <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(12)}${c.summary}`)
  .join('\n')}

Options:
  -h, --help     show this help
  -v, --version  print the version

  tapwire config [--json]
  tapwire dashboards [--slo FILE] [--out DIR | --format configmap|operator | --board NAME]
  tapwire docs [--write|--check]
  tapwire demo [--runtime node|bun] [--raw] [--keep]
  bunx --bun tapwire precompile [--remove]
  tapwire rules [--slo FILE] [--format prometheus|operator] [--tests] [--out DIR]
  tapwire sidecar

Preload: node --import tapwire/register app.js · bun --preload tapwire/register app.ts
`;

export async function main(argv: string[], context: CliContext): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (name === '-v' || name === '--version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = name === undefined ? undefined : COMMANDS[name];
  if (command === undefined) {
    if (name !== undefined) process.stderr.write(`tapwire: unknown command ${JSON.stringify(name)}\n\n`);
    process.stderr.write(USAGE);
    return 2;
  }
  return command.run(rest, context);
}

// From this file's own location: main.ts is always an entry point (dist/cli/main.js), never a chunk.
const context: CliContext = {
  distDir: fileURLToPath(new URL('..', import.meta.url)),
  packageRoot: fileURLToPath(new URL('../..', import.meta.url)),
};
// Set the exit code rather than calling process.exit(), so piped stdout is flushed first.
process.exitCode = await main(process.argv.slice(2), context);

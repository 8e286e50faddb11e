// `tapwire precompile`, run with the Bun that runs the app: compiles the agent to that Bun's
// bytecode, so that `bun --preload tapwire/register` starts from the bytecode instead of parsing
// ~270 kB of JavaScript in every process.
//
// Why: Bun parses every module it loads and keeps no cache of the result between processes (Node's
// compile cache has no Bun counterpart), and parsing is most of what the preload costs Bun at start
// (measured on Bun 1.4.5: `-e 0` 7–10 ms sooner, spawn to first 200 6–15 ms sooner). Bun reads bytecode only for a
// CommonJS file built by `bun build --bytecode` and only when the Bun that built it runs it: a
// .jsc file of another Bun build is ignored and the source parsed. So the package ships none (it
// would be right for one Bun release and dead weight for every other, ~0.8 MB packed); the app's
// own Bun compiles it, once, where the package is installed (a Dockerfile step after the install).
//
// What it writes: dist/bun/<Bun.revision>/, the agent's files converted to CommonJS with their
// bytecode beside them. The preload looks for the tree of the Bun that runs it and starts from the
// plain ES modules when there is none (register.ts). Only the agent's own files (dist/chunks, not
// the CLI's) are converted; every file the agent loads later is in the tree too, so that the whole
// agent stays one copy of each module.
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { CliContext } from './context.js';

interface BunBuild {
  revision: string;
  version: string;
  build(options: {
    entrypoints: string[];
    root: string;
    outdir: string;
    target: 'bun';
    format: 'cjs';
    bytecode: boolean;
    external: string[];
  }): Promise<{ success: boolean; logs: unknown[]; outputs: { path: string }[] }>;
}

export const PRECOMPILE_USAGE = `Usage: bunx --bun tapwire precompile [--remove]

Compiles the preload to the bytecode of the Bun that runs this command, into
dist/bun/<revision>/ of the installed package; \`bun --preload tapwire/register\` then starts
from it. Run it again after updating Bun or tapwire. --remove deletes every compiled tree.
`;

// The esbuild output a CommonJS file cannot keep (scripts/build.mjs writes both): the banner's
// require (the CommonJS wrapper has one of its own) and the requires built from import.meta.url.
// `bun build` would otherwise write the path of the file it read, a temporary one, in their place.
const BANNER = "const require = process.getBuiltinModule('node:module').createRequire(import.meta.url);\n";
const MODULE_REQUIRE = /process\.getBuiltinModule\("node:module"\)\.createRequire\(import\.meta\.url\)/g;

export async function runPrecompile(args: string[], context: CliContext): Promise<number> {
  const remove = args.includes('--remove');
  const unknown = args.filter((a) => a !== '--remove');
  if (args.includes('-h') || args.includes('--help')) {
    process.stdout.write(PRECOMPILE_USAGE);
    return 0;
  }
  if (unknown.length > 0) {
    process.stderr.write(
      `tapwire precompile: unknown option ${JSON.stringify(unknown[0])}\n\n${PRECOMPILE_USAGE}`,
    );
    return 2;
  }
  const bunDir = join(context.distDir, 'bun');
  if (remove) {
    rmSync(bunDir, { recursive: true, force: true });
    process.stdout.write(`tapwire precompile: removed ${bunDir}\n`);
    return 0;
  }
  const bun = (globalThis as { Bun?: BunBuild }).Bun;
  if (bun === undefined) {
    process.stderr.write(
      'tapwire precompile: run it with the Bun that runs the app (the bytecode is only read by the Bun ' +
        'build that wrote it): bunx --bun tapwire precompile\n',
    );
    return 1;
  }

  const chunks = join(context.distDir, 'chunks');
  // The chunk that holds start() (scripts/build.mjs, skipFacade).
  const start = /import\("\.\/chunks\/([\w-]+\.js)"\)/.exec(
    readFileSync(join(context.distDir, 'register.js'), 'utf8'),
  )?.[1];
  if (start === undefined) {
    process.stderr.write(`tapwire precompile: ${context.distDir}register.js names no start module\n`);
    return 1;
  }
  const input = mkdtempSync(join(tmpdir(), 'tapwire-precompile-'));
  const staging = join(bunDir, `.${bun.revision}-${process.pid}`);
  try {
    // Made here, before the build: a package this user may not write to (read-only, another
    // owner's) is said plainly (EACCES, EROFS) instead of as a failed bundle.
    mkdirSync(staging, { recursive: true });
    mkdirSync(join(input, 'chunks'));
    const entries: string[] = [];
    const write = (name: string, text: string) => {
      const plain = text
        .replace(/^\/\/ @bun\n/, '')
        .replace(BANNER, '')
        .replace(MODULE_REQUIRE, 'require');
      if (plain.includes('import.meta')) throw new Error(`${name} reads import.meta, which CommonJS has not`);
      writeFileSync(join(input, name), plain);
      entries.push(join(input, name));
    };
    for (const file of readdirSync(chunks)) {
      if (file.endsWith('.js') && !file.startsWith('cli-'))
        write(`chunks/${file}`, readFileSync(join(chunks, file), 'utf8'));
    }
    // The tree's entry, at a fixed name: what register.js takes from the start chunk, re-exported
    // (that chunk itself is in chunks/ with the others: one copy of each module). The path goes
    // through JSON.stringify: a literal `from "./…"` in this file would read as an import of it.
    write('start.js', `export { precompiledFailed, start } from ${JSON.stringify(`./chunks/${start}`)};\n`);

    const result = await bun.build({
      entrypoints: entries,
      root: input,
      outdir: staging,
      target: 'bun',
      format: 'cjs',
      bytecode: true,
      // Each file stays a module of its own: the chunks import each other, as in dist/chunks.
      external: ['./*', '../*', 'pino-pretty'],
    });
    if (!result.success) throw new AggregateError(result.logs, 'bun build failed');
    rmSync(join(bunDir, bun.revision), { recursive: true, force: true });
    renameSync(staging, join(bunDir, bun.revision));
    // One tree: one of an older Bun is never read again.
    for (const other of readdirSync(bunDir)) {
      if (other !== bun.revision) rmSync(join(bunDir, other), { recursive: true, force: true });
    }
    const where = relative(process.cwd(), join(bunDir, bun.revision)) || '.';
    process.stdout.write(
      `tapwire precompile: ${entries.length} files compiled for Bun ${bun.version} (${bun.revision.slice(0, 8)}) into ${where}\n`,
    );
    return 0;
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'EACCES' || code === 'EROFS' || code === 'EPERM'
        ? `${context.distDir} is not writable here (${code}): run it where the package is installed, as its owner`
        : error instanceof AggregateError
          ? `${error.message}: ${error.errors.map(String).join('; ')}`
          : String((error as Error).message ?? error);
    process.stderr.write(`tapwire precompile: ${why}\n`);
    return 1;
  } finally {
    rmSync(input, { recursive: true, force: true });
  }
}

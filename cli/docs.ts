// `tapwire docs [--write|--check]`: regenerate the generated pages (cli/docs/index.ts), or check
// that the committed ones are current. Without a flag it checks: the read-only action is the default.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CliContext } from './context.js';
import { GENERATED_DOCS, staleDocs } from './docs/index.js';

const USAGE = 'Usage: tapwire docs [--write|--check]\n';

export function runDocs(args: string[], context: CliContext): number {
  const [mode = '--check', ...rest] = args;
  if ((mode !== '--write' && mode !== '--check') || rest.length > 0) {
    process.stderr.write(`tapwire docs: unexpected ${JSON.stringify(args.join(' '))}\n${USAGE}`);
    return 2;
  }
  // The pages describe the code of this package, so they live beside it, whatever the cwd.
  const root = context.packageRoot;
  const stale = staleDocs(root);
  if (mode === '--check') {
    for (const path of stale) process.stderr.write(`stale: ${path} (run: tapwire docs --write)\n`);
    if (stale.length === 0)
      process.stdout.write(`up to date: ${GENERATED_DOCS.map((d) => d.path).join(', ')}\n`);
    return stale.length === 0 ? 0 : 1;
  }
  for (const doc of GENERATED_DOCS) {
    if (!stale.includes(doc.path)) continue;
    const file = join(root, doc.path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, doc.render());
    process.stdout.write(`wrote ${doc.path}\n`);
  }
  if (stale.length === 0) process.stdout.write('docs already up to date\n');
  return 0;
}

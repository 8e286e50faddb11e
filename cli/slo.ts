// The SLO file that `tapwire rules` and `tapwire dashboards` read: YAML, validated by rules/config.ts.
// A file that cannot be read or is invalid is reported on stderr the same way for both commands.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { RULES_ERROR_CODE, RulesConfigError } from '../rules/index.js';

/** `use(parsed file, or undefined without one)`; undefined after reporting a failure on stderr. */
export function withSlo<T>(
  command: string,
  file: string | undefined,
  use: (raw: unknown) => T,
): T | undefined {
  try {
    return use(file === undefined ? undefined : parse(readFileSync(file, 'utf8')));
  } catch (error) {
    const code = error instanceof RulesConfigError ? RULES_ERROR_CODE : (error as { code?: string }).code;
    process.stderr.write(
      `tapwire ${command}: ${file ?? ''}${file ? ': ' : ''}${(error as Error).message}${code ? ` (${code})` : ''}\n`,
    );
    return undefined;
  }
}

// `tapwire rules [--slo FILE] [--format prometheus|operator] [--tests] [--out DIR]`: alert and
// recording rules for the metrics tapwire emits (rules/). Reads only the SLO file; imports no agent code.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate, renderOperator, renderPrometheus, renderTests } from '../rules/index.js';
import { OPERATOR_FILE, RULE_FILE, TEST_FILE } from '../rules/render.js';
import { withSlo } from './slo.js';

const USAGE = `Usage: tapwire rules [--slo FILE] [--format prometheus|operator] [--tests] [--out DIR]

  --slo FILE     SLO file (YAML): objectives per service and route, thresholds per AI provider and
                 db system, alert overrides (docs/alerts.md)
  --format F     prometheus (a rule file, default) or operator (a PrometheusRule manifest)
  --tests        print the promtool test file instead (promtool test rules)
  --out DIR      write ${RULE_FILE}, ${OPERATOR_FILE} and ${TEST_FILE} into DIR
`;

export function runRules(args: string[]): number {
  let slo: string | undefined;
  let format = 'prometheus';
  let tests = false;
  let out: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    try {
      if (a === '--slo') slo = value();
      else if (a === '--format') format = value();
      else if (a === '--tests') tests = true;
      else if (a === '--out') out = value();
      else if (a === '-h' || a === '--help') {
        process.stdout.write(USAGE);
        return 0;
      } else throw new UsageError(`unexpected ${JSON.stringify(a)}`);
    } catch (error) {
      process.stderr.write(`tapwire rules: ${(error as Error).message}\n${USAGE}`);
      return 2;
    }
  }
  if (format !== 'prometheus' && format !== 'operator') {
    process.stderr.write(
      `tapwire rules: --format must be prometheus or operator, got ${JSON.stringify(format)}\n${USAGE}`,
    );
    return 2;
  }
  const set = withSlo('rules', slo, generate);
  if (set === undefined) return 1;
  if (out !== undefined) {
    mkdirSync(out, { recursive: true });
    for (const [file, text] of [
      [RULE_FILE, renderPrometheus(set)],
      [OPERATOR_FILE, renderOperator(set)],
      [TEST_FILE, renderTests(set)],
    ] as const) {
      writeFileSync(join(out, file), text);
      process.stdout.write(`wrote ${join(out, file)}\n`);
    }
    return 0;
  }
  process.stdout.write(
    tests ? renderTests(set) : format === 'operator' ? renderOperator(set) : renderPrometheus(set),
  );
  return 0;
}

class UsageError extends Error {}

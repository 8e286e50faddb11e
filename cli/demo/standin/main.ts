// The stand-in as a process of its own (dist/cli/standin.js), for bench/ai.mjs: a process apart
// from the measured app, so its CPU cost is the same for every mode and never lands in the app.
//   node dist/cli/standin.js '{"ports":{"openai":8080},"pace":{"every":8,"first":0,"ms":0}}'
// The one argument is StandinOptions as JSON (none: the defaults). Prints `ready` and the
// TAPWIRE_AI_ENDPOINTS value on stderr once every port listens; stops on SIGTERM or SIGINT.
import { type StandinOptions, startStandin } from './index.js';

const standin = await startStandin(JSON.parse(process.argv[2] ?? '{}') as StandinOptions);
process.stderr.write(`ready ${standin.endpoints}\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => standin.close().then(() => process.exit(0)));
}

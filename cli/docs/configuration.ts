// docs/configuration.md from the variable table and the profiles, so the page lists exactly what
// loadConfig reads. The bad-value example is produced by loadConfig itself, so it cannot drift.
import {
  AI_PRICE_MAX,
  CONFIG_ERROR_CODE,
  loadConfig,
  PROFILE_DEFAULTS,
  PROFILES,
  VARIABLES,
} from '../../config/index.js';
import { SERVICE_NAME_MAX } from '../../config/variables.js';
import { formatValue } from '../config.js';
import { code, generatedFrom, table } from './markdown.js';

function defaultText(v: { fallback: unknown; fallbackDoc?: string }): string {
  return v.fallbackDoc ?? code(formatValue(v.fallback));
}

export function renderConfigurationDoc(): string {
  const variables = table(
    ['variable', 'meaning', 'accepted values', 'default'],
    Object.values(VARIABLES).map((v) => [code(v.name), v.doc, v.accepted, defaultText(v)]),
  );
  const profiles = table(
    ['profile', 'log level', 'log format', 'live page (`TAPWIRE_DASHBOARD`)'],
    PROFILES.map((p) => [
      code(p),
      code(PROFILE_DEFAULTS[p].logLevel),
      PROFILE_DEFAULTS[p].prettyOnTTY ? 'human-readable on a TTY, JSON otherwise' : 'JSON',
      PROFILE_DEFAULTS[p].dashboard ? 'on' : 'off',
    ]),
  );
  const secrets = Object.values(VARIABLES)
    .filter((v) => 'secret' in v && v.secret)
    .map((v) => code(v.name))
    .join(', ');
  const example = loadConfig({ OTEL_EXPORTER_PROMETHEUS_PORT: 'abc' }, { cwd: '/', isTTY: false })
    .problems[0];

  return `# Configuration

${generatedFrom('config/variables.ts and config/profiles.ts')}
tapwire reads its configuration from the environment only; no file is needed. The standard
OpenTelemetry variables keep their standard meaning; tapwire's own start with \`TAPWIRE_\`.
\`tapwire config\` prints what a process would run with (see [cli.md](cli.md)).

## Variables

${variables}
## Profiles

The deployment environment is \`TAPWIRE_ENV\`, else \`NODE_ENV\`, else \`development\`; it picks a
profile. A \`NODE_ENV\` that is not a profile name (\`local\`, \`qa\`) is kept as the environment
name (\`deployment.environment.name\`) and runs the \`development\` profile without an error:
\`NODE_ENV\` belongs to the app. \`LOG_LEVEL\` overrides the profile's log level,
\`TAPWIRE_DASHBOARD\` its live page.

${profiles}
## Bad values

A bad value never stops the app. The preload reports each one once on stderr, as a \`warn\` line
from the agent's logger (\`component: "tapwire"\`) with \`code: "${CONFIG_ERROR_CODE}"\`, naming the
variable, the value (secrets masked, values longer than 64 characters shortened), what is accepted
and what the preload does instead. In most cases that is the setting's default; for example,
\`OTEL_EXPORTER_PROMETHEUS_PORT=abc\` is reported as:

    ${example?.message}

A few values are used after a change, or turn something off, and the line says so:

- \`OTEL_SERVICE_NAME\` (or \`service.name\` in \`OTEL_RESOURCE_ATTRIBUTES\`) longer than ${SERVICE_NAME_MAX}
  characters is cut to its first ${SERVICE_NAME_MAX}.
- \`TAPWIRE_AI_ENDPOINTS\` naming a provider tapwire does not know, without saying which API it
  speaks (\`host=openai@vllm\`), is read as OpenAI-compatible under that name.
- \`OTEL_EXPORTER_OTLP_HEADERS\` that is not a list of sendable \`name=value\` headers turns OTLP
  export off (spans and OTLP metrics; \`/metrics\` is unaffected) instead of sending without
  them: headers usually carry the credentials or the tenant, and data sent without them is
  refused or lands with the wrong tenant.
- A \`TAPWIRE_AI_PRICES\` file that cannot be read, or that has any price that is not a number from
  0 to ${AI_PRICE_MAX} (USD per million tokens), is not used at all: the built-in table prices the calls
  (\`TAPWIRE_ERR_AI_PRICES\`, naming up to three bad entries).

Secret values (${secrets}) are masked in these messages and in \`tapwire config\`; so are
credentials in URLs.

\`tapwire config\` reports the same problems and exits 1, so a deployment can check its environment
before the app starts (a CI step, an init container). \`tapwire sidecar\` runs with no default in
place of a bad value: it writes one \`TAPWIRE_ERR_SIDECAR_CONFIG\` error line per bad value (the
price file included) and exits 1 without starting.
`;
}

// docs/metrics.md from the metric catalogue, with names from the same translation the
// Prometheus endpoint uses, so the page shows exactly what a scrape shows.

import { LABEL_VALUE_CUT, LABEL_VALUE_MAX } from '../../core/series.js';
import { METRIC_LIST, type MetricDef } from '../../exporters/catalogue.js';
import { labelName, prometheusName, prometheusType } from '../../exporters/prometheus/naming.js';
import { code, generatedFrom, table } from './markdown.js';

const promName = (m: MetricDef): string => prometheusName(m.name, m.unit, m.kind);

function labels(m: MetricDef): string {
  return m.attributes.length === 0 ? '—' : m.attributes.map((a) => code(labelName(a))).join(', ');
}

function section(m: MetricDef): string {
  const name = promName(m);
  let out = `## ${code(name)}\n\n${m.description}\n\n`;
  out += `- Type: ${prometheusType(m.kind)}`;
  if (m.kind === 'histogram')
    out += ` (${code(`${name}_bucket`)}, ${code(`${name}_sum`)}, ${code(`${name}_count`)})`;
  out += '\n';
  out += `- Unit: ${m.unit === '' ? 'none' : code(m.unit)}\n`;
  out += `- OpenTelemetry instrument: ${code(m.name)} (${m.kind})\n`;
  if (m.attributes.length === 0) {
    out += '- Labels: none\n';
  } else {
    out += '- Labels:\n';
    for (const a of m.attributes) {
      const when = m.conditional?.[a];
      out += `  - ${code(labelName(a))}${when ? ` — ${when}` : ''}\n`;
    }
  }
  if (m.buckets) out += `- Buckets: ${m.buckets.join(', ')}\n`;
  out += `- Source: ${m.source}\n`;
  return out;
}

export function renderMetricsDoc(): string {
  const summary = table(
    ['metric', 'type', 'unit', 'labels'],
    METRIC_LIST.map((m) => [
      `[${code(promName(m))}](#${promName(m)})`,
      prometheusType(m.kind),
      m.unit === '' ? '—' : code(m.unit),
      labels(m),
    ]),
  );
  return `# Metrics

${generatedFrom('exporters/catalogue.ts')}
Every metric tapwire emits, under the name Prometheus shows. Instruments follow the OpenTelemetry
semantic conventions; the Prometheus name is what Prometheus itself produces when it ingests the
same OTLP: dots become underscores, the unit becomes a suffix (\`s\` → \`_seconds\`, \`By\` →
\`_bytes\`; annotations such as \`{request}\` add nothing), counters end in \`_total\`. Labels are
the attribute keys with dots as underscores.

Labels are low-cardinality by design: never a raw URL path, query string, SQL text, prompt or user
id. Each metric keeps at most \`TAPWIRE_CARDINALITY_LIMIT\` label sets (default 2000); further
measurements go to one series labelled \`otel_metric_overflow="true"\` and are counted in
\`tapwire_cardinality_overflow_total\`.

Label values are bounded in size and content, whatever they come from (a model name a provider
reports, a route template, a table, database or host name, an operation name): a value holds at
most ${LABEL_VALUE_MAX} characters (Unicode code points), and a longer one keeps its first ${LABEL_VALUE_MAX - LABEL_VALUE_CUT.length}
followed by \`${LABEL_VALUE_CUT}\`; control characters (U+0000–U+001F, U+007F–U+009F),
bidirectional-text controls (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) and lone
surrogates are each replaced by U+FFFD (�), which is also what bytes that are not UTF-8 become. The
rule lives in \`core/series.ts\` (\`labelValue\`); values that differ only past the cut share a series.

${summary}
${METRIC_LIST.map(section).join('\n')}`;
}

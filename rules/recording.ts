// Step 2: recording rules, named `level:metric:operations` (Prometheus naming practice). The SLO
// ratios are recorded per scope over every window a burn-rate tier needs; the component ratios
// over 5m. A ratio's numerator falls back to 0 × the denominator, so a service without errors
// records 0 rather than nothing, and a service without traffic records nothing (0/0 is dropped by
// the `> 0` guards in the alerts).
import { budgetRecordingRules } from './budgets.js';
import type { RulesConfig, SloScope } from './config.js';
import type { Group, RecordingRule } from './model.js';
import { L, le, M } from './names.js';
import { SLO_WINDOWS } from './windows.js';

const sel = (matchers: readonly string[]): string =>
  matchers.length === 0 ? '' : `{${matchers.join(', ')}}`;
const by = (scope: SloScope): string => (scope.level === 'job' ? 'job' : `job, ${L.route}`);

/** Names of the recorded series the alerts read; one place so recording and alerting agree. */
export const R = {
  httpRequests: (level: string, w: string) => `${level}:http_server_requests:rate${w}`,
  httpErrors: (level: string, w: string) => `${level}:http_server_request_errors:ratio_rate${w}`,
  httpSlow: (level: string, w: string) => `${level}:http_server_request_slow:ratio_rate${w}`,
  httpP99: 'job:http_server_request_duration_seconds:p99_rate5m',
  dbRequests: 'job_db_system:db_client_operations:rate5m',
  dbErrors: 'job_db_system:db_client_operation_errors:ratio_rate5m',
  dbP99: 'job_db_system:db_client_operation_duration_seconds:p99_rate5m',
  aiRequests: 'job_gen_ai_provider:gen_ai_client_operations:rate5m',
  aiErrors: 'job_gen_ai_provider:gen_ai_client_operation_errors:ratio_rate5m',
  aiRateLimited: 'job_gen_ai_provider:gen_ai_client_operation_rate_limited:ratio_rate5m',
  aiTtfcP95: 'job_gen_ai_provider:gen_ai_client_operation_time_to_first_chunk_seconds:p95_rate5m',
  tokens: (w: string) => `job:gen_ai_client_token_usage:rate${w}`,
  cost: (w: string) => `job:tapwire_gen_ai_cost_usd:rate${w}`,
} as const;

function ratio(
  metric: string,
  errorMatchers: readonly string[],
  all: readonly string[],
  b: string,
  w: string,
): string {
  const total = `sum by (${b}) (rate(${metric}${sel(all)}[${w}]))`;
  const errors = `sum by (${b}) (rate(${metric}${sel([...all, ...errorMatchers])}[${w}]))`;
  return `(${errors} or 0 * ${total}) / ${total}`;
}

function sloRules(scope: SloScope): RecordingRule[] {
  const count = `${M.httpServer}_count`;
  const bucket = `${M.httpServer}_bucket`;
  const b = by(scope);
  const rules: RecordingRule[] = [];
  for (const w of SLO_WINDOWS) {
    rules.push({
      record: R.httpRequests(scope.level, w),
      expr: `sum by (${b}) (rate(${count}${sel(scope.matchers)}[${w}]))`,
    });
    rules.push({
      record: R.httpErrors(scope.level, w),
      expr: ratio(count, [`${L.status}=~"5.."`], scope.matchers, b, w),
    });
    const fast = `sum by (${b}) (rate(${bucket}${sel([...scope.matchers, `le="${le(scope.objectives.latency.threshold)}"`])}[${w}]))`;
    const total = `sum by (${b}) (rate(${count}${sel(scope.matchers)}[${w}]))`;
    rules.push({ record: R.httpSlow(scope.level, w), expr: `1 - (${fast} / ${total})` });
  }
  return rules;
}

const quantile = (q: number, metric: string, b: string): string =>
  `histogram_quantile(${q}, sum by (${b}, le) (rate(${metric}_bucket[5m])))`;

export function recordingRules(config: RulesConfig): Group<RecordingRule>[] {
  const dbBy = `job, ${L.dbSystem}`;
  const aiBy = `job, ${L.provider}`;
  return [
    ...config.scopes.map((scope) => ({
      name: `tapwire.slo.http.${scope.title.replace(/[^a-zA-Z0-9/_-]+/g, '_')}`,
      rules: sloRules(scope),
    })),
    {
      name: 'tapwire.http',
      rules: [{ record: R.httpP99, expr: quantile(0.99, M.httpServer, 'job') }],
    },
    {
      name: 'tapwire.db',
      rules: [
        { record: R.dbRequests, expr: `sum by (${dbBy}) (rate(${M.db}_count[5m]))` },
        { record: R.dbErrors, expr: ratio(`${M.db}_count`, [`${L.dbErrorType}!=""`], [], dbBy, '5m') },
        { record: R.dbP99, expr: quantile(0.99, M.db, dbBy) },
      ],
    },
    {
      name: 'tapwire.gen_ai',
      rules: [
        { record: R.aiRequests, expr: `sum by (${aiBy}) (rate(${M.genAi}_count[5m]))` },
        { record: R.aiErrors, expr: ratio(`${M.genAi}_count`, [`${L.aiErrorType}!=""`], [], aiBy, '5m') },
        {
          record: R.aiRateLimited,
          expr: ratio(`${M.genAi}_count`, [`${L.aiErrorType}="429"`], [], aiBy, '5m'),
        },
        { record: R.aiTtfcP95, expr: quantile(0.95, M.genAiTtfc, aiBy) },
        ...['1h', '6h'].flatMap((w) => [
          { record: R.tokens(w), expr: `sum by (job) (rate(${M.genAiTokens}_sum[${w}]))` },
          { record: R.cost(w), expr: `sum by (job) (rate(${M.genAiCost}[${w}]))` },
        ]),
      ],
    },
    ...(config.budgets.length === 0
      ? []
      : [{ name: 'tapwire.gen_ai.budgets', rules: budgetRecordingRules(config.budgets) }]),
  ];
}

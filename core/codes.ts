// Every code a tapwire log line or CLI error carries, once: its level, what it means and what to
// do. The agent's logger takes its level from here (a code is always logged at the same level),
// the type of `code` keeps a new line from inventing an undocumented one, and docs/log-codes.md is
// generated from this table. No imports: config/, rules/ and the CLI read it too.

export type LogLevelName = 'debug' | 'info' | 'warn' | 'error';

export interface LogCodeDef {
  /** The level every line with this code is written at. */
  readonly level: LogLevelName;
  /** Who writes it: the preload (inside the app), the sidecar, or the CLI. */
  readonly from: 'preload' | 'sidecar' | 'preload, sidecar' | 'cli';
  readonly meaning: string;
  /** What a user should do; empty when nothing needs doing. */
  readonly action: string;
}

export const LOG_CODES = {
  TAPWIRE_ERR_CONFIG: {
    level: 'warn',
    from: 'preload',
    meaning:
      'An environment variable has a value tapwire does not accept. The line names the variable, the value (secrets masked, long values shortened), what is accepted and what the preload does instead: in most cases it uses the default; a too-long service name is cut; an unknown AI provider is read as OpenAI-compatible; bad OTLP headers turn OTLP export off. The app runs on.',
    action:
      'Fix the variable. `tapwire config` prints the effective configuration and exits 1 while any value is bad.',
  },
  TAPWIRE_ERR_SIDECAR_CONFIG: {
    level: 'error',
    from: 'sidecar',
    meaning:
      'An environment variable (or the TAPWIRE_AI_PRICES file) has a value the sidecar does not accept; one line per bad value, naming the variable, the value (secrets masked), what is accepted. The sidecar does not start and exits 1.',
    action: 'Fix the variable; `tapwire config` checks the environment without starting anything.',
  },
  TAPWIRE_ERR_UNSUPPORTED: {
    level: 'warn',
    from: 'preload',
    meaning: 'A setting names something tapwire does not implement yet; the line says what happens instead.',
    action: 'Unset the variable, or use a supported value (docs/configuration.md).',
  },
  TAPWIRE_ERR_START: {
    level: 'error',
    from: 'preload, sidecar',
    meaning:
      'tapwire could not start. In the preload every hook it had installed is removed again and the app runs as without tapwire; the sidecar exits 1.',
    action: 'Report it with the stack in the line (`err.stack`).',
  },
  TAPWIRE_ERR_PRECOMPILED: {
    level: 'error',
    from: 'preload',
    meaning:
      'On Bun, the agent compiled by `tapwire precompile` for this Bun (dist/bun/<revision>/ in the package) is there but failed to load: a file of it is missing or unreadable. The preload starts from the plain bundle instead, as it does where nothing was compiled: everything is measured, start-up takes the time the bytecode would have spared.',
    action:
      'Run `bunx --bun tapwire precompile` again with this Bun (it writes the tree afresh), or `bunx --bun tapwire precompile --remove`. Report the line if it comes back.',
  },
  TAPWIRE_ERR_HOOK: {
    level: 'error',
    from: 'preload',
    meaning:
      'One instrumentation threw. It is disabled for the rest of the process (its patches pass calls straight through); everything else keeps measuring, and the app never sees the error.',
    action:
      'Report it with the hook name and stack in the line. Metrics of that library or runtime feature stop.',
  },
  TAPWIRE_METRICS_LISTENING: {
    level: 'info',
    from: 'preload',
    meaning:
      'The Prometheus endpoint of this process listens at the address in the line (and the live page, when TAPWIRE_DASHBOARD is on, at `/` of it).',
    action: '',
  },
  TAPWIRE_METRICS_HOLDING: {
    level: 'debug',
    from: 'preload',
    meaning:
      'The Prometheus endpoint of this process listens at the address in the line, for a tapwire process above it that has not opened it yet (a parent running it with spawnSync before its event loop first turned). When this process ends it hands its counts on, and that process serves them once it takes the port.',
    action: '',
  },
  TAPWIRE_METRICS_PORT_YIELDED: {
    level: 'warn',
    from: 'preload',
    meaning:
      "The app itself listens on the port tapwire's /metrics held (many apps serve their own metrics on 9464): tapwire closed its endpoint just before the app's listen, so the app runs as without tapwire, and this process's metrics are on no endpoint.",
    action: "Set OTEL_EXPORTER_PROMETHEUS_PORT to a free port (or the app's to another one).",
  },
  TAPWIRE_APP_METRIC_CLASH: {
    level: 'warn',
    from: 'preload',
    meaning:
      "One of the app's metrics (an @opentelemetry/api instrument or a prom-client metric) has the same Prometheus name as one of tapwire's, or as another of the app's: one family per name is served, tapwire's first, then the one seen first. The line names the metric and the scope left out; said once per name.",
    action: "Rename the app's metric (docs/metrics.md lists the names tapwire uses).",
  },
  TAPWIRE_PROM_CLIENT_DEFAULTS: {
    level: 'info',
    from: 'preload',
    meaning:
      "The app called prom-client's collectDefaultMetrics(): its process_* and nodejs_* metrics measure what tapwire's runtime metrics measure, so /metrics serves tapwire's and leaves prom-client's default metrics out (the app's own prom-client metrics are served). With TAPWIRE_RUNTIME_METRICS=false, prom-client's are served instead.",
    action: '',
  },
  TAPWIRE_ERR_PROM_CLIENT: {
    level: 'warn',
    from: 'preload',
    meaning:
      "Reading the app's prom-client registry for /metrics failed (a collect() callback of one of its metrics threw); that collection served no prom-client metrics. Said once until a collection succeeds again.",
    action: "Fix the app's metric whose collect() throws (the line carries the error).",
  },
  TAPWIRE_STARTED: {
    level: 'debug',
    from: 'preload',
    meaning:
      "The preload has started, and where its start went, in milliseconds: runtime_ms (the runtime's own start, before the preload's first line), load_ms (loading the agent's code), config_ms, setup_ms (instruments and recorders, tracing and OTLP when configured), hooks_ms (installing the instrumentations, each in `hooks`), endpoint_ms (setting up the /metrics endpoint; trying the port and following a holder wait for the first turn of the event loop, or on Bun for the app's first listen), each without tapwire's own lines written in it, which log_ms adds up (written at debug only; on Bun the first loads node:fs), and total_ms (from the preload's first line: the phases and log_ms together); on Bun, precompiled tells whether the agent came from `tapwire precompile`'s bytecode. The app's own code runs after it. Where the start waited for the process to need it (docs/instrumentation.md, When the agent starts), trigger says what started it (`first turn`, `module pg`, `channel undici:request:create`, ...) and runtime_ms is the time before that.",
    action: '',
  },
  TAPWIRE_METRICS_FOLLOWING: {
    level: 'debug',
    from: 'preload',
    meaning:
      'Another process of the same service on this host holds the /metrics port (a launcher such as npm, a cluster primary, a sibling worker): this process pushes its metrics there, and that process serves them with its own.',
    action: '',
  },
  TAPWIRE_METRICS_HOLDER_SILENT: {
    level: 'debug',
    from: 'preload',
    meaning:
      'The process holding the /metrics port took the connection but has not said who it is within 300 ms: most often a parent whose event loop is blocked (execFileSync, spawnSync) while this process runs. This process waits for the answer without a limit and, if it ends first, writes its last metrics to that process unanswered.',
    action:
      'Nothing, when the holder is a tapwire parent. If something else holds the port and never answers HTTP, set OTEL_EXPORTER_PROMETHEUS_PORT to a free port.',
  },
  TAPWIRE_ERR_METRICS_PORT: {
    level: 'warn',
    from: 'preload',
    meaning:
      'The /metrics endpoint cannot listen (the port is taken or privileged, or OTEL_EXPORTER_PROMETHEUS_HOST is no address of this machine; the line says which); the endpoint stays off and the app runs on.',
    action:
      'Set OTEL_EXPORTER_PROMETHEUS_PORT to a free port, or OTEL_EXPORTER_PROMETHEUS_HOST to an address of this machine, as the line says.',
  },
  TAPWIRE_ERR_COLLECT: {
    level: 'error',
    from: 'preload, sidecar',
    meaning:
      'Collecting the metrics for a scrape failed; that scrape was answered 500 and the next one collects again. Logged once per process.',
    action: 'Report it with the stack in the line.',
  },
  TAPWIRE_ERR_OTLP_EXPORT: {
    level: 'warn',
    from: 'preload',
    meaning:
      'An OTLP export (spans or metrics) failed while the process runs: the receiver refused the connection, did not answer within OTEL_EXPORTER_OTLP_TIMEOUT (retries included), or answered with an error. The line says how many spans or metric points that export held and why; said once, later losses are counted and TAPWIRE_ERR_OTLP_FLUSH gives the totals when the process ends.',
    action:
      'Check that the OTLP receiver is reachable from the app (OTEL_EXPORTER_OTLP_ENDPOINT) and accepts its headers.',
  },
  TAPWIRE_ERR_OTLP_FLUSH: {
    level: 'warn',
    from: 'preload',
    meaning:
      'When the process ended, some spans or OTLP metric points had not been delivered in its life (the line has the counts and the reasons, e.g. `3 spans, 41 metric points not exported: connection refused by collector:4318`). The last export does not retry: a refused receiver costs the exit a connect, one that does not answer at most OTEL_EXPORTER_OTLP_TIMEOUT.',
    action: 'Check that the OTLP receiver is reachable from the app (OTEL_EXPORTER_OTLP_ENDPOINT).',
  },
  TAPWIRE_OTLP_LOGS_DROPPED: {
    level: 'warn',
    from: 'preload',
    meaning:
      'Log records did not reach the OTLP logs receiver: the queue was full and the oldest records made room (reason queue_full), or the receiver did not take a batch (reason export_failed, with the error). Said once per reason; every record lost is counted in tapwire_log_records_dropped_total{reason}.',
    action:
      'queue_full: raise OTEL_BLRP_MAX_QUEUE_SIZE or log less. export_failed: check that the receiver is reachable from the app (OTEL_EXPORTER_OTLP_LOGS_ENDPOINT) and takes the protocol sent (OTEL_EXPORTER_OTLP_LOGS_PROTOCOL).',
  },
  TAPWIRE_DB_SLOW: {
    level: 'warn',
    from: 'preload',
    meaning:
      'A database operation took longer than TAPWIRE_DB_SLOW_MS. The line has the system, operation, sanitised statement (literals replaced), duration and trace id.',
    action: 'Look at the statement; raise TAPWIRE_DB_SLOW_MS if the threshold is too low for this service.',
  },
  TAPWIRE_DB_SLOW_NOT_LOGGED: {
    level: 'warn',
    from: 'preload',
    meaning:
      'More database operations were slow than the 50 TAPWIRE_DB_SLOW lines a process writes in 10 seconds (counted from the first slow one): `not_logged` says how many were left out. They are counted in db_client_operation_duration_seconds as every other; said once at the end of each such window, or when the process exits, if that comes first.',
    action:
      'Look at the database (every operation slow at once is usually the server or the network), or raise TAPWIRE_DB_SLOW_MS.',
  },
  TAPWIRE_ERR_AI_PRICES: {
    level: 'warn',
    from: 'preload',
    meaning:
      'The price file named by TAPWIRE_AI_PRICES cannot be read, is not a price table, or has a price that is not a number from 0 to 10000 (USD per million tokens; the line names up to three of them): none of the file is used, only the built-in table.',
    action: 'Fix the file (docs/configuration.md shows its shape).',
  },
  TAPWIRE_AI_UNKNOWN_MODEL: {
    level: 'warn',
    from: 'preload, sidecar',
    meaning:
      'An AI provider call used a model the price table does not know: its tokens are counted, its cost is not. Logged once per provider and model.',
    action: 'Add the model to a TAPWIRE_AI_PRICES file.',
  },
  TAPWIRE_AI_ATTRIBUTE_UNKNOWN: {
    level: 'warn',
    from: 'preload',
    meaning:
      'The app called withAttributes() with a name TAPWIRE_AI_ATTRIBUTES does not list: that value is left out of the AI series. Logged once per name.',
    action:
      'Add the name to TAPWIRE_AI_ATTRIBUTES (at most two names), or drop it from the withAttributes() call.',
  },
  TAPWIRE_HONO_UNRECOGNISED: {
    level: 'debug',
    from: 'preload',
    meaning:
      "This Hono version's dispatcher is not the one tapwire knows: Hono requests are measured without http_route.",
    action: '',
  },
  TAPWIRE_HONO_UNSUPPORTED: {
    level: 'debug',
    from: 'preload',
    meaning:
      'This Node has no usable module.registerHooks (before 22.22.3 on Node 22, 23, before 24.11.1 on Node 24, 25.0): Hono requests are measured without http_route.',
    action: 'Use Node 22.22.3+, 24.11.1+ or 25.1+ for Hono route templates.',
  },
  TAPWIRE_SIDECAR_LISTENING: {
    level: 'info',
    from: 'sidecar',
    meaning:
      'The sidecar listens: proxy, AI gateway and metrics ports, the upstream and the gateway prefixes.',
    action: '',
  },
  TAPWIRE_SIDECAR_SIGNAL: {
    level: 'info',
    from: 'sidecar',
    meaning: 'The sidecar received SIGTERM or SIGINT and starts draining.',
    action: '',
  },
  TAPWIRE_SIDECAR_DRAINING: {
    level: 'info',
    from: 'sidecar',
    meaning: 'Draining: /readyz answers 503, listeners are closed, requests in flight run to their end.',
    action: '',
  },
  TAPWIRE_SIDECAR_DRAINED: {
    level: 'info',
    from: 'sidecar',
    meaning: 'Drained; `cut` counts the requests, streams and tunnels still open at the deadline and closed.',
    action:
      'A non-zero `cut` on every rollout: raise TAPWIRE_DRAIN_SECONDS (and the pod\u2019s terminationGracePeriodSeconds).',
  },
  TAPWIRE_SIDECAR_PRELOADED: {
    level: 'warn',
    from: 'sidecar',
    meaning: 'The sidecar itself runs under the tapwire preload: its own traffic would be measured twice.',
    action: 'Unset NODE_OPTIONS for the sidecar container.',
  },
  TAPWIRE_ERR_LISTEN: {
    level: 'error',
    from: 'sidecar',
    meaning: 'A sidecar port cannot be opened; the sidecar exits 1.',
    action: 'Free the port or set TAPWIRE_PROXY_PORT, TAPWIRE_GATEWAY_PORT or OTEL_EXPORTER_PROMETHEUS_PORT.',
  },
  TAPWIRE_ERR_WORKERS_FULL: {
    level: 'warn',
    from: 'sidecar',
    meaning:
      'More worker processes push metrics than the sidecar keeps (64); new ones are ignored until others expire.',
    action: 'Fewer workers per pod, or more pods.',
  },
  TAPWIRE_ERR_WORKER_SERIES: {
    level: 'warn',
    from: 'sidecar',
    meaning:
      'A worker pushed more data points than the sidecar keeps per worker; the rest of that push is dropped.',
    action: 'Lower the worker\u2019s cardinality (TAPWIRE_CARDINALITY_LIMIT) or find the unbounded label.',
  },
  TAPWIRE_ERR_OTLP_FORMAT: {
    level: 'warn',
    from: 'sidecar',
    meaning:
      'A push to the sidecar\u2019s /v1/metrics is not an OTLP/HTTP JSON metrics request; it is answered 400 and not logged.',
    action: 'Push OTLP/HTTP JSON (the preload does, with OTEL_METRICS_EXPORTER=otlp).',
  },
  TAPWIRE_ERR_RULES: {
    level: 'error',
    from: 'cli',
    meaning:
      '`tapwire rules` cannot use the SLO file; the message names the field and what it expects. Exit code 1.',
    action: 'Fix the SLO file (docs/alerts.md describes it).',
  },
} as const satisfies Record<string, LogCodeDef>;

export type LogCode = keyof typeof LOG_CODES;

// OpenTelemetry ResourceMetrics -> Prometheus text exposition format 0.0.4, or OpenMetrics 1.0
// when a scrape asks for it: then histogram buckets carry their exemplar (the latest sampled
// recording in the bucket, with its trace and span ids: ../../core/histogram.ts), counter families
// are named without `_total` as OpenMetrics wants (the series keep it), a counter whose name has
// no `_total` (an app's prom-client counter named so) is served as `unknown` so that its series
// keep their name, and the page ends in `# EOF`.
// Histograms become cumulative `_bucket{le}` series (OpenTelemetry keeps per-bucket counts),
// resource attributes go on one `target_info` series as Prometheus' OTLP ingestion does, and
// every name passes through ./naming.ts — except prom-client's, which are the app's own names.
// Metric names are one namespace: when the app's metrics (its @opentelemetry/api meters, its
// prom-client registry) and tapwire's give the same Prometheus name, tapwire's family is served
// and the other is left out (`onDuplicate` says which).
import type { Attributes } from '@opentelemetry/api';
import type { Histogram, HistogramMetricData, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { DataPointType } from '../../core/metric-data.js';
import { RUNTIME } from '../../core/runtime.js';
import { AGENT_SCOPE, type InstrumentKind, PROM_CLIENT_SCOPE } from '../catalogue.js';
import { labelName, prometheusName, prometheusType, sanitize } from './naming.js';

/** The latest recording in a bucket made in a sampled span. */
export interface BucketExemplar {
  traceId: string;
  spanId: string;
  value: number;
  /** Milliseconds since the epoch. */
  timeMs: number;
}

/** A histogram point with one exemplar slot per bucket (the last one for +Inf). */
export type WithExemplars = Histogram & { exemplars?: (BucketExemplar | undefined)[] };

function escapeLabel(value: string): string {
  // Nearly every value needs nothing: one test instead of three replacements.
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}
const NEEDS_ESCAPE = /[\\\n"]/;

function escapeHelp(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** OpenMetrics escapes the double quote in HELP too. */
function escapeHelpOpenMetrics(value: string): string {
  return escapeHelp(value).replace(/"/g, '\\"');
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

function attributeValue(v: unknown): string {
  if (Array.isArray(v)) return JSON.stringify(v);
  return String(v);
}

/**
 * Label names by attribute key: a page names the same few keys thousands of times. Bounded: keys
 * come from instruments, and past the bound names are worked out each time.
 */
const LABEL_NAMES = new Map<string, string>();
const LABEL_NAMES_MAX = 4096;
function cachedLabelName(key: string): string {
  let name = LABEL_NAMES.get(key);
  if (name === undefined) {
    name = labelName(key);
    if (LABEL_NAMES.size < LABEL_NAMES_MAX) LABEL_NAMES.set(key, name);
  }
  return name;
}

/** `{a="1",b="2"` without the closing brace, so `le` can be appended; '' when empty. */
function openLabels(attributes: Attributes, extra?: Record<string, string>): string {
  let out = '';
  // Two keys can name one label (`a.b`, `a_b`): the first one wins. Label sets are short, so an
  // array is the cheaper set.
  const seen: string[] = [];
  for (const key in attributes) {
    const v = attributes[key];
    if (v === undefined || v === null) continue;
    const name = cachedLabelName(key);
    if (seen.includes(name)) continue;
    seen.push(name);
    out += `${out === '' ? '{' : ','}${name}="${escapeLabel(attributeValue(v))}"`;
  }
  if (extra) {
    for (const key of Object.keys(extra)) {
      const name = cachedLabelName(key);
      if (seen.includes(name)) continue;
      seen.push(name);
      out += `${out === '' ? '{' : ','}${name}="${escapeLabel(extra[key]!)}"`;
    }
  }
  return out;
}

function labels(attributes: Attributes, extra?: Record<string, string>): string {
  const open = openLabels(attributes, extra);
  return open === '' ? '' : `${open}}`;
}

export function kindOf(metric: MetricData): InstrumentKind {
  switch (metric.dataPointType) {
    case DataPointType.HISTOGRAM:
    case DataPointType.EXPONENTIAL_HISTOGRAM:
      return 'histogram';
    case DataPointType.SUM:
      return metric.isMonotonic ? 'counter' : 'updowncounter';
    default:
      return 'gauge';
  }
}

interface Family {
  name: string;
  type: string;
  help: string;
  lines: string[];
  /** The instrumentation scope that owns the name. */
  scope: string;
}

export interface SerializeOptions {
  /** Labels added to every series (the sidecar's merge uses it for the worker instance). */
  extraLabels?: Record<string, string>;
  /** Skip the target_info series. */
  withoutTargetInfo?: boolean;
}

export interface SerializeAllOptions {
  /** A family of `scope` was left out because another scope owns `name` (tapwire's own wins). */
  onDuplicate?: (name: string, scope: string) => void;
  /** OpenMetrics 1.0 with exemplars instead of the text format 0.0.4. */
  openMetrics?: boolean;
}

export function serialize(
  resourceMetrics: ResourceMetrics,
  options: SerializeOptions = {},
  all: SerializeAllOptions = {},
): string {
  return serializeAll([{ resourceMetrics, options }], all);
}

/**
 * Several sources on one page (the sidecar: its own metrics plus each worker's), grouped so every
 * family has its HELP and TYPE once. A family whose type disagrees with the first source that
 * used the name is dropped for the later source rather than rendered under the wrong TYPE.
 */
export function serializeAll(
  sources: readonly { resourceMetrics: ResourceMetrics; options?: SerializeOptions }[],
  all: SerializeAllOptions = {},
): string {
  return serializePieces(sources, all).join('');
}

/**
 * The page as pieces of about PIECE characters, in order: what serializeAll() joins. A page of a
 * few thousand series is a few hundred kilobytes; built as one string it was one large allocation,
 * then copied whole again to count its bytes and again to write it, each copy fresh memory (about
 * 0.5 ms of page faults per 265 kB on a 2-core VM, measured). The endpoint writes the pieces into
 * one reused buffer instead (./page-buffer.ts).
 */
export function serializePieces(
  sources: readonly { resourceMetrics: ResourceMetrics; options?: SerializeOptions }[],
  all: SerializeAllOptions = {},
): string[] {
  const families = new Map<string, Family>();
  const targets: string[] = [];
  for (const { resourceMetrics, options = {} } of sources) {
    const extra = options.extraLabels;
    if (!options.withoutTargetInfo)
      targets.push(`target_info${labels(resourceMetrics.resource.attributes, extra)} 1`);
    for (const { scope, metrics } of resourceMetrics.scopeMetrics) {
      const owner = scope.name;
      const verbatim = owner === PROM_CLIENT_SCOPE;
      for (const metric of metrics) {
        const kind = kindOf(metric);
        const name = verbatim
          ? sanitize(metric.descriptor.name)
          : prometheusName(metric.descriptor.name, metric.descriptor.unit, kind);
        const type = prometheusType(kind);
        let family = families.get(name);
        if (family !== undefined && family.scope !== owner) {
          if (owner !== AGENT_SCOPE) {
            all.onDuplicate?.(name, owner);
            continue;
          }
          // tapwire's own family takes the name over from the app's that came first.
          all.onDuplicate?.(name, family.scope);
          family = undefined;
        }
        if (family === undefined) {
          family = { name, type, help: metric.descriptor.description, lines: [], scope: owner };
          families.set(name, family);
        } else if (family.type !== type) {
          continue;
        }
        if (metric.dataPointType === DataPointType.HISTOGRAM) {
          writeHistogram(family, metric, extra, all.openMetrics === true);
        } else if (
          metric.dataPointType === DataPointType.SUM ||
          metric.dataPointType === DataPointType.GAUGE
        ) {
          for (const dp of metric.dataPoints) {
            family.lines.push(`${name}${labels(dp.attributes, extra)} ${formatValue(dp.value as number)}`);
          }
        }
        // Exponential histograms are never configured by tapwire; skipped rather than mis-rendered.
      }
    }
  }

  const openMetrics = all.openMetrics === true;
  const out = new Pieces();
  if (targets.length > 0) {
    out.line('# HELP target_info Target metadata');
    out.line('# TYPE target_info gauge');
    for (const line of targets) out.line(line);
  }
  for (const family of families.values()) {
    if (family.lines.length === 0) continue;
    let { name, type } = family;
    let help = escapeHelp(family.help || family.name);
    if (openMetrics) {
      help = escapeHelpOpenMetrics(family.help || family.name);
      if (type === 'counter') {
        if (name.endsWith('_total')) name = name.slice(0, -'_total'.length);
        else type = 'unknown';
      }
    }
    out.line(`# HELP ${name} ${help}`);
    out.line(`# TYPE ${name} ${type}`);
    for (const line of family.lines) out.line(line);
  }
  if (openMetrics) out.line('# EOF');
  return out.end();
}

/**
 * Characters per piece. Node: small enough for V8's young generation (a string over ~128 kB is a
 * large object, fresh memory each time). Bun: the page in one piece, which Bun.serve encodes
 * itself: JavaScriptCore joined the page in pieces ~0.5 ms slower per scrape of 2,000 series
 * than at once, and its large strings cost no such page faults (measured, Bun 1.4.5).
 */
const PIECE = RUNTIME === 'bun' ? Number.POSITIVE_INFINITY : 16 * 1024;

/**
 * Collects lines and joins them, each ended by a newline, into a piece past PIECE characters (a
 * join of the lines as they are: appending each line, or each line with its newline, was slower
 * on Bun, measured).
 */
class Pieces {
  private readonly done: string[] = [];
  private readonly pending: string[] = [];
  private chars = 0;

  line(text: string): void {
    this.pending.push(text);
    this.chars += text.length + 1;
    if (this.chars >= PIECE) this.cut();
  }

  end(): string[] {
    if (this.chars > 0) this.cut();
    return this.done;
  }

  private cut(): void {
    this.done.push(`${this.pending.join('\n')}\n`);
    this.pending.length = 0;
    this.chars = 0;
  }
}

/** ` # {trace_id="…",span_id="…"} value timestamp`: an OpenMetrics exemplar, seconds since the epoch. */
function exemplar(e: BucketExemplar | undefined): string {
  if (e === undefined) return '';
  return ` # {trace_id="${e.traceId}",span_id="${e.spanId}"} ${formatValue(e.value)} ${(e.timeMs / 1000).toFixed(3)}`;
}

/** The `le` texts of a boundary list, worked out once per list (tapwire's histograms hand the same array at every collection). */
const BOUNDARY_TEXTS = new WeakMap<readonly number[], string[]>();
function boundaryTexts(boundaries: readonly number[]): string[] {
  let texts = BOUNDARY_TEXTS.get(boundaries);
  if (texts === undefined) {
    texts = boundaries.map(formatValue);
    BOUNDARY_TEXTS.set(boundaries, texts);
  }
  return texts;
}

function writeHistogram(
  family: Family,
  metric: HistogramMetricData,
  extra: Record<string, string> | undefined,
  openMetrics: boolean,
): void {
  const name = family.name;
  for (const dp of metric.dataPoints) {
    const open = openLabels(dp.attributes, extra);
    const head = `${name}_bucket${open === '' ? '{' : `${open},`}le="`;
    const { boundaries, counts } = dp.value.buckets;
    const les = boundaryTexts(boundaries);
    const exemplars = openMetrics ? (dp.value as WithExemplars).exemplars : undefined;
    let cumulative = 0;
    for (let i = 0; i < boundaries.length; i++) {
      cumulative += counts[i] ?? 0;
      const line = `${head}${les[i]}"} ${cumulative}`;
      family.lines.push(exemplars === undefined ? line : line + exemplar(exemplars[i]));
    }
    family.lines.push(`${head}+Inf"} ${dp.value.count}${exemplar(exemplars?.[boundaries.length])}`);
    const closed = open === '' ? '' : `${open}}`;
    family.lines.push(`${name}_sum${closed} ${formatValue(dp.value.sum ?? 0)}`);
    family.lines.push(`${name}_count${closed} ${dp.value.count}`);
  }
}

// The live page on the metrics port (TAPWIRE_DASHBOARD, on in development): `GET /` answers the
// page, `GET /live.json` its numbers. Loaded by the endpoint the first time either is asked for —
// never by the preload at start-up (scripts/build.mjs puts it in a chunk of its own, with the page
// inlined: one HTML document, its script and style in it, nothing fetched from anywhere else).
//
// Reading the numbers runs nothing of the app's and changes nothing /metrics serves: this process's
// request-path instruments are read as they are (core/histogram.ts collectNow), the siblings' as
// they last pushed them, and merged as /metrics merges them (../merge.ts); the event loop and memory
// come from the page's own sampler (./runtime.ts).
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ProcessSource } from '../merge.js';
import { RuntimeSampler } from './runtime.js';
import { type Catalogue, liveMetrics, pushedRuntime, snapshot } from './snapshot.js';

declare const __TAPWIRE_LIVE_HTML__: string;
declare const __TAPWIRE_LIVE_CSP__: string;

export interface LiveAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface LiveSource {
  catalogue: Catalogue;
  service: string;
  /** This process's request-path instruments, read now. */
  own(): ResourceMetrics;
  /** What the siblings last pushed, with their `tapwire_process` slots. */
  siblings(): ProcessSource[];
  /** The merge /metrics uses (totals of the processes that are gone included). */
  merge(sources: readonly ProcessSource[]): ResourceMetrics;
}

export interface Live {
  page(): LiveAnswer;
  data(): LiveAnswer;
  close(): void;
}

const COMMON = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** Only what the page reads of a sibling's push, so the merge does no more work than that. */
function only(names: ReadonlySet<string>, rm: ResourceMetrics): ResourceMetrics {
  return {
    resource: rm.resource,
    scopeMetrics: rm.scopeMetrics.map((s) => ({
      scope: s.scope,
      metrics: s.metrics.filter((m) => names.has(m.descriptor.name)),
    })),
  };
}

export function createLive(source: LiveSource): Live {
  // Defined by scripts/build.mjs; the unbundled sources (unit tests) have no page.
  const built =
    typeof __TAPWIRE_LIVE_HTML__ === 'string'
      ? { html: __TAPWIRE_LIVE_HTML__, csp: __TAPWIRE_LIVE_CSP__ }
      : undefined;
  const sampler = new RuntimeSampler();
  const { catalogue } = source;
  const names = liveMetrics(catalogue);
  return {
    page() {
      if (built === undefined)
        return { status: 404, headers: { 'content-type': 'text/plain' }, body: 'no page in this build\n' };
      return {
        status: 200,
        headers: {
          'content-type': 'text/html; charset=utf-8',
          // The page's own script and style only (by hash), requests to this origin only.
          'content-security-policy': built.csp,
          'x-frame-options': 'DENY',
          ...COMMON,
        },
        body: built.html,
      };
    },
    data() {
      const siblings = source.siblings();
      const sources: ProcessSource[] = [{ slot: 0, resourceMetrics: source.own() }];
      for (const s of siblings)
        sources.push({ slot: s.slot, resourceMetrics: only(names, s.resourceMetrics) });
      const body = snapshot({
        catalogue,
        service: source.service,
        processes: sources.length,
        merged: source.merge(sources),
        runtime: [
          sampler.read(0),
          ...siblings.map((s) => pushedRuntime(catalogue, s.slot, s.resourceMetrics)),
        ],
      });
      return {
        status: 200,
        headers: { 'content-type': 'application/json', ...COMMON },
        body: JSON.stringify(body),
      };
    },
    close() {
      sampler.close();
    },
  };
}

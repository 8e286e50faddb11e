// Which outgoing requests are AI provider calls: host and port decide the provider and its API
// shape (asked once per origin, ../http/origins.ts), the path decides the operation. Built once at
// start-up from the public providers' hosts plus TAPWIRE_AI_ENDPOINTS.
//
// gen_ai.provider.name values follow the semantic conventions where they name the provider
// (https://opentelemetry.io/docs/specs/semconv/registry/attributes/gen-ai/#gen-ai-provider-name);
// the rest (openrouter, together_ai, fireworks, ollama) use the provider's own lowercase name.
import { AI_PROVIDERS, type AiEndpoint, type AiShape } from '../../config/index.js';

/** The wire format a provider speaks, which decides how bodies are read. */
export type Shape = AiShape;

/** gen_ai.operation.name values (semconv). */
export type Operation = 'chat' | 'text_completion' | 'embeddings' | 'generate_content';

export interface Provider {
  /** gen_ai.provider.name */
  name: string;
  shape: Shape;
}

export interface Target {
  provider: Provider;
  operation: Operation;
  /** Streaming decided by the path (Gemini's streamGenerateContent), else by the body. */
  pathStream: boolean;
  /** Model named in the path (Gemini `models/X:generateContent`, Azure deployments). */
  pathModel: string | undefined;
}

const PUBLIC: [string, string][] = [
  ['api.openai.com', 'openai'],
  ['api.anthropic.com', 'anthropic'],
  ['generativelanguage.googleapis.com', 'gcp.gemini'],
  ['api.mistral.ai', 'mistral_ai'],
  ['api.groq.com', 'groq'],
  ['api.deepseek.com', 'deepseek'],
  ['api.x.ai', 'x_ai'],
  ['openrouter.ai', 'openrouter'],
  ['api.together.xyz', 'together_ai'],
  ['api.together.ai', 'together_ai'],
  ['api.fireworks.ai', 'fireworks'],
  ['api.perplexity.ai', 'perplexity'],
  ['localhost:11434', 'ollama'],
  ['127.0.0.1:11434', 'ollama'],
];

// Azure OpenAI resources live on per-customer subdomains.
const AZURE_SUFFIXES = ['.openai.azure.com', '.cognitiveservices.azure.com', '.services.ai.azure.com'];
const AZURE: Provider = Object.freeze({ name: 'azure.ai.openai', shape: 'openai' });

/** The API a provider speaks: config's table of known providers (`gemini` is the gateway's name), else OpenAI's. */
export function shapeOf(providerName: string): Shape {
  if (providerName === 'gemini') return 'gemini';
  return AI_PROVIDERS[providerName] ?? 'openai';
}

export class Providers {
  /** Keyed by `host` and `host:port` (lowercase, IPv6 in brackets). */
  private readonly byHost = new Map<string, Provider>();

  constructor(endpoints: readonly AiEndpoint[]) {
    for (const [host, name] of PUBLIC) this.byHost.set(host, Object.freeze({ name, shape: shapeOf(name) }));
    // Configured endpoints win over the public table.
    for (const e of endpoints) {
      const key = e.port === undefined ? e.host : `${e.host}:${e.port}`;
      this.byHost.set(key, Object.freeze({ name: e.provider, shape: e.shape }));
    }
  }

  /**
   * The provider at `host` (lowercase, IPv6 in brackets) and `port`, if any: an entry naming the
   * port first (`host:443` too), then one naming the host alone. Asked once per origin
   * (../http/origins.ts), so the key is built freely.
   */
  provider(host: string, port: number): Provider | undefined {
    const found = this.byHost.get(`${host}:${port}`) ?? this.byHost.get(host);
    if (found !== undefined) return found;
    for (const suffix of AZURE_SUFFIXES) if (host.endsWith(suffix)) return AZURE;
    return undefined;
  }
}

function withoutQuery(path: string): string {
  const q = path.indexOf('?');
  let p = q === -1 ? path : path.slice(0, q);
  if (p.endsWith('/')) p = p.slice(0, -1);
  return p;
}

function target(provider: Provider, operation: Operation, pathStream = false, pathModel?: string): Target {
  return { provider, operation, pathStream, pathModel };
}

/**
 * A model named in a path segment, percent-decoded. The path is the app's (or whoever built its
 * URL): a malformed escape (`%E0%A4%A`, `%ZZ`) names no model, and must not throw, since a throw
 * here would reach the client hook's guard and end AI measurement for the whole process.
 */
function pathSegment(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** Azure OpenAI names the deployment in the path; it stands in for the model when the body has none. */
function deployment(path: string): string | undefined {
  const m = /\/openai\/deployments\/([^/]+)\//.exec(path);
  return m ? pathSegment(m[1]!) : undefined;
}

export function operationOf(provider: Provider, rawPath: string): Target | undefined {
  const path = withoutQuery(rawPath);
  switch (provider.shape) {
    case 'anthropic':
      if (path.endsWith('/messages')) return target(provider, 'chat');
      if (path.endsWith('/complete')) return target(provider, 'text_completion');
      return undefined;
    case 'gemini': {
      const m = /\/models\/([^/:]+):([A-Za-z]+)$/.exec(path);
      if (!m) return undefined;
      const model = pathSegment(m[1]!);
      if (m[2] === 'generateContent') return target(provider, 'generate_content', false, model);
      if (m[2] === 'streamGenerateContent') return target(provider, 'generate_content', true, model);
      if (m[2] === 'embedContent' || m[2] === 'batchEmbedContents') {
        return target(provider, 'embeddings', false, model);
      }
      return undefined;
    }
    case 'ollama':
      if (path.endsWith('/api/chat')) return target(provider, 'chat');
      if (path.endsWith('/api/generate')) return target(provider, 'text_completion');
      if (path.endsWith('/api/embed') || path.endsWith('/api/embeddings')) {
        return target(provider, 'embeddings');
      }
      return openaiOperation(openaiShaped(provider), path);
    default:
      return openaiOperation(provider, path);
  }
}

const OPENAI_SHAPED = new Map<string, Provider>();

/** Ollama's OpenAI-compatible routes are read as OpenAI: one such Provider per name. */
function openaiShaped(provider: Provider): Provider {
  let p = OPENAI_SHAPED.get(provider.name);
  if (p === undefined) {
    p = Object.freeze({ name: provider.name, shape: 'openai' as const });
    OPENAI_SHAPED.set(provider.name, p);
  }
  return p;
}

function openaiOperation(p: Provider, path: string): Target | undefined {
  const model = p.name === 'azure.ai.openai' ? deployment(path) : undefined;
  if (path.endsWith('/chat/completions')) return target(p, 'chat', false, model);
  if (path.endsWith('/responses')) return target(p, 'chat', false, model);
  if (path.endsWith('/completions')) return target(p, 'text_completion', false, model);
  if (path.endsWith('/embeddings')) return target(p, 'embeddings', false, model);
  return undefined;
}

// Readiness: the sidecar is ready while the app behind it accepts connections and the sidecar is
// not draining. A TCP connect, not an HTTP request: a probe every few seconds must not show up in
// the app's own request metrics and logs, and "accepts connections" is what a proxy needs.
import { connect } from 'node:net';

export const READY_TIMEOUT_MS = 1000;

export function upstreamAccepts(upstream: URL, timeoutMs = READY_TIMEOUT_MS): Promise<boolean> {
  const port = Number(upstream.port) || (upstream.protocol === 'https:' ? 443 : 80);
  const host = upstream.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

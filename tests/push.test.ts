// A sibling pushing its metrics to the holder of the /metrics port holds at most one push while the
// holder does not read (its event loop blocked: a parent in execFileSync), on Node (in this
// process) and on Bun (the same scenario, tests/fixtures/push-bound.ts, run by Bun from the source).
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Pusher } from '../exporters/push.js';
import { type BoundResult, run } from './fixtures/push-bound.js';
import { BUN, ROOT } from './support/index.js';

function check(r: BoundResult): void {
  // The kernel's socket buffers took a few pushes; then no more were collected while the holder
  // still did not read, and the sibling held one push (and part of one) at most.
  expect(r.collectedWhileBlocked).toBeGreaterThan(0);
  expect(r.collectedWhileBlocked).toBeLessThan(64);
  expect(r.collectedAfterFull).toBe(0);
  expect(r.queuedBytes).toBeGreaterThan(0);
  expect(r.queuedBytes).toBeLessThanOrEqual(r.bodyBytes + 512);
  // Reading again, the holder got every push whole, and the sibling pushed again.
  expect(r.leftover).toBe(0);
  expect(r.received).toBeGreaterThanOrEqual(r.collectedWhileBlocked + 3);
  expect(r.received).toBeLessThanOrEqual(r.collected);
}

describe('a sibling whose holder stops reading', () => {
  it('holds one push at most, and pushes again when it reads (node)', async () => {
    check(await run(Pusher));
  }, 60_000);

  it('holds one push at most, and pushes again when it reads (bun)', () => {
    const out = execFileSync(
      BUN,
      [
        '-e',
        "import { Pusher } from './exporters/push.ts'; import { run } from './tests/fixtures/push-bound.ts'; console.log(JSON.stringify(await run(Pusher)))",
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    check(JSON.parse(out) as BoundResult);
  }, 60_000);
});

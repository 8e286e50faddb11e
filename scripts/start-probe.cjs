// The app of the start probe (scripts/build.mjs eagerStart, and tests/startup.test.ts, which checks
// what it made eager): run under `node --import dist/register.js`, it lets the event loop turn, which
// starts the agent (agent/defer.ts), and keeps it turning until the work the agent leaves for the
// first turn has run (opening /metrics, the runtime metrics: core/first-turn.ts, unref'd timers a
// process that ends first never runs). A script that only let the loop turn once ended before that
// work now and then, depending on how long the agent's start kept the loop alive: the build then
// made fewer functions eager than a process that serves compiles at start, and the test failed.
// The sign: a socket among the process's descriptors (the /metrics port open, or a connection to
// its holder), which comes after the runtime metrics' turn (both wait for the first turn, the
// runtime metrics set up first). Where /proc/self/fd cannot be read, a wait of 100 ms instead.
// Ends with exit code 3 when no socket came within 10 s.
const { readdirSync, readlinkSync } = process.getBuiltinModule('node:fs');

function hasSocket() {
  return readdirSync('/proc/self/fd').some((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:');
    } catch {
      return false; // the descriptor of the directory listing itself, closed by now
    }
  });
}

let readable = true;
try {
  hasSocket();
} catch {
  readable = false;
}

if (!readable) {
  setTimeout(() => {}, 100);
} else {
  const until = Date.now() + 10_000;
  const wait = setInterval(() => {
    if (hasSocket()) {
      clearInterval(wait);
    } else if (Date.now() > until) {
      clearInterval(wait);
      process.exitCode = 3;
    }
  }, 1);
}

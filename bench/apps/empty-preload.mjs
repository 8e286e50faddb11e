// A preload that does nothing (bench/startup.mjs's `empty` mode): what `--import FILE` /
// `--preload FILE` costs a process before any agent code runs, the runtime's own share of start-up.
export {};

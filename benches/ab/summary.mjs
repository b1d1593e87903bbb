// The A/B runs of benches/ab/run.sh, summarized: per binary, the medians
// of its runs; per binary after the first, its ratio to the first in each
// round (paired in the same minutes), their median, and in how many
// rounds it was ahead.
//
//   node benches/ab/summary.mjs RESULTS.jsonl LABEL...
import { readFileSync } from 'node:fs';

const [file, ...labels] = process.argv.slice(2);
const runs = readFileSync(file, 'utf8')
  .split('\n')
  .filter((line) => line.trim())
  .map((line) => JSON.parse(line));

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fixed = (x, digits) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
// Microseconds of the write lock per accepted command, by holder.
const lockPerCommand = (run, holder) =>
  run.commands > 0 && run.lock_held_s?.[holder] !== undefined
    ? (run.lock_held_s[holder] / run.commands) * 1e6
    : NaN;

const of = (label) => runs.filter((r) => r.label === label);
const rows = labels.map((label) => {
  const mine = of(label);
  return {
    label,
    runs: mine.length,
    rate: median(mine.map((r) => r.commands_per_s)),
    p50: median(mine.map((r) => r.p50_ms)),
    p99: median(mine.map((r) => r.p99_ms)),
    cpu: median(mine.map((r) => r.cpu_ms_per_command?.server)),
    events: median(mine.map((r) => lockPerCommand(r, 'events'))),
    readModels: median(mine.map((r) => lockPerCommand(r, 'read_models'))),
    errors: mine.reduce((sum, r) => sum + (r.errors ?? 0), 0),
  };
});

console.log(`raw commit p50 (probe, per round): ${[...new Set(runs.map((r) => r.probe_p50_ms))].join(', ')} ms`);
console.log('| binary | runs | commands/s | p50 ms | p99 ms | server CPU s per 1,000 | lock µs/command, event writer | lock µs/command, read models | errors |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(
    `| ${r.label} | ${r.runs} | ${fixed(r.rate, 1)} | ${fixed(r.p50, 3)} | ${fixed(r.p99, 3)} | ${fixed(r.cpu, 4)} | ${fixed(r.events, 0)} | ${fixed(r.readModels, 0)} | ${r.errors} |`,
  );
}

// Where a command's time went, as means over each run (the server's own
// histograms, scraped around the timed run), medians over the runs: the
// client's whole round trip, the server's handling of the HTTP request,
// the command inside it, and the writer's commit of the batch it was in;
// then the CPU per command of PostgreSQL's processes (none on SQLite) and
// of the clients' process, and the machine's busy cores (the server's own
// CPU is in the table above).
const meanOf = (mine, pick) => median(mine.map((r) => pick(r) ?? NaN));
console.log(
  '| binary | mean ms: client | server, HTTP request | command | append commit | commands per batch | CPU ms/command: PostgreSQL | clients | busy cores |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const label of labels) {
  const mine = of(label);
  const cells = [
    meanOf(mine, (r) => r.mean_ms),
    meanOf(mine, (r) => r.server_mean_ms?.http_mutation),
    meanOf(mine, (r) => r.server_mean_ms?.command),
    meanOf(mine, (r) => r.server_mean_ms?.append_commit),
  ].map((x) => fixed(x, 3));
  const cpu = (key, digits) => fixed(meanOf(mine, (r) => r.cpu_ms_per_command?.[key]), digits);
  console.log(
    `| ${label} | ${cells.join(' | ')} | ${fixed(meanOf(mine, (r) => r.commands_per_batch), 2)} | ${cpu('postgres', 4)} | ${cpu('bench_process', 4)} | ${cpu('machine_busy_cores', 2)} |`,
  );
}

const [first, ...others] = labels;
for (const label of others) {
  const ratios = [];
  for (const run of of(label)) {
    const base = of(first).find((r) => r.round === run.round);
    if (base && base.commands_per_s > 0) ratios.push(run.commands_per_s / base.commands_per_s);
  }
  const ahead = ratios.filter((x) => x > 1).length;
  console.log(
    `${label} / ${first}: commands/s ratio per round ${ratios.map((x) => x.toFixed(3)).join(', ')}; median ${fixed(median(ratios), 3)}; ahead in ${ahead} of ${ratios.length}`,
  );
}

// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by function and by package.
import { readFileSync } from 'node:fs';

function where(url) {
  if (!url) return '(native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 14).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return 'node core';
  const pk = /\/packages\/([^/]+)\//.exec(url);
  if (pk) return `@latchkey/${pk[1]}`;
  return url;
}

export function summariseProfile(file, top = 25) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
  }
  // percentages are of busy time: (idle) samples are the event loop waiting, not work
  let total = 0;
  for (const [id, us] of selfUs) if (byId.get(id).callFrame.functionName !== '(idle)') total += us;
  const fns = new Map();
  const pkgs = new Map();
  for (const [id, us] of selfUs) {
    const { callFrame: cf } = byId.get(id);
    const file = cf.url ? cf.url.replace(/^file:\/\//, '') : '';
    const short = file.replace(/^.*\/node_modules\//, '').replace(/^.*\/packages\//, 'packages/');
    const key = `${cf.functionName || '(anonymous)'}  ${short ? `${short}:${cf.lineNumber + 1}` : ''}`.trim();
    fns.set(key, (fns.get(key) ?? 0) + us);
    const pkg = ['(idle)', '(program)', '(garbage collector)'].includes(cf.functionName) ? cf.functionName : where(file);
    pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + us);
  }
  fns.delete('(idle)');
  pkgs.delete('(idle)');
  const rank = (m) => [...m].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, ms: us / 1000, pct: (100 * us) / total }));
  return { busyMs: total / 1000, functions: rank(fns).slice(0, top), packages: rank(pkgs).slice(0, 15) };
}

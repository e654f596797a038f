// Summarizes a V8 .cpuprofile (node --cpu-prof): where self time went.
import fs from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface HotSpot {
  selfMs: number;
  percent: number;
  frame: string;
}

/** The newest .cpuprofile in dir, if any. */
export function newestProfile(dir: string): string | undefined {
  if (!fs.existsSync(dir)) return undefined;
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f));
  return files.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
}

/** Self time per function (name + file:line, project-relative) and per source area, highest first. */
export function hotSpots(file: string, top = 25): { totalMs: number; spots: HotSpot[]; areas: HotSpot[] } {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, number>();
  const areaUs = new Map<string, number>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node) return;
    const delta = profile.timeDeltas[i] ?? 0;
    totalUs += delta;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : '';
    const frame = `${functionName || '(anonymous)'} ${where}`.trim();
    selfUs.set(frame, (selfUs.get(frame) ?? 0) + delta);
    const area = areaOf(url, functionName);
    areaUs.set(area, (areaUs.get(area) ?? 0) + delta);
  });
  const ranked = (m: Map<string, number>, n: number): HotSpot[] => [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([frame, us]) => ({ selfMs: Math.round(us / 100) / 10, percent: Math.round((us / Math.max(1, totalUs)) * 1000) / 10, frame }));
  return { totalMs: Math.round(totalUs / 1000), spots: ranked(selfUs, top), areas: ranked(areaUs, 15) };
}

/** A coarse owner of the code: a package, a project directory, node internals or V8. */
function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const s = url.replace(/^file:\/\//, '');
  const nm = /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(s);
  if (nm) return nm[1]!;
  if (s.startsWith('node:')) return s;
  const b = /\/build\/((?:xds-server\/src\/)?[^/]+)/.exec(s);
  return b ? b[1]! : s;
}

function shortUrl(url: string): string {
  const s = url.replace(/^file:\/\//, '');
  const i = s.indexOf('/node_modules/');
  if (i >= 0) return s.slice(i + 1);
  const b = s.indexOf('/build/');
  return b >= 0 ? s.slice(b + 1) : s;
}

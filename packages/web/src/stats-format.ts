/**
 * How the stats screens write figures (percent, bytes, rates, durations)
 * and the hosts list's sparklines: a tiny SVG polyline per series, drawn
 * with `currentColor`, so a theme is only CSS.
 */
import type { StatsSnapshot } from '@pocketshell/protocol';

const NS = 'http://www.w3.org/2000/svg';

/** `42%`, `4.2%` under 10. */
export function pct(n: number): string {
  return `${n < 10 ? n.toFixed(1) : Math.round(n)}%`;
}

/** `n` bytes in the largest binary unit it reaches: whole under 1024 B or from 10 up, one decimal below 10. */
function binary(n: number, units: readonly string[], sep: string): string {
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 || v >= 10 ? Math.round(v) : v.toFixed(1)}${sep}${units[i]}`;
}

/** `512 B`, `3.4 KiB`, `1.2 GiB`. */
export function bytes(n: number): string {
  return binary(n, ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'], ' ');
}

/** A short byte count for tight places: `512B`, `13K`, `1.2M`, `3.4G` (binary units). */
export function shortBytes(n: number): string {
  return binary(n, ['B', 'K', 'M', 'G', 'T', 'P'], '');
}

/** A rate in bytes per second. */
export function rate(n: number): string {
  return `${bytes(n)}/s`;
}

/** `3 d 4 h`, `5 h 12 min`, `42 min`, `12 s`. */
export function duration(seconds: number): string {
  const s = Math.floor(seconds);
  if (s >= 86_400) return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min`;
  return `${s} s`;
}

/** Memory in use, in percent of the total. */
export function memPct(s: StatsSnapshot): number {
  return s.memory.total > 0 ? (100 * s.memory.used) / s.memory.total : 0;
}

/** Swap in use, in percent of the swap total (0 without swap). */
export function swapPct(s: StatsSnapshot): number {
  return s.memory.swapTotal > 0 ? (100 * s.memory.swapUsed) / s.memory.swapTotal : 0;
}

/** Received and sent bytes per second over every interface. */
export function netRates(s: StatsSnapshot): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const n of s.network) {
    rx += n.rx;
    tx += n.tx;
  }
  return { rx, tx };
}

/** A filesystem's use in percent. */
export function diskPct(d: { size: number; used: number }): number {
  return d.size > 0 ? (100 * d.used) / d.size : 0;
}

/** At or past this use a filesystem is flagged. */
export const DISK_WARN_PCT = 90;

/** The mounts at or past `DISK_WARN_PCT`, fullest first. */
export function fullDisks(s: StatsSnapshot): { mount: string; pct: number }[] {
  return s.disks
    .map((d) => ({ mount: d.mount, pct: diskPct(d) }))
    .filter((d) => d.pct >= DISK_WARN_PCT)
    .sort((a, b) => b.pct - a.pct);
}

/**
 * A sparkline of `values` (oldest first) as an SVG polyline, `max` the top
 * of the scale (the values' own maximum when omitted, at least 1).
 */
export function sparkline(values: readonly number[], max?: number): SVGSVGElement {
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('viewBox', '0 0 100 24');
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('aria-hidden', 'true');
  const top = max ?? Math.max(1, ...values);
  const n = values.length;
  if (n > 0) {
    const points = values
      .map((v, i) => {
        const x = n === 1 ? 100 : (100 * i) / (n - 1);
        const y = 23 - (22 * Math.min(top, Math.max(0, v))) / top;
        return `${x.toFixed(1)},${y.toFixed(1)}`;
      })
      .join(' ');
    const area = document.createElementNS(NS, 'polygon');
    area.setAttribute('points', `0,24 ${points} 100,24`);
    area.setAttribute('class', 'spark-area');
    const line = document.createElementNS(NS, 'polyline');
    line.setAttribute('points', points);
    line.setAttribute('class', 'spark-line');
    line.setAttribute('vector-effect', 'non-scaling-stroke');
    svg.append(area, line);
  }
  return svg;
}

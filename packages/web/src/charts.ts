/**
 * Time-series charts of the Monitor screen on uPlot (a ~50 KB canvas
 * chart that draws thousands of points in a millisecond or two, so a
 * phone redraws a live chart every second without a stutter). A `Chart`
 * owns one uPlot: its colours come from the theme's CSS variables and are
 * read again when the theme flips, its width follows its container, and
 * `set` replaces its series and data (live ring buffers or a history
 * range). Touch drag-to-zoom is off: on a phone the finger scrolls the page.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { bytes } from './stats-format.ts';
import { h } from './ui.ts';

/** How a chart's y values read. */
export type Unit = 'pct' | 'rate' | 'num';

/** One line. `color` is a CSS variable name (`--chart-1`) or a colour. */
export interface Line {
  label: string;
  color: string;
  /** A light fill under the line. */
  fill?: boolean;
  dash?: boolean;
}

const HEIGHT = 150;

function cssColor(name: string): string {
  if (!name.startsWith('--')) return name;
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

function withAlpha(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (!m) return color;
  const n = Number.parseInt(m[1] as string, 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

function tick(unit: Unit, v: number): string {
  if (unit === 'pct') return `${Math.round(v)}%`;
  if (unit === 'rate') return bytes(v).replace(/\.0 /, ' ');
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

/** Per-core colours: evenly spread hues, readable on both themes. */
export function coreColor(i: number, n: number): string {
  return `hsl(${Math.round((360 * i) / Math.max(1, n)) % 360} 65% 55%)`;
}

export class Chart {
  readonly el: HTMLElement;
  readonly #unit: Unit;
  #lines: Line[] = [];
  #data: uPlot.AlignedData = [[]];
  #plot: uPlot | undefined;
  #legend: boolean;
  readonly #resize: ResizeObserver;
  readonly #theme: MediaQueryList;
  readonly #onTheme = () => this.#build();

  constructor(unit: Unit, testid: string) {
    this.#unit = unit;
    this.#legend = true;
    this.el = h('div', { class: 'chart', 'data-testid': testid });
    this.#resize = new ResizeObserver(() => {
      const width = this.#width();
      if (!this.#plot) {
        if (width > 0) this.#build();
        return;
      }
      if (width > 0 && Math.abs(width - this.#plot.width) > 1) this.#plot.setSize({ width, height: HEIGHT });
    });
    this.#resize.observe(this.el);
    this.#theme = matchMedia('(prefers-color-scheme: light)');
    this.#theme.addEventListener('change', this.#onTheme);
  }

  /** Points drawn (of the first series), for the tests and the empty state. */
  get points(): number {
    return this.#data[0]?.length ?? 0;
  }

  /** Sets the lines and their data: `x` in seconds, one `ys` array per line. */
  set(lines: Line[], x: readonly number[], ys: readonly (readonly (number | null)[])[], legend = true): void {
    const shape = lines.map((l) => `${l.label}|${l.color}|${l.fill}|${l.dash}`).join();
    const same =
      this.#plot !== undefined &&
      legend === this.#legend &&
      shape === this.#lines.map((l) => `${l.label}|${l.color}|${l.fill}|${l.dash}`).join();
    this.#lines = lines;
    this.#legend = legend;
    this.#data = [x as number[], ...(ys as (number | null)[][])] as uPlot.AlignedData;
    this.el.dataset.points = String(x.length);
    if (same) this.#plot?.setData(this.#data);
    else this.#build();
  }

  #width(): number {
    return Math.floor(this.el.clientWidth);
  }

  #build(): void {
    this.#plot?.destroy();
    this.#plot = undefined;
    const width = this.#width();
    if (width <= 0) return; // built when the container gets a width (the ResizeObserver)
    const muted = cssColor('--muted');
    const grid = cssColor('--border');
    const unit = this.#unit;
    const axis: uPlot.Axis = {
      stroke: muted,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1 },
      font: '11px system-ui, sans-serif',
    };
    this.#plot = new uPlot(
      {
        width,
        height: HEIGHT,
        legend: { show: this.#legend, live: false },
        cursor: { drag: { x: false, y: false }, points: { show: false } },
        scales: {
          x: { time: true },
          y: {
            range: (_u, _min, max) => (unit === 'pct' ? [0, 100] : [0, max > 0 ? max * 1.1 : 1]),
          },
        },
        axes: [
          { ...axis, space: 60 },
          {
            ...axis,
            size: unit === 'rate' ? 64 : 44,
            values: (_u, vals) => vals.map((v) => tick(unit, v)),
          },
        ],
        series: [
          {},
          ...this.#lines.map((l): uPlot.Series => {
            const color = cssColor(l.color);
            return {
              label: l.label,
              stroke: color,
              width: 1.5,
              ...(l.fill ? { fill: withAlpha(color, 0.15) } : {}),
              ...(l.dash ? { dash: [4, 4] } : {}),
              points: { show: false },
              spanGaps: false,
            };
          }),
        ],
      },
      this.#data,
      this.el,
    );
  }

  /** Removes the chart. Idempotent. */
  destroy(): void {
    this.#resize.disconnect();
    this.#theme.removeEventListener('change', this.#onTheme);
    this.#plot?.destroy();
    this.#plot = undefined;
  }
}

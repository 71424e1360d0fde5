/**
 * A small dependency-free SVG bar chart for the benchmark results: one panel
 * per measure, one horizontal bar per contender, each panel scaled to its
 * own largest value, with the value printed at the bar's end. The terminal
 * bench writes it to docs/benchmarks-terminal.svg beside the table.
 */

/** One panel: a measure, its unit, and a value per contender (`null`: not measured). */
export interface ChartPanel {
  title: string;
  unit: string;
  /** Whether a smaller value is better (said in the panel title). */
  lowerIsBetter: boolean;
  values: readonly (number | null)[];
  /** Per contender, the spread over runs (min, max) drawn as a whisker across the bar's end. */
  ranges?: readonly (readonly [number, number] | null)[];
}

const COLORS = ['#888888', '#c0504d', '#4f81bd', '#2e8b57', '#8064a2', '#f79646'];

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The SVG document for `panels` over the contenders `labels`. */
export function barChart(labels: readonly string[], panels: readonly ChartPanel[]): string {
  const width = 760;
  const labelWidth = 230;
  const barMax = width - labelWidth - 110;
  const barHeight = 16;
  const gap = 4;
  const panelHeight = 28 + labels.length * (barHeight + gap) + 14;
  const height = panels.length * panelHeight + 10;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12" role="img">`,
    '<title>PocketShell terminal benchmark: raw PTY, OpenSSH and PocketShell side by side</title>',
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
  ];
  panels.forEach((panel, p) => {
    const top = p * panelHeight + 10;
    const hint = panel.lowerIsBetter ? 'lower is better' : 'higher is better';
    out.push(
      `<text x="10" y="${top + 14}" font-weight="bold">${escapeXml(panel.title)} (${escapeXml(panel.unit)}, ${hint})</text>`,
    );
    const max = Math.max(
      ...panel.values.map((v) => v ?? 0),
      ...(panel.ranges ?? []).map((r) => r?.[1] ?? 0),
      Number.MIN_VALUE,
    );
    labels.forEach((label, i) => {
      const y = top + 24 + i * (barHeight + gap);
      const value = panel.values[i] ?? null;
      const w = value === null ? 0 : Math.max(1, (value / max) * barMax);
      out.push(`<text x="10" y="${y + 12}">${escapeXml(label)}</text>`);
      if (value === null) {
        out.push(`<text x="${labelWidth}" y="${y + 12}" fill="#999999">not measured</text>`);
        return;
      }
      const range = panel.ranges?.[i] ?? null;
      const at = (v: number) => labelWidth + Math.max(1, (v / max) * barMax);
      const fmt = (v: number) => (v < 10 ? v.toFixed(2) : v.toFixed(1));
      out.push(
        `<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${COLORS[i % COLORS.length]}"/>`,
      );
      if (range) {
        const [lo, hi] = [at(range[0]).toFixed(1), at(range[1]).toFixed(1)];
        const mid = y + barHeight / 2;
        out.push(
          `<path d="M${lo} ${mid}H${hi}M${lo} ${y + 3}V${y + barHeight - 3}M${hi} ${y + 3}V${y + barHeight - 3}" stroke="#222222" stroke-width="1.2" fill="none"/>`,
        );
      }
      const textX = range ? Math.max(labelWidth + w, at(range[1])) : labelWidth + w;
      out.push(
        `<text x="${(textX + 6).toFixed(1)}" y="${y + 12}">${fmt(value)}${range ? ` (${fmt(range[0])}–${fmt(range[1])})` : ''}</text>`,
      );
    });
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

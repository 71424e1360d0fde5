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
    const max = Math.max(...panel.values.map((v) => v ?? 0), Number.MIN_VALUE);
    labels.forEach((label, i) => {
      const y = top + 24 + i * (barHeight + gap);
      const value = panel.values[i] ?? null;
      const w = value === null ? 0 : Math.max(1, (value / max) * barMax);
      out.push(`<text x="10" y="${y + 12}">${escapeXml(label)}</text>`);
      if (value === null) {
        out.push(`<text x="${labelWidth}" y="${y + 12}" fill="#999999">not measured</text>`);
        return;
      }
      out.push(
        `<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${COLORS[i % COLORS.length]}"/>`,
        `<text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + 12}">${value < 10 ? value.toFixed(2) : value.toFixed(1)}</text>`,
      );
    });
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

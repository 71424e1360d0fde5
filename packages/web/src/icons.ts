/**
 * The few icons of the UI as inline SVG built with the DOM (no icon font,
 * nothing the system fonts might lack), drawn with `currentColor`.
 */
const NS = 'http://www.w3.org/2000/svg';

const PATHS: Record<string, string[]> = {
  hosts: ['M3 5h18v11H3z', 'M8 20h8', 'M12 16v4'],
  scan: ['M4 9V4h5', 'M15 4h5v5', 'M20 15v5h-5', 'M9 20H4v-5', 'M8 12h8'],
  devices: ['M7 3h10v18H7z', 'M11 18h2'],
};

export function icon(name: keyof typeof PATHS): SVGSVGElement {
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '24');
  svg.setAttribute('height', '24');
  svg.setAttribute('fill', 'none');
  svg.setAttribute('stroke', 'currentColor');
  svg.setAttribute('stroke-width', '2');
  svg.setAttribute('stroke-linecap', 'round');
  svg.setAttribute('stroke-linejoin', 'round');
  svg.setAttribute('aria-hidden', 'true');
  for (const d of PATHS[name] ?? []) {
    const path = document.createElementNS(NS, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

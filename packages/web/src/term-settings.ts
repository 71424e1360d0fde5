/**
 * The terminal's look, chosen per device (kept in the device store): a font
 * size, a font family from a short list of monospace stacks common on
 * phones and desktops, and a colour theme — `auto` follows the app's light
 * or dark scheme, the others are fixed palettes — and predictive echo:
 * `auto` (shown when the link is slow), `always`, `never`.
 */
import type { PredictMode } from '@pocketshell/protocol';
import type { ITheme } from '@xterm/xterm';

export const FONTS = {
  system: {
    label: 'System monospace',
    stack: "ui-monospace, 'SF Mono', Menlo, 'DejaVu Sans Mono', 'Roboto Mono', 'Liberation Mono', monospace",
  },
  dejavu: { label: 'DejaVu Sans Mono', stack: "'DejaVu Sans Mono', monospace" },
  liberation: { label: 'Liberation Mono', stack: "'Liberation Mono', 'Cousine', monospace" },
  noto: { label: 'Noto Sans Mono', stack: "'Noto Sans Mono', 'Droid Sans Mono', monospace" },
  courier: { label: 'Courier', stack: "'Courier New', Courier, monospace" },
} as const;
export type FontId = keyof typeof FONTS;

const SOLARIZED = {
  black: '#073642',
  red: '#dc322f',
  green: '#859900',
  yellow: '#b58900',
  blue: '#268bd2',
  magenta: '#d33682',
  cyan: '#2aa198',
  white: '#eee8d5',
  brightBlack: '#586e75',
  brightRed: '#cb4b16',
  brightGreen: '#586e75',
  brightYellow: '#657b83',
  brightBlue: '#839496',
  brightMagenta: '#6c71c4',
  brightCyan: '#93a1a1',
  brightWhite: '#fdf6e3',
};

export const THEMES: Record<string, { label: string; colors?: ITheme }> = {
  auto: { label: 'Follow the app (dark or light)' },
  dark: {
    label: 'Dark',
    colors: {
      background: '#0b0d11',
      foreground: '#e6e6e6',
      cursor: '#5ad1a0',
      cursorAccent: '#0b0d11',
      selectionBackground: 'rgba(90, 209, 160, 0.35)',
    },
  },
  light: {
    label: 'Light',
    colors: {
      background: '#ffffff',
      foreground: '#1d2330',
      cursor: '#137a52',
      cursorAccent: '#ffffff',
      selectionBackground: 'rgba(19, 122, 82, 0.25)',
      black: '#1d2330',
      white: '#8a8f98',
      brightWhite: '#5b6270',
      yellow: '#8a6d00',
      brightYellow: '#7a5d00',
    },
  },
  'solarized-dark': {
    label: 'Solarized dark',
    colors: {
      ...SOLARIZED,
      background: '#002b36',
      foreground: '#839496',
      cursor: '#93a1a1',
      cursorAccent: '#002b36',
      selectionBackground: 'rgba(147, 161, 161, 0.3)',
    },
  },
  'solarized-light': {
    label: 'Solarized light',
    colors: {
      ...SOLARIZED,
      background: '#fdf6e3',
      foreground: '#657b83',
      cursor: '#586e75',
      cursorAccent: '#fdf6e3',
      selectionBackground: 'rgba(88, 110, 117, 0.25)',
    },
  },
  'high-contrast': {
    label: 'High contrast',
    colors: {
      background: '#000000',
      foreground: '#ffffff',
      cursor: '#ffff00',
      cursorAccent: '#000000',
      selectionBackground: 'rgba(255, 255, 0, 0.4)',
    },
  },
};
export type ThemeId = keyof typeof THEMES;

/** The predictive echo choices as the settings sheet names them. */
export const PREDICT_LABELS: Record<PredictMode, string> = {
  auto: 'On slow links (auto)',
  always: 'Always',
  never: 'Never',
};

export interface TermSettings {
  fontSize: number;
  font: FontId;
  theme: ThemeId;
  predict: PredictMode;
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** xterm's colours for a theme; `auto` reads the app's current scheme. */
export function termTheme(id: ThemeId): ITheme {
  const fixed = THEMES[id]?.colors;
  if (fixed) return fixed;
  return {
    background: cssVar('--term-bg'),
    foreground: cssVar('--term-fg'),
    cursor: cssVar('--accent'),
    cursorAccent: cssVar('--term-bg'),
    selectionBackground: cssVar('--selection'),
  };
}

/**
 * The app's route for an alert a person taps (a notification, a toast, a
 * history row): a session's terminal, the host's Monitor or its alerts
 * screen, or an agent session's chat (its approval waiting there) — the
 * routes of main.ts. Shared by the service worker and the app.
 */
import type { AlertPushBody } from '@pocketshell/protocol';

export function alertRoute(host: string, alert: Pick<AlertPushBody, 'open' | 'session'>): string {
  const id = encodeURIComponent(host);
  if (alert.open === 'session' && alert.session) return `#/t/${id}/${encodeURIComponent(alert.session)}`;
  if (alert.open === 'agent' && alert.session) return `#/a/${id}/${encodeURIComponent(alert.session)}`;
  if (alert.open === 'agent') return `#/host/${id}/agents`;
  if (alert.open === 'monitor') return `#/host/${id}/monitor`;
  return `#/host/${id}/alerts`;
}

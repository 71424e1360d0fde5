/**
 * Scan: reads a pairing QR code from the camera inside the page (for when
 * the phone's own camera app is not at hand). Frames from `getUserMedia`
 * are drawn to a canvas a few times a second and decoded with jsQR; a
 * pairing URL of this app opens the pairing screen.
 */
import { parsePairUrl } from '@pocketshell/protocol';
import jsQR from 'jsqr';
import type { App } from '../app.ts';
import { fill, h } from '../ui.ts';
import { frame } from './chrome.ts';

export function scanView(app: App): () => void {
  const video = h('video', { class: 'scan-video', playsinline: true, muted: true });
  const status = h('p', { class: 'muted' }, 'Point the camera at the QR code your computer shows.');
  const body = h('div', { class: 'stack' }, h('div', { class: 'scan-frame' }, video), status);
  const { dispose } = frame(app, 'Scan', body, { tab: 'scan' });
  let stream: MediaStream | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let stopped = false;
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const tick = () => {
    if (!ctx || video.readyState < 2) return;
    const w = video.videoWidth;
    const hgt = video.videoHeight;
    if (!w || !hgt) return;
    const scale = Math.min(1, 640 / Math.max(w, hgt));
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(hgt * scale);
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const code = jsQR(img.data, img.width, img.height, { inversionAttempts: 'dontInvert' });
    if (!code) return;
    try {
      const link = parsePairUrl(code.data);
      const url = new URL(code.data);
      if (url.origin === location.origin) app.go(url.hash);
      else location.href = code.data;
      void link;
    } catch {
      status.textContent = 'That QR code is not a PocketShell pairing code.';
    }
  };
  if (!navigator.mediaDevices?.getUserMedia) {
    fill(
      body,
      h(
        'p',
        { class: 'error' },
        'This browser cannot use the camera here. Open the code with your camera app.',
      ),
    );
  } else {
    navigator.mediaDevices
      .getUserMedia({ video: { facingMode: 'environment' }, audio: false })
      .then(async (s) => {
        if (stopped) {
          for (const t of s.getTracks()) t.stop();
          return;
        }
        stream = s;
        video.srcObject = s;
        await video.play().catch(() => {});
        timer = setInterval(tick, 250);
      })
      .catch(() => {
        status.className = 'error';
        status.textContent = 'No camera access. Allow it, or open the code with your camera app.';
      });
  }
  return () => {
    stopped = true;
    clearInterval(timer);
    for (const t of stream?.getTracks() ?? []) t.stop();
    dispose();
  };
}

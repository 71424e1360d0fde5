/** Renders a pairing URL as a QR code for a terminal (Unicode half blocks). */

/**
 * `qrcode` (with pngjs, ≈60 modules) is loaded on the first QR code, not at
 * import: a running daemon only needs it while someone pairs.
 */
export async function terminalQr(text: string): Promise<string> {
  const { default: QRCode } = await import('qrcode');
  return QRCode.toString(text, { type: 'utf8', errorCorrectionLevel: 'L', margin: 2 });
}

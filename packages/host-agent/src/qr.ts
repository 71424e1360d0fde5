/** Renders a pairing URL as a QR code for a terminal (Unicode half blocks). */
import QRCode from 'qrcode';

export async function terminalQr(text: string): Promise<string> {
  return QRCode.toString(text, { type: 'utf8', errorCorrectionLevel: 'L', margin: 2 });
}

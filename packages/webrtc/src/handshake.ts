/**
 * The signed offer/answer of docs/protocol.md §6. The functions moved to
 * `@pocketshell/protocol` (sdp-handshake.ts) so the browser's device signs
 * and checks exactly what the host does; this module re-exports them so
 * the WebRTC layer's users see no change.
 */
export {
  type MakeAnswerInput,
  type MakeOfferInput,
  makeAnswer,
  makeOffer,
  OFFER_NONCE_BYTES,
  type VerifiedAnswer,
  type VerifiedOffer,
  type VerifyAnswerContext,
  type VerifyOfferContext,
  verifyAnswer,
  verifyOffer,
} from '@pocketshell/protocol';

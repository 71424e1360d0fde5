/**
 * Runs the engine conformance suite (`engine-conformance.ts`) against every
 * engine on 127.0.0.1: werift with itself, node-datachannel with itself, and
 * both mixed pairs, so either engine can sit at either end of a connection.
 */
import { engineConformance } from '../testing/engine-conformance.ts';
import { loopbackEngine } from '../testing/testing.ts';
import { NodeDataChannelEngine } from './node-datachannel-engine.ts';

const werift = loopbackEngine();
const ndc = new NodeDataChannelEngine({ bindAddress: '127.0.0.1' });

engineConformance({ offerer: werift, answerer: werift });
engineConformance({ offerer: ndc, answerer: ndc });
engineConformance({ offerer: werift, answerer: ndc });
engineConformance({ offerer: ndc, answerer: werift });

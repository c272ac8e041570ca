// Pieces of DNS messages that the DNS tests build by hand.
import type { OptAnswer } from 'dns-packet';

/** The EDNS OPT pseudo-record of a query: `udpPayloadSize` advertised, no options, DO clear. */
export function ednsOpt(udpPayloadSize: number, ednsVersion = 0): OptAnswer {
  return {
    type: 'OPT',
    name: '.',
    udpPayloadSize,
    extendedRcode: 0,
    ednsVersion,
    flags: 0,
    flag_do: false,
    options: [],
  };
}

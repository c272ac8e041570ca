// NetworkPolicy in the real lab, nftables mode: the shared suite of test/helpers/netpol-suite.ts.
import { netpolSuite } from '../helpers/netpol-suite.js';

netpolSuite('nftables');

// NetworkPolicy in the real lab, iptables mode: the shared suite of test/helpers/netpol-suite.ts.
import { netpolSuite } from '../helpers/netpol-suite.js';

netpolSuite('iptables');

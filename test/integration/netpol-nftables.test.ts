// NetworkPolicy in the real lab, nftables mode on the eBPF data path (`datapath: ebpf`): the
// shared suite of test/helpers/netpol-suite.ts, unchanged.
import { netpolSuite } from '../helpers/netpol-suite.js';

netpolSuite('nftables', 'ebpf');

/** Test and benchmark helpers of the collective lib: network namespaces as cluster nodes. */
export {
  NETNS_PREFIX,
  NetnsCluster,
  netnsUnavailable,
  parseRate,
  removeStaleNamespaces,
  type NetnsClusterOptions,
  type NetnsNode,
} from './netns-cluster.ts';
export { measureRawRing, type RawRingResult } from './tcp-ring.ts';
